# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The resize-slice inferer: the paper's 2D protocol on volumes, any slice axis, metadata kept."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import SliceInferer

from adamix_monai.inferers import (
    ResizeSliceInferer,
    SoftmaxSlidingWindowInferer,
    TransposedInferer,
)


class Recorder(torch.nn.Module):
    """A 2D 'network' that records input shapes and returns [x, -x]."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return torch.cat([x, -x], dim=1)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_every_slice_is_resized_predicted_and_resized_back(axis):
    volume = torch.rand(1, 1, 5, 6, 7)
    net = Recorder()
    inferer = ResizeSliceInferer(roi_size=(16, 16), spatial_dim=axis, sw_batch_size=4)
    out = inferer(volume, net)
    assert isinstance(inferer, SliceInferer)
    assert out.shape == (1, 2, 5, 6, 7)
    slices = volume.shape[2 + axis]
    assert sum(s[0] for s in net.shapes) == slices and all(s[1:] == (1, 16, 16) for s in net.shapes)
    # reference: slice by slice, bilinear up, nearest down
    moved = volume[0, 0].movedim(axis, 0)  # (S, a, b)
    for k in range(slices):
        up = F.interpolate(moved[k][None, None], size=(16, 16), mode="bilinear", align_corners=False)
        back = F.interpolate(up, size=moved.shape[1:], mode="nearest")[0, 0]
        torch.testing.assert_close(out[0, 0].movedim(axis, 0)[k], back)


def test_2d_input_and_metadata():
    image = MetaTensor(torch.rand(2, 1, 20, 24), affine=torch.diag(torch.tensor([2.0, 3.0, 1.0, 1.0])))
    out = ResizeSliceInferer(roi_size=32)(image, Recorder())
    assert isinstance(out, MetaTensor) and out.shape == (2, 2, 20, 24)
    torch.testing.assert_close(out.affine, image.affine)
    with pytest.raises(ValueError, match="2D"):
        ResizeSliceInferer(roi_size=(8, 8, 8))
    with pytest.raises(ValueError, match="expected"):
        ResizeSliceInferer(roi_size=8)(torch.rand(1, 8), Recorder())


def test_strides_give_the_reference_window_positions():
    with pytest.raises(ValueError, match="stride"):
        SoftmaxSlidingWindowInferer((80, 112), strides=(4, 0))
    starts = []

    def net(x):
        starts.append(x.shape[0])
        return torch.cat([x, -x], 1)

    inferer = SoftmaxSlidingWindowInferer((8, 12, 12), strides=(2, 5, 5), sw_batch_size=1)
    volume = torch.randn(1, 1, 11, 20, 9)  # the last axis is smaller than the window: zero-padded
    out = inferer(volume, net)
    expected = (math.ceil((11 - 8) / 2) + 1) * (math.ceil((20 - 12) / 5) + 1) * 1
    assert len(starts) == expected and out.shape == (1, 2, 11, 20, 9)
    assert torch.allclose(out.sum(1), torch.ones(1, 11, 20, 9))  # averaged probabilities
    assert torch.equal(out[:, 1] > 0.5, volume[:, 0] < 0)


def test_transposed_inferer_keeps_the_input_geometry():
    shapes = []

    def net(x):
        shapes.append(tuple(x.shape))
        return torch.cat([x, -x], 1)

    volume = MetaTensor(torch.randn(1, 1, 16, 12, 8), affine=torch.diag(torch.tensor([2.0, 3.0, 4.0, 1.0])))
    out = TransposedInferer(SoftmaxSlidingWindowInferer((8, 12, 16), strides=(4, 6, 8)), (2, 1, 0))(volume, net)
    assert shapes[0] == (1, 1, 8, 12, 16) and out.shape == (1, 2, 16, 12, 8)
    assert isinstance(out, MetaTensor) and torch.equal(out.affine, volume.affine)
    assert torch.equal(out[:, 0] > 0.5, volume[:, 0].as_tensor() > 0)
    with pytest.raises(ValueError, match="permutation"):
        TransposedInferer(SoftmaxSlidingWindowInferer(8), (0, 0, 1))
