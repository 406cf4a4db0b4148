# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Format-agnostic case loading for the bundles: the paper's h5 files and users' NIfTI/PNG/JPG through MONAI's readers.

Every bundle reads its cases with :class:`LoadCased`, so the same training config takes the paper's preprocessed h5
files (SSL4MIS/UA-MT), a user's datalist of NIfTI volumes or PNG/JPG images, and MONAI Label's datastore pairs
(``train#dataset#data``). 2D networks trained on volumes see one slice per item: :class:`SlicedCacheDataset` turns
each volume into one item per slice (h5 slices and 2D images stay one item).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import CacheDataset, MetaTensor
from monai.transforms import LoadImage, MapTransform

from adamix_monai.data.io import LoadH5d

__all__ = [
    "LoadCased",
    "SlicedCacheDataset",
    "expand_slices",
    "file_spatial_shape",
    "is_h5",
    "read_case_file",
    "single_channel_label",
]

_NIFTI = (".nii", ".nii.gz")


def is_h5(path: str | Path) -> bool:
    """Whether ``path`` is an h5 file (read with :class:`~adamix_monai.data.io.LoadH5d`, not MONAI's readers)."""
    return str(path).lower().endswith((".h5", ".hdf5"))


def read_case_file(path: str | Path, reader: Any = None) -> MetaTensor:
    """Read an image file with MONAI's readers as channel-first ``(C, *spatial)`` with its affine.

    Args:
        path: a NIfTI, PNG, JPG or any file MONAI's ``LoadImage`` reads.
        reader: the MONAI reader (name or object), None to let MONAI choose by suffix.

    Returns:
        The array with its metadata.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when no reader can read it (the message names the file and the reader's reason).
    """
    path = Path(path)
    if not path.is_file():
        kind = "is a folder, not an image file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"'{path}' {kind}.")
    try:
        return LoadImage(image_only=True, ensure_channel_first=True, reader=reader)(str(path))
    except Exception as e:  # MONAI raises RuntimeError/OSError/ValueError depending on the reader
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot read '{path}' as an image: {reason}") from e


def file_spatial_shape(path: str | Path) -> tuple[int, ...]:
    """The spatial shape of an image file, from the header when it is NIfTI (no voxel read)."""
    if str(path).lower().endswith(_NIFTI):
        shape = tuple(int(s) for s in nib.load(str(path)).shape)
        return shape[:3] if len(shape) > 3 else shape
    return tuple(read_case_file(path).shape[1:])


def _permute_spatial(x: torch.Tensor, order: Sequence[int]) -> torch.Tensor:
    """Reorder the spatial axes of a channel-first array; a MetaTensor's affine columns follow, so the voxel
    size of each new axis (HD95/ASD in mm) stays right."""
    order = [int(a) for a in order]
    out = x.permute(0, *[a + 1 for a in order]).contiguous()
    if isinstance(x, MetaTensor):
        affine = x.affine.clone()
        nd = len(order)
        affine[:, :nd] = x.affine[:, order]
        meta = dict(x.meta)
        meta["affine"], meta["spatial_shape"] = affine, np.asarray(out.shape[1:])
        out = MetaTensor(out.as_tensor(), meta=meta)
    return out


def _add_slice_axis(x: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` -> ``(C, H, W, 1)``; a MetaTensor's 2D affine becomes the 3D one of a one-slice volume."""
    if not isinstance(x, MetaTensor):
        return x.unsqueeze(-1)
    affine2d = torch.as_tensor(x.affine, dtype=torch.float64)
    affine = torch.eye(4, dtype=torch.float64)
    if affine2d.shape == (3, 3):
        affine[:2, :2], affine[:2, 3] = affine2d[:2, :2], affine2d[:2, 2]
    else:
        affine = affine2d.clone()
    meta = dict(x.meta)
    meta["affine"], meta["spatial_shape"] = affine, np.asarray([*x.shape[1:], 1])
    return MetaTensor(x.as_tensor().unsqueeze(-1), meta=meta)


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


def _binarize_255(label: torch.Tensor) -> torch.Tensor:
    values = torch.unique(label)
    if values.numel() and int(values.max()) == 255 and bool(torch.isin(values, torch.tensor([0, 255])).all()):
        return (label > 0).to(label.dtype)
    return label


class LoadCased(MapTransform):
    """Read a case from h5 (the paper's preprocessed files) or from any file MONAI reads (NIfTI, PNG, JPG, ...).

    h5 files are taken as preprocessed (read as stored, through :class:`~adamix_monai.data.io.LoadH5d`). Other
    files get what the paper's preprocessing did to its data, so a model trained on either sees the same inputs:
    the image's intensity normalised over the whole file (``minmax`` to ``[0, 1]``, or ``zscore``), labels as
    integers (an equal-channel RGB mask collapsed to one channel, a ``{0, 255}`` mask mapped to ``{0, 1}``).

    An item with a ``slice`` entry (see :func:`expand_slices`) gets that slice of the file along ``slice_axis``, as a
    2D ``(C, H, W)`` array: a 2D network trains on the slices of users' volumes.

    Args:
        keys: the path keys to read (``image``, ``label``).
        label_keys: which keys are labels (integers, no intensity normalisation).
        intensity: ``"minmax"``, ``"zscore"`` or None, for images read from non-h5 files.
        spatial_order: reorder the spatial axes of non-h5 files (e.g. ``(2, 0, 1)`` puts a NIfTI volume's slice
            axis first); the affine follows.
        h5_spatial_order: the same for h5 files (e.g. ``(2, 1, 0)`` for the UA-MT LA files).
        volume: give 2D images a trailing slice axis of size 1 (for evaluating 2D data on a slice-wise path).
        slice_key: the item entry holding a slice index.
        slice_axis: the spatial axis of the file that ``slice_key`` indexes.
        reader: MONAI reader for non-h5 files (None: chosen by suffix).
        allow_missing_keys: skip absent keys (``label`` in unlabeled items).

    Raises:
        ValueError: (when called) naming the file and the key when a file is missing or cannot be read.
    """

    def __init__(
        self,
        keys: KeysCollection,
        label_keys: Sequence[str] = ("label",),
        intensity: str | None = None,
        spatial_order: Sequence[int] | None = None,
        h5_spatial_order: Sequence[int] | None = None,
        volume: bool = False,
        slice_key: str = "slice",
        slice_axis: int = -1,
        reader: Any = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if intensity not in (None, "minmax", "zscore"):
            raise ValueError(f"LoadCased: intensity must be 'minmax', 'zscore' or None, got {intensity!r}.")
        self.label_keys = set(label_keys)
        self.intensity = intensity
        self.spatial_order = None if spatial_order is None else tuple(int(a) for a in spatial_order)
        self.h5_spatial_order = None if h5_spatial_order is None else tuple(int(a) for a in h5_spatial_order)
        self.volume = bool(volume)
        self.slice_key = slice_key
        self.slice_axis = int(slice_axis)
        self.reader = reader
        self._last: dict[str, tuple[str, torch.Tensor]] = {}  # key -> (path, array): one read per volume
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # picklable for worker processes: no lock, no cached volume
        state = dict(self.__dict__)
        state.pop("_lock")
        state["_last"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _read(self, key: str, path: str, cache: bool) -> torch.Tensor:
        """The normalised file; with ``cache`` (slice items, which copy their slice out) the last volume per key is
        kept, so the slices of one volume cost one read."""
        with self._lock:
            last = self._last.get(key) if cache else None
        if last is not None and last[0] == path:
            return last[1]
        try:
            x = read_case_file(path, self.reader)
        except (FileNotFoundError, ValueError) as e:
            raise ValueError(f"LoadCased: key '{key}': {e}") from e
        if key in self.label_keys:
            try:
                x = _binarize_255(single_channel_label(x, path).to(torch.int64))
            except ValueError as e:
                raise ValueError(f"LoadCased: {e}") from None
        else:
            x = x.to(torch.float32)
            if self.intensity == "minmax":
                lo, hi = x.min(), x.max()
                x = (x - lo) / (hi - lo) if hi > lo else x - lo
            elif self.intensity == "zscore":
                std = x.std()
                x = (x - x.mean()) / std if std > 0 else x - x.mean()
        if cache:
            with self._lock:
                self._last[key] = (path, x)
        return x

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        h5_keys = [k for k in self.key_iterator(d) if is_h5(d[k])]
        if h5_keys:
            loaded = LoadH5d(keys=h5_keys, label_keys=tuple(self.label_keys))(d)
            for key in h5_keys:
                d[key] = loaded[key]
                d[f"{key}_path"] = loaded[f"{key}_path"]
                if self.h5_spatial_order is not None:
                    d[key] = _permute_spatial(d[key], self.h5_spatial_order)
        for key in self.key_iterator(d):
            if key in h5_keys:
                continue
            path = str(d[key])
            sliced = d.get(self.slice_key) is not None
            x = self._read(str(key), path, cache=sliced)
            if sliced and x.ndim == 4:
                index = int(d[self.slice_key])
                x = x.as_tensor().select(self.slice_axis if self.slice_axis < 0 else self.slice_axis + 1, index).clone()
            else:
                if self.volume and x.ndim == 3:
                    x = _add_slice_axis(x)
                if self.spatial_order is not None and len(self.spatial_order) == x.ndim - 1:
                    x = _permute_spatial(x, self.spatial_order)
            d[key] = x
            d[f"{key}_path"] = path
        return d


def expand_slices(data: Sequence[Mapping[str, Any]], slice_axis: int = -1, image_key: str = "image") -> list[dict]:
    """One item per slice for every 3D (non-h5) image in a datalist; h5 items and 2D images stay one item.

    Args:
        data: the datalist (``[{"image": ..., "label": ...}, ...]``).
        slice_axis: the spatial axis of the files to slice along (the last by default, as ACDC's inference).
        image_key: the key whose file decides the number of slices.

    Returns:
        The expanded datalist; each slice item is the original item plus ``"slice": k``.
    """
    out: list[dict] = []
    for item in data:
        path = item[image_key]
        if is_h5(path) or "slice" in item:
            out.append(dict(item))
            continue
        shape = file_spatial_shape(path)
        if len(shape) < 3:
            out.append(dict(item))
            continue
        out.extend({**item, "slice": k} for k in range(shape[slice_axis]))
    return out


class SlicedCacheDataset(CacheDataset):
    """A MONAI ``CacheDataset`` over the slices of a datalist's volumes (see :func:`expand_slices`), for 2D networks.

    ``data`` may be replaced by any datalist (MONAI Label sets ``train#dataset#data`` to its datastore's NIfTI
    pairs): the expansion happens here, not in the config.

    Args:
        data: the datalist.
        transform: the per-item transform (starting with :class:`LoadCased`).
        slice_axis: the files' spatial axis to slice along.
        kwargs: passed to ``CacheDataset`` (``cache_rate``, ``num_workers``, ``progress``, ...).
    """

    def __init__(
        self, data: Sequence[Mapping[str, Any]], transform: Any = None, slice_axis: int = -1, **kwargs: Any
    ) -> None:
        super().__init__(data=expand_slices(data, slice_axis), transform=transform, **kwargs)
