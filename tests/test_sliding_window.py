# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""sliding_window_overlap: MONAI's SlidingWindowInferer then scans with exactly the reference's strides."""

from __future__ import annotations

import math

import pytest
import torch
from monai.data.utils import dense_patch_slices
from monai.inferers import SlidingWindowInferer
from monai.inferers.utils import _get_scan_interval

from adamix_monai.sliding_window import sliding_window_count, sliding_window_overlap


def _reference_starts(size: int, roi: int, stride: int) -> list[int]:
    """Window starts of UA-MT's ``test_single_case`` along one axis (after padding to the window)."""
    size = max(size, roi)
    return [min(stride * i, size - roi) for i in range(math.ceil((size - roi) / stride) + 1)]


class _Recorder(torch.nn.Module):
    """Counts windows and records where each ends (the largest coordinate of each coordinate channel)."""

    def __init__(self) -> None:
        super().__init__()
        self.windows = 0
        self.ends: set[tuple[int, ...]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows += x.shape[0]
        for w in x:
            self.ends.add(tuple(int(w[i].max()) for i in range(3)))
        return torch.ones_like(x[:, :2])


def test_paper_overlaps():
    overlaps = sliding_window_overlap((80, 112, 112), (4, 18, 18))
    assert all(0 <= o < 1 for o in overlaps)
    assert _get_scan_interval((88, 154, 210), (80, 112, 112), 3, overlaps) == (4, 18, 18)


def test_every_stride_of_every_window():
    for roi in range(1, 200):
        for stride in range(1, roi + 1):
            (o,) = sliding_window_overlap([roi], [stride])
            assert 0 <= o < 1
            assert _get_scan_interval([roi + 1], [roi], 1, [o]) == (stride,), (roi, stride)


@pytest.mark.parametrize(
    "size, roi, strides",
    [
        ((88, 154, 210), (80, 112, 112), (4, 18, 18)),  # an LA test volume, the paper's protocol
        ((88, 140, 215), (80, 112, 112), (4, 18, 18)),
        ((70, 100, 130), (80, 112, 112), (4, 18, 18)),  # smaller than the window along D and H: padded
        ((96, 130, 130), (80, 112, 112), (16, 56, 56)),  # a coarser scan
        ((80, 112, 112), (80, 112, 112), (4, 18, 18)),  # exactly one window
    ],
)
def test_windows_match_reference(size, roi, strides):
    starts = [_reference_starts(s, r, t) for s, r, t in zip(size, roi, strides)]
    expected = {(a, b, c) for a in starts[0] for b in starts[1] for c in starts[2]}
    assert sliding_window_count(size, roi, strides) == len(expected)
    padded = tuple(max(s, r) for s, r in zip(size, roi))
    interval = _get_scan_interval(padded, roi, 3, sliding_window_overlap(roi, strides))
    slices = dense_patch_slices(padded, roi, interval)
    assert {tuple(s.start for s in sl) for sl in slices} == expected


def test_inferer_visits_the_reference_windows():
    # small stand-in for the LA protocol: window 8 x 12 x 12, strides 2 and 5, a volume smaller along D
    size, roi, strides = (7, 30, 23), (8, 12, 12), (2, 5, 5)
    grid = torch.meshgrid(*[torch.arange(s, dtype=torch.float32) for s in size], indexing="ij")
    image = torch.stack(grid)[None]  # (1, 3, D, H, W): each channel holds its coordinate
    net = _Recorder()
    inferer = SlidingWindowInferer(roi, sw_batch_size=4, overlap=sliding_window_overlap(roi, strides), mode="constant")
    out = inferer(image, net)
    assert out.shape == (1, 2, *size)
    assert net.windows == sliding_window_count(size, roi, strides) == 1 * 5 * 4
    # D is padded from 7 to 8 with zeros (0 before, 1 after), so every window ends at the last slice, 6
    h_starts = _reference_starts(30, 12, 5)
    w_starts = _reference_starts(23, 12, 5)
    assert net.ends == {(6, h + 11, w + 11) for h in h_starts for w in w_starts}


def test_bad_arguments():
    with pytest.raises(ValueError, match="3 window sides but 2 strides"):
        sliding_window_overlap((80, 112, 112), (4, 18))
    with pytest.raises(ValueError, match="stride must be in \\[1, 80\\]"):
        sliding_window_overlap((80, 112, 112), (0, 18, 18))
    with pytest.raises(ValueError, match="stride must be in \\[1, 112\\]"):
        sliding_window_overlap((80, 112, 112), (4, 113, 18))
    with pytest.raises(ValueError, match="positive"):
        sliding_window_count((88, 140, 200), (80, 112, 112), (4, 0, 18))
    with pytest.raises(ValueError, match="one entry per axis"):
        sliding_window_count((88, 140), (80, 112, 112), (4, 18, 18))
