# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Checks of the paper's h5 files (ACDC, LA) before a run: what a datalist's files get, for the paper's folders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from adamix_monai.errors import DatasetError

__all__ = ["check_h5_items"]

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
