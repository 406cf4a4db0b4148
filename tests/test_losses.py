# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MaskedDiceCELoss against hand computations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from adamix_monai.losses import MaskedDiceCELoss


def manual(logits, target, mask, w):
    b, c = logits.shape[:2]
    ce = F.cross_entropy(logits, target, reduction="none")
    ce_term = (ce * mask).sum() / (mask.sum() + 1e-5)
    p = torch.softmax(logits, 1)
    terms = []
    for i in range(b):
        for k in range(c):
            y = (target[i] == k).float()
            m = mask[i]
            dice = (2 * (p[i, k] * y * m).sum() + 1e-5) / (((p[i, k] + y) * m).sum() + 1e-5)
            terms.append((1.0 if m.sum() > 0 else 0.0) * (1 - dice))
    return (1 - w) * ce_term + w * torch.stack(terms).mean()


@pytest.mark.parametrize("w", [0.0, 0.5, 1.0])
def test_matches_the_definition(w):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 6, 5, generator=gen)
    target = torch.randint(0, 4, (3, 6, 5), generator=gen)
    mask = (torch.rand(3, 6, 5, generator=gen) > 0.4).float()
    mask[2] = 0  # an image whose confidence mask is empty
    got = MaskedDiceCELoss(w)(logits, target.unsqueeze(1), mask.unsqueeze(1))
    torch.testing.assert_close(got, manual(logits, target, mask, w))


def test_reference_mode_shifts_empty_images_by_minus_one_with_the_same_gradient():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    mask = torch.ones(2, 4, 4)
    mask[1] = 0
    zero = MaskedDiceCELoss(1.0)(logits, target, mask)
    (g_zero,) = torch.autograd.grad(zero, logits)
    ref = MaskedDiceCELoss(1.0, empty_mask="reference")(logits, target, mask)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(ref, zero - 3 / 6)  # 3 class terms of 6 are -1 instead of 0
    torch.testing.assert_close(g_ref, g_zero)


def test_no_mask_and_3d():
    logits = torch.randn(2, 2, 3, 4, 4)
    target = torch.randint(0, 2, (2, 1, 3, 4, 4))
    torch.testing.assert_close(
        MaskedDiceCELoss(0.5)(logits, target), manual(logits, target[:, 0], torch.ones(2, 3, 4, 4), 0.5)
    )


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="dice_weight"):
        MaskedDiceCELoss(1.5)
    with pytest.raises(ValueError, match="empty_mask"):
        MaskedDiceCELoss(0.5, empty_mask="nan")
