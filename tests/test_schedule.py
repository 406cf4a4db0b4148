# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The self-paced plan: age lambda(t), the proxy loss, and (direction, n) per image."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adamix_monai.schedule import proxy_dice_loss, ramp_length, self_paced_age, self_paced_plan
from tests.helpers.reference_mix import reference_loss_plan

# docs/algorithm.md section 2.3: rows lambda, columns the proxy loss, K = 16
WORKED_LOSSES = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8]
WORKED_TABLE = {
    0.0067: ["easy 16"] * 6,
    0.2: ["hard 12", "hard 8", "easy 0", "easy 7", "easy 16", "easy 16"],
    0.5: ["hard 14", "hard 12", "hard 9", "hard 6", "easy 0", "easy 9"],
    1.0: ["hard 15", "hard 14", "hard 12", "hard 11", "hard 8", "hard 3"],
}


@pytest.mark.parametrize("age", list(WORKED_TABLE))
def test_worked_table_of_the_reference(age):
    n, hard = self_paced_plan(torch.tensor(WORKED_LOSSES), age, topk=16)
    got = [f"{'hard' if h else 'easy'} {int(k)}" for k, h in zip(n, hard)]
    assert got == WORKED_TABLE[age]


def test_lambda_over_time_as_a_fraction_of_t_m():
    total = 16400  # ACDC: 200 epochs x 82 iterations; t_m = 4100
    assert ramp_length(total) == 4100
    expected = {0.0: 0.0067, 0.2: 0.041, 0.4: 0.165, 0.6: 0.449, 0.8: 0.819, 1.0: 1.0}
    for frac, lam in expected.items():
        assert self_paced_age(frac * 4100, total) == pytest.approx(lam, abs=6e-4)
    assert self_paced_age(0, total) == pytest.approx(math.exp(-5))
    assert self_paced_age(-3, total) == self_paced_age(0, total)
    assert self_paced_age(4100, total) == 1.0 and self_paced_age(16399, total) == 1.0


def test_ramp_length_follows_integer_division_of_the_reference():
    assert ramp_length(10) == 2  # 10 // 4
    assert ramp_length(11400) == 2850 and ramp_length(10000) == 2500
    assert ramp_length(3) == 1  # never 0
    assert ramp_length(100, 0.5) == 50
    with pytest.raises(ValueError, match="total_iterations"):
        ramp_length(0)
    with pytest.raises(ValueError, match="ramp_fraction"):
        ramp_length(10, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    loss=st.floats(0.0, 1.0, allow_nan=False),
    age=st.floats(math.exp(-5), 1.0, allow_nan=False),
    topk=st.integers(1, 64),
)
def test_plan_equals_python_float_reference(loss, age, topk):
    n, hard = self_paced_plan(torch.tensor([loss], dtype=torch.float64), age, topk)
    ref_n, ref_hard = reference_loss_plan(loss, age, topk)
    assert (int(n[0]), bool(hard[0])) == (ref_n, ref_hard)
    assert 0 <= int(n[0]) <= topk


def test_plan_switches():
    loss = torch.tensor([0.1, 0.6])
    n, hard = self_paced_plan(loss, 0.5, 16, use_mask=True, use_weight=False)  # V1: n = K
    assert n.tolist() == [16, 16] and hard.tolist() == [True, False]
    n, hard = self_paced_plan(loss, 0.5, 16, use_mask=False, use_weight=True)  # V2: easy rule
    assert n.tolist() == [12, 3] and hard.tolist() == [False, False]
    n, hard = self_paced_plan(loss, 0.5, 16, use_mask=False, use_weight=False, fixed_hard=True)
    assert n.tolist() == [16, 16] and hard.tolist() == [True, True]


def test_plan_rejects_bad_losses():
    with pytest.raises(ValueError, match="NaN"):
        self_paced_plan(torch.tensor([0.1, float("nan")]), 0.5, 16)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        self_paced_plan(torch.zeros(2, 1), 0.5, 16)


class TestProxyDiceLoss:
    def test_hand_computed(self):
        # one image, 2 classes, 2 pixels; logits chosen so softmax = [[0.5, 0.5], [1, 0]] per class
        logits = torch.tensor([[[0.0, 50.0], [0.0, -50.0]]])  # (B=1, C=2, N=2)
        target = torch.tensor([[1, 0]])
        # p0 = [0.5, 1], p1 = [0.5, 0]; y0 = [0, 1], y1 = [1, 0]
        d0 = 2 * (0.5 * 0 + 1 * 1) / (0.5 + 1 + 1 + 1e-5)
        d1 = 2 * (0.5 * 1 + 0) / (0.5 + 0 + 1 + 1e-5)
        got = proxy_dice_loss(logits, target)
        assert got.shape == (1,)
        assert float(got[0]) == pytest.approx(1 - (d0 + d1) / 2, abs=1e-6)

    def test_per_image_and_target_forms(self):
        gen = torch.Generator().manual_seed(0)
        logits = torch.randn(3, 4, 8, 8, generator=gen)
        target = torch.randint(0, 4, (3, 8, 8), generator=gen)
        a = proxy_dice_loss(logits, target)
        b = proxy_dice_loss(logits, target.unsqueeze(1))
        c = proxy_dice_loss(logits, torch.nn.functional.one_hot(target, 4).permute(0, 3, 1, 2).float())
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c)
        # per image: the loss of image 1 alone is the same as within the batch
        torch.testing.assert_close(proxy_dice_loss(logits[1:2], target[1:2]), a[1:2])
        assert bool(((a >= 0) & (a <= 1)).all())

    def test_perfect_prediction_is_near_zero_and_3d(self):
        target = torch.randint(0, 2, (2, 4, 6, 6))
        logits = torch.nn.functional.one_hot(target, 2).permute(0, 4, 1, 2, 3).float() * 100
        assert float(proxy_dice_loss(logits, target).max()) < 1e-4

    def test_rejects(self):
        with pytest.raises(ValueError, match=r"expected labels in \[0, 2\)"):
            proxy_dice_loss(torch.randn(1, 2, 4, 4), torch.full((1, 4, 4), 5))
        with pytest.raises(ValueError, match="index map"):
            proxy_dice_loss(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
