# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The paper's U-Net."""

from __future__ import annotations

import pytest
import torch

from adamix_monai.networks import AdaMixUNet


def test_paper_configuration_2d():
    net = AdaMixUNet(2, 1, 4)
    assert net(torch.rand(2, 1, 64, 64)).shape == (2, 4, 64, 64)
    dropouts = [m.p for m in net.encoder.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.05, 0.1, 0.2, 0.3, 0.5]
    assert all(m.p == 0.0 for m in net.decoder.modules() if isinstance(m, torch.nn.Dropout))
    assert net.head.kernel_size == (3, 3)
    assert 1.7e6 < sum(p.numel() for p in net.parameters()) < 1.9e6


def test_3d_and_rgb():
    assert AdaMixUNet(3, 1, 2, (4, 8, 16), (0.0, 0.0, 0.0))(torch.rand(1, 1, 8, 16, 16)).shape == (1, 2, 8, 16, 16)
    assert AdaMixUNet(2, 3, 2)(torch.rand(1, 3, 32, 32)).shape == (1, 2, 32, 32)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="spatial_dims"):
        AdaMixUNet(1)
    with pytest.raises(ValueError, match="one dropout per level"):
        AdaMixUNet(2, channels=(4, 8), dropout=(0.1,))
