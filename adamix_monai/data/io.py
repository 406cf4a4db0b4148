# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Readers that MONAI does not have: the paper's preprocessed h5 files (ACDC slices and volumes, LA volumes)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = ["LoadH5d"]


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
