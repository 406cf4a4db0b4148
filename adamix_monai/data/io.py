# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Readers: the paper's preprocessed h5 files, users' NIfTI/PNG/JPG through MONAI's readers, 8-bit images through PIL.

Every bundle reads its cases with :class:`LoadCased`, so the same training config takes the paper's h5 files
(SSL4MIS/UA-MT), a user's datalist of NIfTI volumes or PNG/JPG images, and MONAI Label's datastore pairs
(``train#dataset#data``). ISIC images are read by :class:`LoadPILImaged` (one ``PILReader``, no fallback), channel
first ``(C, H, W)`` like the other datasets (``reverse_indexing=False``). :func:`load_la_case` and
:func:`isic_loading` are the two datasets' loading pipelines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import nibabel as nib
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor, PILReader
from monai.transforms import Compose, LoadImage, LoadImaged, MapTransform, ScaleIntensityRanged
from PIL import Image

from adamix_monai.data.labels import CheckLabelsd, EnsureBinaryMaskd, binarize_255, single_channel_label

__all__ = [
    "RGB_MODES",
    "LoadCased",
    "LoadH5d",
    "LoadPILImaged",
    "file_spatial_shape",
    "is_h5",
    "isic_loading",
    "load_la_case",
    "pil_mask_mode",
    "pil_to_rgb",
    "read_case_file",
]

_NIFTI = (".nii", ".nii.gz")
# 8-bit PIL modes that convert("RGB") maps faithfully (16-bit and float modes would be clipped)
RGB_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}


class LoadH5d(MapTransform):
    """Load arrays from h5 files: for each key, ``data[key]`` is a file path and the dataset named ``key`` (or
    ``h5_keys[key]``) is read, as float32 for images and int64 for labels, with a channel axis added.

    Args:
        keys: keys to load.
        label_keys: keys loaded as integer labels (the rest as float32 images).
        h5_keys: dataset name per key when it differs from the key.
        allow_missing_keys: skip absent keys (e.g. ``label`` in unlabeled items).

    Raises:
        ValueError: naming the file and the key when a file cannot be read or lacks the dataset.
    """

    def __init__(
        self,
        keys: KeysCollection,
        label_keys: Sequence[str] = ("label",),
        h5_keys: Mapping[str, str] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_keys = set(label_keys)
        self.h5_keys = dict(h5_keys or {})

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            path, name = str(d[key]), self.h5_keys.get(str(key), str(key))
            try:
                with h5py.File(path, "r") as f:
                    if not isinstance(f.get(name), h5py.Dataset):
                        raise ValueError(f"LoadH5d: '{path}' has no dataset '{name}' (it holds {sorted(f.keys())}).")
                    arr = f[name][()]
            except OSError as e:  # missing, truncated or corrupt file, or unreadable compressed chunks
                raise ValueError(
                    f"LoadH5d: cannot read '{path}' for key '{key}' (expected an HDF5 file with dataset '{name}'): {e}"
                ) from e
            dtype = np.int64 if key in self.label_keys else np.float32
            d[key] = torch.as_tensor(np.asarray(arr, dtype=dtype))[None]
            d[f"{key}_path"] = path
        return d


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
                x = binarize_255(single_channel_label(x, path).to(torch.int64))
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


def pil_to_rgb(image: Image.Image) -> Image.Image:
    """A ``PILReader`` converter: any 8-bit image to RGB, as the reference's ``convert("RGB")``.

    Args:
        image: the opened PIL image.

    Returns:
        The RGB image (grayscale replicated, alpha dropped, palette resolved).

    Raises:
        ValueError: on 16-bit or float images, which ``convert("RGB")`` would clip.
    """
    if image.mode == "RGB":
        return image
    if image.mode not in RGB_MODES:
        name = getattr(image, "filename", "") or "the image"
        raise ValueError(
            f"ISIC: '{name}' has PIL mode '{image.mode}' (16-bit or float); convert it to 8-bit RGB (JPEG or PNG)."
        )
    return image.convert("RGB")


def pil_mask_mode(image: Image.Image) -> Image.Image:
    """A ``PILReader`` converter for masks: palette masks become their colours, bilevel masks {0, 255}."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


class LoadPILImaged(LoadImaged):
    """``LoadImaged`` with one ``PILReader`` and nothing else: channel-first ``(C, H, W)`` MetaTensors.

    Given a reader, MONAI's ``LoadImage`` still falls back to every other registered reader when that one fails
    (ITK, or a default ``PILReader``, which swaps the spatial axes), so a file PIL cannot read, or an error of the
    converter, would be loaded silently another way. Here the reader is passed at call time, which MONAI uses
    without fallback, and its errors surface.

    Args:
        keys: keys of the file paths.
        converter: applied to the opened PIL image (e.g. :func:`pil_to_rgb`).
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        converter: Callable[[Image.Image], Image.Image] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        self.pil_reader = PILReader(converter=converter, reverse_indexing=False)
        super().__init__(
            keys,
            reader=self.pil_reader,
            image_only=True,
            ensure_channel_first=True,
            allow_missing_keys=allow_missing_keys,
        )

    def __call__(self, data: Mapping[Hashable, Any], reader: Any = None) -> dict[Hashable, Any]:
        return super().__call__(data, reader if reader is not None else self.pil_reader)


def isic_loading(image_key: str = "image", label_key: str | None = "label") -> Compose:
    """Load an ISIC item: the image as (3, H, W) RGB in ``[0, 1]``, the mask as (1, H, W) {0, 1}.

    Args:
        image_key: the image path key.
        label_key: the mask path key, None for image-only (unlabeled) items.

    Returns:
        A deterministic MONAI ``Compose`` (``CacheDataset`` caches it).
    """
    transforms: list[Any] = [LoadPILImaged(keys=image_key, converter=pil_to_rgb)]
    if label_key:
        transforms += [
            LoadPILImaged(keys=label_key, converter=pil_mask_mode),
            EnsureBinaryMaskd(keys=label_key, image_key=image_key),
        ]
    transforms.append(ScaleIntensityRanged(keys=image_key, a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0))
    return Compose(transforms)


def load_la_case(keys: Sequence[str] = ("image", "label")) -> Compose:
    """Read an LA case (UA-MT h5) as channel-first ``(1, D, H, W)`` arrays.

    Args:
        keys: the h5 keys to read (``image`` only for the unlabeled stream).

    Returns:
        A MONAI ``Compose``: :class:`~adamix_monai.data.io.LoadCased` (an h5 case as stored; a NIfTI or other
        file through MONAI's readers, z-score normalised as UA-MT's preprocessing did), its spatial axes reversed
        from the stored ``(W, H, D)`` order to ``(D, H, W)`` (as the inference's ``TransposedInferer`` does for
        NIfTI, so a model trained on either serves both), then a check that a ``label`` holds only 0 and 1 (an error
        names the file otherwise).
    """
    keys = list(keys)
    load = LoadCased(keys=keys, intensity="zscore", spatial_order=(2, 1, 0), h5_spatial_order=(2, 1, 0))
    return Compose([load] + ([CheckLabelsd(keys="label", values=(0, 1))] if "label" in keys else []))
