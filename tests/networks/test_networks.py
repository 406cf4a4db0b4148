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


def test_upsampled_branch_gets_a_dense_channels_last_gradient_with_the_same_values(monkeypatch):
    """In channels-last training the upsampled half of each concatenation passes its gradient on as a dense
    channels-last tensor (the upsampling's backward reads a strided channel slice ~8x slower on CPUs): the same
    values, so the same weights; contiguous tensors and no-grad passes are left as they are."""
    import adamix_monai.networks.unet as unet

    x = torch.randn(2, 6, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    y = unet._dense_gradient(x)
    seen = []
    x.register_hook(seen.append)
    grad = torch.randn(2, 12, 8, 8).contiguous(memory_format=torch.channels_last)[:, 6:]  # a strided channel slice
    assert not grad.is_contiguous(memory_format=torch.channels_last)
    y.backward(grad)
    assert torch.equal(seen[0], grad) and seen[0].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y.detach(), x.detach())
    plain, frozen = torch.randn(2, 6, 8, 8, requires_grad=True), x.detach()
    assert unet._dense_gradient(plain) is plain and unet._dense_gradient(frozen) is frozen

    torch.manual_seed(0)
    net = AdaMixUNet(2, 1, 4, channels=(4, 8, 16), dropout=(0.0, 0.0, 0.0)).train().to(memory_format=torch.channels_last)
    inp = torch.randn(2, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    grads = []
    for dense in (True, False):
        if not dense:
            monkeypatch.setattr(unet, "_dense_gradient", lambda t: t)
        net.zero_grad()
        net(inp).logsumexp(1).mean().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))
