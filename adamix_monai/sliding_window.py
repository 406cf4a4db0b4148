# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Sliding-window strides in MONAI's terms (``docs/algorithm.md`` section 5.2).

The reference evaluates LA with windows of 80 x 112 x 112 (D, H, W) moved by a fixed *stride*: 4 voxels along D
and 18 in-plane. MONAI's :class:`~monai.inferers.SlidingWindowInferer` takes an *overlap* fraction per axis instead
and moves by ``int(roi_size * (1 - overlap))`` voxels. :func:`sliding_window_overlap` gives the overlaps that make
MONAI move by exactly the given strides; MONAI then visits the same windows as the reference, whose count per axis
is ``ceil((size - roi) / stride) + 1`` with the last window flush with the far border (sides smaller than the
window are zero-padded to it first, in both).

Example, for a bundle config::

    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [80, 112, 112], "mode": "constant",
                "overlap": "$adamix_monai.sliding_window.sliding_window_overlap([80, 112, 112], [4, 18, 18])"}
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["sliding_window_overlap", "sliding_window_count"]


def _stride(roi: int, overlap: float) -> int:
    """MONAI's scan interval for one axis (``monai.inferers.utils._get_scan_interval``, window smaller than image)."""
    interval = int(roi * (1 - overlap))
    return interval if interval > 0 else 1


def sliding_window_overlap(roi_size: Sequence[int], strides: Sequence[int]) -> tuple[float, ...]:
    """Per-axis overlaps that make MONAI's sliding window move by exactly ``strides`` voxels.

    ``1 - stride / roi`` is returned when MONAI's ``int(roi * (1 - overlap))`` gives back ``stride`` in floating
    point (so 0.95 for 4/80 and 0.8393 for 18/112); otherwise (``80 * (1 - (1 - 8 / 80))`` is 7.999...) the overlap
    of ``stride + 0.5`` voxels, whose product truncates to ``stride`` whatever the rounding.

    Args:
        roi_size: window size per spatial axis, e.g. ``(80, 112, 112)``.
        strides: step per spatial axis, ``1 <= stride <= roi``, e.g. ``(4, 18, 18)`` (the paper's LA protocol).

    Returns:
        One overlap per axis in ``[0, 1)``, for ``SlidingWindowInferer(roi_size, overlap=...)``.

    Raises:
        ValueError: when the lengths differ or a stride is outside ``[1, roi]``.
    """
    if len(roi_size) != len(strides):
        raise ValueError(f"sliding_window_overlap: {len(roi_size)} window sides but {len(strides)} strides.")
    overlaps = []
    for roi, stride in zip(roi_size, strides):
        roi, stride = int(roi), int(stride)
        if not 1 <= stride <= roi:
            raise ValueError(
                f"sliding_window_overlap: a stride must be in [1, {roi}] for a window of {roi}, got {stride}."
            )
        overlap = 1.0 - stride / roi
        if _stride(roi, overlap) != stride:
            overlap = 1.0 - (stride + 0.5) / roi if stride < roi else 0.0
        if _stride(roi, overlap) != stride:  # pragma: no cover - not reachable for integer sizes
            raise ValueError(f"sliding_window_overlap: no overlap gives a stride of {stride} for a window of {roi}.")
        overlaps.append(overlap)
    return tuple(overlaps)


def sliding_window_count(image_size: Sequence[int], roi_size: Sequence[int], strides: Sequence[int]) -> int:
    """Windows per image of the reference's sliding window, ``prod(ceil((max(size, roi) - roi) / stride) + 1)``.

    Args:
        image_size: spatial size of the volume.
        roi_size: window size.
        strides: step per axis.

    Returns:
        The number of windows (equal to MONAI's with :func:`sliding_window_overlap`).

    Raises:
        ValueError: when the lengths differ or a stride is not positive.
    """
    if not len(image_size) == len(roi_size) == len(strides):
        raise ValueError("sliding_window_count: image_size, roi_size and strides need one entry per axis.")
    if any(int(s) < 1 for s in strides):
        raise ValueError(f"sliding_window_count: strides must be positive, got {tuple(strides)}.")
    count = 1
    for size, roi, stride in zip(image_size, roi_size, strides):
        count *= math.ceil((max(int(size), int(roi)) - int(roi)) / int(stride)) + 1
    return count
