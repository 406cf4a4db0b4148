# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""FastDropout: nn.Dropout's layer (keep probability, scaling, gradient) with a mask from 16 random bits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from adamix_monai.networks import AdaMixUNet, FastDropout, use_fast_dropout
from adamix_monai.networks import dropout as dropout_module
from adamix_monai.networks.dropout import _keep, keep_mask


@pytest.mark.parametrize("p", [0.05, 0.1, 0.2, 0.3, 0.5, 0.9])
def test_each_element_is_kept_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    n = 2_000_003  # not a multiple of 4: the last 64-bit draw is partly used
    keep = keep_mask(torch.empty(n), 1.0 - p)
    assert keep.dtype == torch.bool and keep.shape == (n,)
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(int(keep.sum()) - n * (1 - p)) < 5 * sigma
    # neighbours (the quarters of one 64-bit draw, and across draws) are independent: joint frequency (1-p)^2
    pairs = n - 1
    both = int((keep[:-1] & keep[1:]).sum())
    q = (1 - p) ** 2
    assert abs(both - pairs * q) < 5 * math.sqrt(pairs * q * (1 - q))


def test_the_keep_probability_is_within_2_to_the_minus_17():
    every_value = torch.arange(-(2**15), 2**15).to(torch.int16)  # each 16-bit lane value once
    for keep_prob in (0.95, 0.9, 0.8, 0.7, 0.5, 0.0, 1.0, 1 / 3):
        kept = int(_keep(every_value, keep_prob).sum())
        assert kept == round(keep_prob * 2**16)
        assert abs(kept / 2**16 - keep_prob) <= 2**-17
    assert max(abs(round(q * 2**16) / 2**16 - q) for q in (0.95, 0.9, 0.8, 0.7, 0.5)) < 6.2e-6
    assert bool(keep_mask(torch.empty(1000), 1.0).all()) and not bool(keep_mask(torch.empty(1000), 0.0).any())


def test_kept_values_are_scaled_exactly_as_nn_dropout_scales_them():
    torch.manual_seed(3)
    x = torch.randn(100_000)
    for p in (0.05, 0.1, 0.3, 0.5):
        ref = F.dropout(x, p, training=True)
        out = FastDropout(p)(x)
        kept_ref, kept_out = ref != 0, out != 0
        # the same scale, bit for bit, on the elements both kept
        both = kept_ref & kept_out
        assert int(both.sum()) > 0
        assert torch.equal(ref[both], out[both])
        assert torch.equal(out[~kept_out], torch.zeros(int((~kept_out).sum())))


def test_the_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(1)
    x = torch.randn(4, 8, 16, 16, requires_grad=True)
    layer = FastDropout(0.3)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)
    keep = y.detach() != 0
    scale = float(torch.ones(()) / torch.tensor(0.7))
    assert torch.equal(x.grad, g * keep * scale)


def test_eval_mode_and_edge_probabilities():
    x = torch.randn(3, 5)
    layer = FastDropout(0.4).eval()
    assert layer(x) is x
    assert FastDropout(0.0)(x) is x
    assert torch.equal(FastDropout(1.0)(x), torch.zeros_like(x))
    with pytest.raises(ValueError):
        FastDropout(1.5)


def test_the_mask_follows_the_memory_format_and_seed():
    x = torch.randn(2, 6, 8, 8).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(5)
    a = FastDropout(0.5)(x)
    torch.manual_seed(5)
    b = FastDropout(0.5)(x)
    torch.manual_seed(6)
    c = FastDropout(0.5)(x)
    assert a.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a != 0, keep_mask_with_seed(x, 0.5, 5))
    x3 = torch.randn(2, 3, 4, 5, 6).contiguous(memory_format=torch.channels_last_3d)
    assert FastDropout(0.2)(x3).is_contiguous(memory_format=torch.channels_last_3d)
    strided = torch.randn(4, 10)[:, ::2]  # neither contiguous nor channels-last
    out = FastDropout(0.5)(strided)
    assert out.shape == strided.shape and torch.equal(out[out != 0], (strided * 2)[out != 0])


def keep_mask_with_seed(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return keep_mask(x, 1.0 - p)


def test_use_fast_dropout_replaces_nn_dropout_only():
    net = AdaMixUNet()
    net.extra = nn.Dropout2d(0.5)
    before = [m.p for m in net.modules() if type(m) is nn.Dropout]
    net.eval()
    assert use_fast_dropout(net) == len(before) == 9  # 5 encoder levels, 4 decoder blocks with p = 0
    after = [m for m in net.modules() if isinstance(m, FastDropout)]
    assert [m.p for m in after] == before
    assert all(not m.training for m in after)  # the layers keep the network's mode
    assert type(net.extra) is nn.Dropout2d
    assert use_fast_dropout(net) == 0  # already replaced


def test_with_nn_dropouts_mask_it_is_nn_dropout_bit_for_bit(monkeypatch):
    """Given the very mask nn.Dropout draws (``bernoulli_`` on an empty float tensor like the input), the layer and
    its gradient are nn.Dropout's, bit for bit: only the mask's random bits differ."""

    def bernoulli_mask(x, keep_prob, generator=None):
        return torch.empty_like(x).bernoulli_(keep_prob, generator=generator).bool()

    monkeypatch.setattr(dropout_module, "keep_mask", bernoulli_mask)
    torch.manual_seed(0)
    net = AdaMixUNet(2, 1, 4, channels=(4, 8, 16), dropout=(0.05, 0.1, 0.5)).train()
    fast = AdaMixUNet(2, 1, 4, channels=(4, 8, 16), dropout=(0.05, 0.1, 0.5)).train()
    fast.load_state_dict(net.state_dict())
    use_fast_dropout(fast)
    x = torch.randn(3, 1, 32, 32)
    outs = []
    for model in (net, fast):
        torch.manual_seed(7)
        y = model(x)
        y.logsumexp(1).mean().backward()
        outs.append((y.detach(), [p.grad.clone() for p in model.parameters()]))
    assert torch.equal(outs[0][0], outs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(outs[0][1], outs[1][1]))
