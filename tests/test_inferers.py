# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The resize-slice inferer: the paper's 2D protocol on volumes, any slice axis, metadata kept."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import SliceInferer

from adamix_monai.inferers import ResizeSliceInferer


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
