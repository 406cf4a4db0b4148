# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-case segmentation metrics with the definitions the AdaMix paper used (medpy's).

* Dice ``2|P∩G| / (|P| + |G|)`` and Jaccard ``|P∩G| / |P∪G|``;
* surfaces are the voxels of a mask that its erosion by the face-connected structuring element removes;
* HD95 is the 95th percentile (linear interpolation) of the *pooled* surface distances of both directions
  (prediction to reference and reference to prediction), as ``medpy.metric.binary.hd95``; MONAI's
  ``HausdorffDistanceMetric(percentile=95)`` instead takes the maximum of the two directed percentiles;
* ASD is the mean distance from the prediction's surface to the reference's, as ``medpy.metric.binary.asd``
  (directed; MONAI's ``SurfaceDistanceMetric(symmetric=True)`` is the symmetric ASSD).

Distances are in voxels unless ``spacing`` is given (the paper reports voxels).

Empty masks: medpy cannot compute distances to an empty mask, and the reference evaluation scores a class
that the prediction misses as 0 for all four metrics, which rewards a miss with a perfect HD95 and ASD. Here
``empty="honest"`` (default) reports such a class with Dice 0, Jaccard 0 and NaN distances, and flags it
(``empty_prediction``), so that summaries can count misses; ``empty="paper"`` reproduces the reference's zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import ndimage

__all__ = ["binary_metrics", "case_metrics", "dice", "surface_distances"]


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "biu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        raise ValueError(f"case_metrics: '{name}' must be an integer label map, got dtype {arr.dtype}.")
    return arr


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> np.ndarray:
    """Distances from every surface voxel of ``a`` to the nearest surface voxel of ``b`` (both non-empty).

    Args:
        a: boolean mask.
        b: boolean mask of the same shape.
        spacing: voxel size per axis; None for unit spacing.

    Returns:
        1D array, one distance per surface voxel of ``a``.
    """
    footprint = ndimage.generate_binary_structure(a.ndim, 1)
    a_border = a ^ ndimage.binary_erosion(a, structure=footprint, iterations=1)
    b_border = b ^ ndimage.binary_erosion(b, structure=footprint, iterations=1)
    distance_to_b = ndimage.distance_transform_edt(~b_border, sampling=spacing)
    return distance_to_b[a_border]


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice ``2|P∩G| / (|P| + |G|)`` of two boolean masks: 0 when one is empty, NaN when both are.

    Args:
        prediction: boolean mask.
        reference: boolean mask of the same shape.
    """
    p, g = np.asarray(prediction, dtype=bool), np.asarray(reference, dtype=bool)
    return _dice(np.count_nonzero(p & g), np.count_nonzero(p) + np.count_nonzero(g))


def _dice(intersection: int, total: int) -> float:
    return 2.0 * intersection / total if total else math.nan


def binary_metrics(
    prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float] | None = None, empty: str = "honest"
) -> dict[str, Any]:
    """Dice, Jaccard, HD95 and ASD of two boolean masks (see the module docstring for definitions).

    Args:
        prediction: boolean mask.
        reference: boolean mask of the same shape.
        spacing: voxel size per axis; None for voxel units.
        empty: ``"honest"`` or ``"paper"`` handling of empty masks.

    Returns:
        ``{"dice", "jaccard", "hd95", "asd", "empty_prediction", "empty_reference"}``.
    """
    p, g = prediction.astype(bool), reference.astype(bool)
    p_empty, g_empty = not p.any(), not g.any()
    flags = {"empty_prediction": p_empty, "empty_reference": g_empty}
    if p_empty or g_empty:
        if empty == "paper" and p_empty:
            return {"dice": 0.0, "jaccard": 0.0, "hd95": 0.0, "asd": 0.0, **flags}
        overlap = math.nan if (p_empty and g_empty) else 0.0
        return {"dice": overlap, "jaccard": overlap, "hd95": math.nan, "asd": math.nan, **flags}
    intersection, total = np.count_nonzero(p & g), np.count_nonzero(p) + np.count_nonzero(g)
    jaccard = intersection / (total - intersection)  # |P ∪ G| = |P| + |G| - |P ∩ G|
    forward = surface_distances(p, g, spacing)
    backward = surface_distances(g, p, spacing)
    hd95 = float(np.percentile(np.hstack((forward, backward)), 95))
    return {"dice": float(_dice(intersection, total)), "jaccard": float(jaccard), "hd95": hd95, "asd": float(forward.mean()), **flags}


def case_metrics(
    prediction: Any,
    label: Any,
    num_classes: int,
    spacing: Sequence[float] | None = None,
    empty: str = "honest",
) -> dict[int, dict[str, Any]]:
    """Per foreground class metrics of one case.

    Args:
        prediction: integer label map (2D or 3D; numpy array or tensor, no channel axis).
        label: the reference label map, same shape.
        num_classes: classes including background (4 for ACDC); classes ``1 .. num_classes - 1`` are scored.
        spacing: voxel size per axis (e.g. from the image header) for distances in mm; None for voxels.
        empty: ``"honest"`` (default: a missed class gets Dice 0 and NaN distances, flagged) or ``"paper"``
            (the reference's zeros for a missed class).

    Returns:
        ``{class: {"dice", "jaccard", "hd95", "asd", "empty_prediction", "empty_reference"}}``.

    Raises:
        ValueError: on shapes that differ, non-integer maps, values outside ``[0, num_classes)``, a spacing of the
            wrong length, or an unknown ``empty`` mode.
    """
    if empty not in ("honest", "paper"):
        raise ValueError(f"case_metrics: empty must be 'honest' or 'paper', got '{empty}'.")
    pred, ref = _as_numpy(prediction, "prediction"), _as_numpy(label, "label")
    if pred.shape != ref.shape:
        raise ValueError(f"case_metrics: prediction shape {pred.shape} differs from label shape {ref.shape}.")
    if pred.ndim not in (2, 3):
        raise ValueError(f"case_metrics: expected a 2D or 3D label map without channel axis, got shape {pred.shape}.")
    for name, arr in (("prediction", pred), ("label", ref)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f"case_metrics: '{name}' holds values in [{arr.min()}, {arr.max()}]; expected classes in "
                f"[0, {num_classes})."
            )
    if spacing is not None:
        spacing = [float(s) for s in spacing]
        if len(spacing) != pred.ndim:
            raise ValueError(f"case_metrics: spacing {spacing} has {len(spacing)} values for a {pred.ndim}D case.")
    return {c: binary_metrics(pred == c, ref == c, spacing, empty) for c in range(1, num_classes)}
