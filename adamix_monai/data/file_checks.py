# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Checks of a dataset's files before a run uses them, so a damaged file stops the run at its start, named.

The paper's h5 files (:func:`check_h5_items`), ISIC image/mask pairs (:func:`check_pairs`) and the images of a
datalist or an inference input (:func:`image_problem`), with the loaders' own rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import torch
from PIL import Image

from adamix_monai.data.io import RGB_MODES, pil_mask_mode
from adamix_monai.data.labels import EnsureBinaryMask
from adamix_monai.errors import DatasetError

__all__ = ["check_h5_items", "check_pairs", "image_problem"]

_MAX_SHOWN = 10


def _problem(item: dict[str, Any], num_classes: int, image_key: str, label_key: str, ndim: int | None) -> str:
    path = item["image"]
    try:
        with h5py.File(path, "r") as f:
            image = f.get(image_key)
            if not isinstance(image, h5py.Dataset):
                return f"'{path}' has no dataset '{image_key}' (it holds {sorted(f.keys())})"
            if image.dtype.kind != "f":
                return f"'{path}': image is {image.dtype}; expected floats (the preprocessed files hold float32)"
            if ndim is not None and image.ndim != ndim:
                return f"'{path}': image is {image.ndim}D (shape {tuple(image.shape)}); expected {ndim}D"
            if "label" not in item:
                return ""
            if not np.all(np.isfinite(image[()])):
                return f"'{path}': image holds NaN or infinite values"
            label = f.get(label_key)
            if not isinstance(label, h5py.Dataset):
                return f"'{path}' has no dataset '{label_key}' (it holds {sorted(f.keys())})"
            if tuple(label.shape) != tuple(image.shape):
                return f"'{path}': image shape {tuple(image.shape)} differs from label shape {tuple(label.shape)}"
            values = np.unique(label[()])
    except OSError as e:  # missing, truncated or not HDF5
        return f"'{path}' cannot be read as HDF5 ({str(e).splitlines()[0][:100]})"
    if values.dtype.kind == "f" and not np.all(values == np.round(values)):
        return f"'{path}': label holds non-integer values (e.g. {values[values != np.round(values)][0]:g})"
    bad = [int(v) for v in values if not 0 <= v < num_classes]
    if bad:
        return f"'{path}': label holds {bad[:5]}; expected classes 0..{num_classes - 1}"
    return ""


def check_h5_items(
    items: Sequence[dict[str, Any]],
    num_classes: int,
    source: str,
    image_key: str = "image",
    label_key: str = "label",
    ndim: int | None = None,
) -> list[dict[str, Any]]:
    """Read each item's h5 file once: the image must be floats of ``ndim`` dimensions, and a labeled item's image
    must be finite and its label must have the image's shape and hold only ``0..num_classes-1`` (an unlabeled
    item's header alone is read: the unlabeled streams are large).

    Args:
        items: ``{"image": path[, "label": path]}`` (the paper's files hold image and label in one h5).
        num_classes: classes, background included.
        source: what the items are, for the message (``ACDC labeled slices``).
        image_key, label_key: the datasets' names.
        ndim: the image's dimensions (2 for ACDC slices, 3 for volumes); None: any.

    Returns:
        ``items`` unchanged.

    Raises:
        DatasetError: listing every unusable file (up to 10 shown).
    """
    problems = [p for p in (_problem(dict(i), num_classes, image_key, label_key, ndim) for i in items) if p]
    if problems:
        more = f" ... and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
        raise DatasetError(f"{source}: {len(problems)} unusable file(s): " + "; ".join(problems[:_MAX_SHOWN]) + more)
    return list(items)


def _pair_problem(item: Mapping[str, str]) -> str:
    try:
        with Image.open(item["image"]) as image:
            mode, size = image.mode, image.size
    except (OSError, ValueError) as e:  # unreadable, or not an image PIL knows (e.g. a NIfTI)
        return f"image '{item['image']}' cannot be read as an image ({type(e).__name__})"
    if mode not in RGB_MODES:
        return f"image '{item['image']}' has PIL mode '{mode}' (16-bit or float); expected 8-bit RGB (JPEG or PNG)"
    try:
        with Image.open(item["label"]) as mask:
            if mask.size != size:
                return f"mask '{item['label']}' is {mask.size[0]}x{mask.size[1]}, its image {size[0]}x{size[1]}"
            array = np.asarray(pil_mask_mode(mask))
    except (OSError, ValueError) as e:
        return f"mask '{item['label']}' cannot be read as an image ({type(e).__name__})"
    channel_first = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    try:
        EnsureBinaryMask()(torch.tensor(channel_first), source=f"'{item['label']}'")
    except ValueError as e:
        return str(e).removeprefix("EnsureBinaryMask: ")
    return ""


def check_pairs(items: Sequence[Mapping[str, str]], source: str, shown: int = 10) -> list[Mapping[str, str]]:
    """Check image/mask pairs before a run uses them, with the loaders' own rules: the image is 8-bit and readable,
    the mask has the image's size and is binary (:class:`EnsureBinaryMask`). Image pixels are not decoded (PIL
    reads the header), masks are.

    Args:
        items: ``{"image": path, "label": path}`` pairs.
        source: what the items are, for the message (``ISIC '<root>' val split``).
        shown: problems listed in the message.

    Returns:
        ``items`` unchanged.

    Raises:
        DatasetError: listing every unusable pair (up to ``shown``).
    """
    problems = [p for p in map(_pair_problem, items) if p]
    if problems:
        more = f" ... and {len(problems) - shown} more" if len(problems) > shown else ""
        raise DatasetError(f"{source}: {len(problems)} unusable pair(s): " + "; ".join(problems[:shown]) + more)
    return list(items)


def image_problem(image: torch.Tensor, channels: int | None = None, dims: Sequence[int] | None = None) -> str:
    """Why a bundle cannot use a channel-first image (its spatial dimensions, its channels, non-finite values),
    or '' when it can.

    Args:
        image: ``(C, *spatial)``.
        channels: the channels the network takes; None: any.
        dims: the spatial dimensions the bundle reads; None: any.
    """
    n = image.ndim - 1
    if dims is not None and n not in tuple(dims):
        wanted = " or ".join(f"{d}D" for d in dims)
        return f"is {n}D (shape {tuple(image.shape[1:])}); this bundle reads {wanted} images"
    if channels is not None and image.shape[0] != channels:
        return f"has {image.shape[0]} channel(s); this bundle's network takes {channels}"
    if image.is_floating_point() and not bool(torch.isfinite(image).all()):
        return "holds NaN or infinite values"
    return ""
