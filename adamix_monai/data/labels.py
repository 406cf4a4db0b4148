# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Label checks, one family for every dataset: class values, single-channel label files, binary lesion masks.

Each check either returns the label in the form the pipelines use, or raises a ``ValueError`` that names the file
(the MetaTensor's ``filename_or_obj``, or the ``<key>_path`` entry the readers set) and what was expected.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import convert_to_tensor

__all__ = ["CheckLabelsd", "EnsureBinaryMask", "EnsureBinaryMaskd", "binarize_255", "single_channel_label"]


class CheckLabelsd(MapTransform):
    """Check that labels only hold the expected values; the error names the case file.

    The file is taken from ``data[f"{key}_path"]`` (set by :class:`~adamix_monai.data.io.LoadH5d`), else from
    the label's MONAI metadata (``filename_or_obj``).

    Args:
        keys: label keys.
        values: the allowed values (``(0, 1)`` for LA).
        allow_missing_keys: skip absent keys (unlabeled items).

    Raises:
        ValueError: (when called) naming the key, the file, the unexpected values and the allowed ones.
    """

    def __init__(self, keys: KeysCollection, values: Sequence[int] = (0, 1), allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.values = tuple(int(v) for v in values)
        contiguous = bool(self.values) and sorted(set(self.values)) == list(range(min(self.values), max(self.values) + 1))
        self._range = (min(self.values), max(self.values)) if contiguous else None

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        allowed = torch.as_tensor(self.values)
        for key in self.key_iterator(d):
            label = torch.as_tensor(d[key])
            if self._range is not None and not label.is_floating_point() and label.numel():
                if self._range[0] <= int(label.min()) and int(label.max()) <= self._range[1]:
                    continue  # integer labels within a contiguous set of values: two reductions suffice
            outside = ~torch.isin(label, allowed.to(label.dtype))  # no sort of the whole label (torch.unique)
            if bool(outside.any()):
                bad = torch.unique(label[outside])
                meta = getattr(d[key], "meta", {}) or {}
                source = d.get(f"{key}_path", meta.get("filename_or_obj", "an item without a file path"))
                shown = ", ".join(str(v) for v in bad[:8].tolist()) + (", ..." if bad.numel() > 8 else "")
                raise ValueError(
                    f"CheckLabelsd: label '{key}' of '{source}' holds values {{{shown}}}, expected only "
                    f"{set(self.values)}. A label map must use class indices (a {{0, 255}} mask needs dividing by 255)."
                )
        return d


def single_channel_label(label: torch.Tensor, path: str | Path) -> torch.Tensor:
    """A label file's array as one channel of integer values: an RGB mask with equal channels is collapsed.

    Raises:
        ValueError: naming the file when the channels differ or a value is not an integer.
    """
    if label.shape[0] > 1:
        if not bool((label == label[:1]).all()):
            raise ValueError(
                f"label '{path}' has {label.shape[0]} different channels; expected one channel of class indices "
                "(or an RGB mask with equal channels)."
            )
        label = label[:1]
    if label.is_floating_point() and not torch.equal(label, torch.round(label)):
        raise ValueError(f"label '{path}' holds non-integer values; expected class indices.")
    return label


def binarize_255(label: torch.Tensor) -> torch.Tensor:
    """A ``{0, 255}`` mask as ``{0, 1}``; any other label unchanged."""
    values = torch.unique(label)
    if values.numel() and int(values.max()) == 255 and bool(torch.isin(values, torch.tensor([0, 255])).all()):
        return (label > 0).to(label.dtype)
    return label


def _source(mask: Any, fallback: str) -> str:
    if isinstance(mask, MetaTensor) and mask.meta.get("filename_or_obj"):
        return f"'{mask.meta['filename_or_obj']}'"
    return fallback


class EnsureBinaryMask(Transform):
    """A loaded lesion mask as one channel with values {0, 1}, or a clear error.

    Accepted: one channel with values in {0, 255} or {0, 1}; gray + alpha (the alpha is dropped); RGB or RGBA
    whose colour channels are identical (collapsed to one, the alpha ignored). Rejected with a ``ValueError``
    naming the file (the MetaTensor's ``filename_or_obj``): colour channels that differ, other values (e.g. a JPEG
    round trip leaves 1, 254 and others), other channel counts.

    The input is channel-first, as after ``LoadImaged(..., ensure_channel_first=True)``; the output keeps its
    dtype and metadata.
    """

    def __call__(self, mask: Any, source: str | None = None) -> torch.Tensor:
        """
        Args:
            mask: the channel-first mask, (C, H, W).
            source: how errors name the mask (default: the file the MetaTensor came from, quoted).

        Returns:
            The (1, H, W) mask with values {0, 1}.

        Raises:
            ValueError: when the mask is not a binary single-channel (or gray colour) mask.
        """
        x = convert_to_tensor(mask, track_meta=get_track_meta())
        name = source or _source(x, "the mask")
        if x.ndim < 3:
            raise ValueError(f"EnsureBinaryMask: {name} has shape {tuple(x.shape)}; expected channel-first (C, H, W).")
        channels = x.shape[0]
        if channels in (3, 4):
            colour = x[:3]
            differ = (colour != colour[:1]).any(0)
            if bool(differ.any()):
                raise ValueError(
                    f"EnsureBinaryMask: {name} is a colour mask ({channels} channels) whose channels differ at "
                    f"{int(differ.sum())} pixels; expected a single-channel lesion mask with values {{0, 255}} or "
                    "{0, 1} (a gray RGB mask is accepted)."
                )
        elif channels not in (1, 2):
            raise ValueError(f"EnsureBinaryMask: {name} has {channels} channels; expected 1 (or gray RGB/RGBA).")
        x = x[:1]
        values = torch.unique(torch.as_tensor(x))
        found = set(values.tolist())
        if not (found <= {0, 1} or found <= {0, 255}):
            shown = ", ".join(f"{v:g}" for v in values[:8].tolist()) + (", ..." if len(values) > 8 else "")
            raise ValueError(
                f"EnsureBinaryMask: {name} has values {{{shown}}} ({len(values)} distinct); expected {{0, 255}} or "
                "{0, 1}. Masks must be binary and lossless (PNG; a JPEG round trip adds values such as 1 and 254)."
            )
        return (x > 0).to(x.dtype)


class EnsureBinaryMaskd(MapTransform):
    """Dictionary version of :class:`EnsureBinaryMask`, optionally checking that the mask and the image have the
    same spatial size (a mismatch would be resized into a silent misalignment).

    Args:
        keys: mask keys.
        image_key: the image the masks must match in size, None to skip the check.
        allow_missing_keys: skip absent keys.

    Raises:
        ValueError: from :class:`EnsureBinaryMask`, or naming both files when the sizes differ.
    """

    def __init__(self, keys: KeysCollection, image_key: str | None = None, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.ensure = EnsureBinaryMask()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            name = _source(d[key], f"key '{key}'")
            d[key] = self.ensure(d[key], source=name)
            image = d.get(self.image_key) if self.image_key is not None else None
            if image is not None and tuple(image.shape[1:]) != tuple(d[key].shape[1:]):
                raise ValueError(
                    f"EnsureBinaryMaskd: mask {name} is {tuple(d[key].shape[1:])} but image "
                    f"{_source(image, repr(self.image_key))} is {tuple(image.shape[1:])}; they must have the same size."
                )
        return d
