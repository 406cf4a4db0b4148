# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""AdaMixVNet: UA-MT's V-Net layout, parameter count, shapes, modes, sliding-window inference."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from monai.inferers import SlidingWindowInferer

from adamix_monai.networks.vnet import AdaMixVNet


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_parameter_count_matches_ua_mt():
    # UA-MT's VNet(n_channels=1, n_classes=2, n_filters=16, normalization='batchnorm'): 9,448,866 parameters
    assert _count(AdaMixVNet()) == 9_448_866
    assert _count(AdaMixVNet(normalization="group")) == 9_448_866
    assert _count(AdaMixVNet(normalization="none")) == 9_443_266
    assert _count(AdaMixVNet(normalization="instance")) == 9_443_266  # no affine, as the reference


def test_layout():
    net = AdaMixVNet()
    convs = [sum(isinstance(m, nn.Conv3d) for m in stage.modules()) for stage in net.encoder]
    assert convs == [1, 2, 3, 3, 3]
    assert [sum(isinstance(m, nn.Conv3d) for m in stage.modules()) for stage in net.decoder] == [3, 3, 2, 1]
    assert [stage[0].out_channels for stage in net.encoder] == [16, 32, 64, 128, 256]
    for down in net.down:
        assert isinstance(down[0], nn.Conv3d) and down[0].kernel_size == (2, 2, 2) and down[0].stride == (2, 2, 2)
        assert isinstance(down[1], nn.BatchNorm3d) and isinstance(down[2], nn.ReLU)
    for up in net.up:
        assert isinstance(up[0], nn.ConvTranspose3d) and up[0].kernel_size == (2, 2, 2) and up[0].stride == (2, 2, 2)
    assert net.head.kernel_size == (1, 1, 1) and net.head.out_channels == 2
    assert not any(isinstance(m, nn.Dropout3d) for m in net.modules())
    assert sum(isinstance(m, nn.Dropout3d) for m in AdaMixVNet(dropout=True).modules()) == 1
    assert AdaMixVNet(dropout=0.2).dropout.p == 0.2


@pytest.mark.parametrize("normalization", ["batch", "group", "instance", "none"])
def test_shapes_train_and_eval(normalization):
    torch.manual_seed(0)
    net = AdaMixVNet(in_channels=1, out_channels=3, normalization=normalization, dropout=True)
    x = torch.randn(2, 1, 16, 32, 48)
    net.train()
    out = net(x)
    assert out.shape == (2, 3, 16, 32, 48) and isinstance(out, torch.Tensor)
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    with torch.no_grad():
        a, b = net(x), net(x)
    assert a.shape == (2, 3, 16, 32, 48)
    assert torch.equal(a, b)  # eval: no dropout, running statistics


def test_paper_patch_forward():
    net = AdaMixVNet().eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 80, 112, 112))
    assert out.shape == (1, 2, 80, 112, 112)
    assert torch.isfinite(out).all()


def test_bad_inputs():
    net = AdaMixVNet()
    with pytest.raises(ValueError, match="divisible by 16.*\\[16, 32, 40\\]"):
        net(torch.randn(1, 1, 16, 32, 40))
    with pytest.raises(ValueError, match="expected an input \\(B, 1, D, H, W\\)"):
        net(torch.randn(1, 2, 16, 16, 16))
    with pytest.raises(ValueError, match="expected an input"):
        net(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match="normalization must be one of"):
        AdaMixVNet(normalization="batchnorm")
    with pytest.raises(ValueError, match="dropout"):
        AdaMixVNet(dropout=1.5)
    with pytest.raises(ValueError, match="16 groups"):
        AdaMixVNet(n_filters=8, normalization="group")


def test_decoder_init_is_kaiming_and_encoder_default():
    torch.manual_seed(0)
    net = AdaMixVNet(n_filters=16)
    w = net.decoder[0][0].weight  # 128 -> 128, 3x3x3: fan_in = 3456, kaiming std = sqrt(2 / 3456)
    assert abs(w.std().item() - (2 / 3456) ** 0.5) < 0.002
    w = net.encoder[3][0].weight  # PyTorch default: kaiming_uniform(a=sqrt(5)), std = 1 / sqrt(3 * fan_in)
    assert abs(w.std().item() - (1 / (3 * 3456)) ** 0.5) < 0.002


def test_sliding_window_inferer():
    net = AdaMixVNet(n_filters=4, normalization="none").eval()
    inferer = SlidingWindowInferer(roi_size=(16, 32, 32), sw_batch_size=2, overlap=(0.75, 0.5, 0.5), mode="constant")
    with torch.no_grad():
        out = inferer(torch.randn(1, 1, 20, 40, 30), net)  # sides neither divisible by 16 nor larger than the window
    assert out.shape == (1, 2, 20, 40, 30)


def test_the_vnet_compiles_with_torchscript_for_ckpt_export():
    """MONAI's ``ckpt_export`` scripts the network: the scripted V-Net gives the same logits and the same errors."""
    import torch

    from adamix_monai.networks import AdaMixVNet

    net = AdaMixVNet(in_channels=1, out_channels=2).eval()
    scripted = torch.jit.script(net)
    x = torch.randn(1, 1, 16, 32, 32)
    assert torch.equal(scripted(x), net(x))
    with pytest.raises(Exception, match="divisible by 16"):
        scripted(torch.randn(1, 1, 15, 32, 32))
