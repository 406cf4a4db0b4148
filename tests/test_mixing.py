# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The functional mixing core: grids, patch scores, plans and their application, CutMix boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adamix_monai.mixing import apply_mask, apply_patch_plan, box_mask, boxes_to_mask, ensure_grid, patch_scores, plan_patch_mix
from tests.helpers.reference_mix import patch_slices, reference_mix, reference_scores


def quantised(shape: tuple[int, ...], gen: torch.Generator, levels: int = 256) -> torch.Tensor:
    """Confidence values k/levels: patch sums are exact in float32, so ranks are unambiguous."""
    return torch.randint(0, levels + 1, shape, generator=gen).float() / levels


class TestEnsureGrid:
    def test_int_and_sequence(self):
        assert ensure_grid(8, (256, 256)) == (8, 8)
        assert ensure_grid((4, 4, 4), (80, 112, 112)) == (4, 4, 4)
        assert ensure_grid([2, 4], (16, 32)) == (2, 4)

    @pytest.mark.parametrize(
        "grid, spatial, match",
        [
            (7, (256, 256), "not divisible"),
            ((4, 4), (80, 112, 112), "spatial axes"),
            (300, (256, 256), "larger than the image"),
            ((0, 8), (256, 256), ">= 1"),
        ],
    )
    def test_rejects(self, grid, spatial, match):
        with pytest.raises(ValueError, match=match):
            ensure_grid(grid, spatial)


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 3),
    grid=st.sampled_from([(2, 2), (4, 2), (3, 5), (2, 2, 2), (1, 3, 2)]),
    patch=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_patch_scores_match_patchwise_means(b, grid, patch, seed):
    gen = torch.Generator().manual_seed(seed)
    spatial = tuple(g * patch for g in grid)
    conf = quantised((b, *spatial), gen)
    expected = reference_scores(conf, grid)
    torch.testing.assert_close(patch_scores(conf, grid).double(), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(patch_scores(conf.unsqueeze(1), grid).double(), expected, rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 4),
    grid=st.sampled_from([(2, 2), (4, 4), (2, 3), (2, 2, 2), (3, 2, 2)]),
    patch=st.integers(1, 3),
    channels=st.integers(1, 3),
    levels=st.sampled_from([2, 4, 256]),
    seed=st.integers(0, 2**31 - 1),
)
def test_apply_patch_plan_equals_per_image_reference(b, grid, patch, channels, levels, seed):
    gen = torch.Generator().manual_seed(seed)
    spatial = tuple(g * patch for g in grid)
    num = int(np.prod(grid))
    x, xa = torch.rand(b, channels, *spatial, generator=gen), torch.rand(b, channels, *spatial, generator=gen)
    y, ya = torch.randint(0, 4, (b, 1, *spatial), generator=gen), torch.randint(0, 4, (b, 1, *spatial), generator=gen)
    c, ca = quantised((b, *spatial), gen, levels), quantised((b, *spatial), gen, levels)
    n = torch.randint(0, num + 1, (b,), generator=gen)
    hard = torch.rand(b, generator=gen) < 0.5
    plan = plan_patch_mix(patch_scores(c, grid), patch_scores(ca, grid), n, hard, grid)
    got = [apply_patch_plan(t, ta, plan) for t, ta in ((x, xa), (y, ya), (c.unsqueeze(1), ca.unsqueeze(1)))]
    want = reference_mix([x, y, c.unsqueeze(1)], [xa, ya, ca.unsqueeze(1)], c, ca, n.tolist(), hard.tolist(), grid)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    # channel-less tensors follow the same plan
    torch.testing.assert_close(apply_patch_plan(y[:, 0], ya[:, 0], plan), want[1][:, 0], rtol=0, atol=0)


def test_apply_patch_plan_leaves_inputs_untouched_and_handles_noncontiguous():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 16, 16, generator=gen)
    xa = torch.rand(2, 1, 16, 16, generator=gen).transpose(-1, -2)  # non-contiguous auxiliary
    c = quantised((2, 16, 16), gen)
    ca = quantised((2, 16, 16), gen)
    x0, xa0 = x.clone(), xa.clone()
    plan = plan_patch_mix(
        patch_scores(c, (4, 4)), patch_scores(ca, (4, 4)), torch.tensor([3, 5]), torch.tensor([True, False]), (4, 4)
    )
    out = apply_patch_plan(x, xa, plan)
    assert torch.equal(x, x0) and torch.equal(xa, xa0)
    want = reference_mix([x], [xa.contiguous()], c, ca, [3, 5], [True, False], (4, 4))[0]
    assert torch.equal(out, want)


def test_zero_patches_is_a_copy():
    x = torch.rand(3, 2, 8, 8)
    plan = plan_patch_mix(
        torch.rand(3, 4), torch.rand(3, 4), torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.bool), (2, 2)
    )
    out = apply_patch_plan(x, torch.rand(3, 2, 8, 8), plan)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


class TestBoxMask:
    @pytest.mark.parametrize("rule", ["toggle", "union"])
    @pytest.mark.parametrize("spatial", [(64, 64), (40, 96), (8, 32, 48)])
    def test_area_and_shape(self, spatial, rule):
        rng = np.random.RandomState(0)
        mask = box_mask(64, spatial, rng, rule=rule)
        assert mask.shape == (64, *spatial) and mask.dtype == torch.bool
        frac = mask.reshape(64, -1).float().mean(1)
        # three boxes of at most a third of 50% each, rounded to whole pixels; overlaps only remove area
        assert float(frac.max()) <= 0.5 + 0.05 and float(frac.min()) > 0.0
        assert 0.15 < float(frac.mean()) < 0.5
        if len(spatial) == 3:  # boxes extend over the whole first axis
            assert torch.equal(mask, mask[:, :1].expand_as(mask))

    def test_mean_area_is_the_reference_generators(self):
        """One area per box and toggling overlaps: mean mixed area 0.251 at 256x256 (0.305 for the union rule)."""
        toggle = box_mask(4000, (256, 256), np.random.RandomState(0)).float().mean()
        union = box_mask(4000, (256, 256), np.random.RandomState(0), rule="union").float().mean()
        assert float(toggle) == pytest.approx(0.251, abs=0.006)
        assert float(union) == pytest.approx(0.305, abs=0.006)

    def test_overlapping_boxes_toggle_each_other_off(self):
        """Three 91x91 boxes at (0,0), (16,16), (33,33): the reference's rule keeps only odd coverage."""
        starts = torch.tensor([[[0, 0], [16, 16], [33, 33]]])
        toggle = boxes_to_mask(starts, starts + 91, (256, 256))
        union = boxes_to_mask(starts, starts + 91, (256, 256), rule="union")
        assert float(toggle.float().mean()) == pytest.approx(0.143, abs=5e-4)
        assert float(union.float().mean()) == pytest.approx(0.210, abs=5e-4)
        assert not toggle[0, 20, 20] and union[0, 20, 20]  # covered by two boxes: toggled off
        assert toggle[0, 40, 40] and toggle[0, 5, 5]  # three boxes / one box: on
        coverage = sum(boxes_to_mask(starts[:, b : b + 1], starts[:, b : b + 1] + 91, (256, 256)).long() for b in range(3))
        assert torch.equal(toggle, coverage % 2 == 1)

    def test_rejects_unknown_rule(self):
        with pytest.raises(ValueError, match="rule must be one of"):
            box_mask(2, (8, 8), np.random.RandomState(0), rule="xor")

    def test_seeded(self):
        a = box_mask(4, (32, 32), np.random.RandomState(7))
        b = box_mask(4, (32, 32), np.random.RandomState(7))
        c = box_mask(4, (32, 32), np.random.RandomState(8))
        assert torch.equal(a, b) and not torch.equal(a, c)

    def test_apply_mask_blends_every_channel(self):
        x, xa = torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
        mask = box_mask(2, (8, 8), np.random.RandomState(0))
        out = apply_mask(x, xa, mask)
        assert torch.equal(out, mask.unsqueeze(1).expand_as(out).float())
        assert torch.equal(apply_mask(x[:, 0], xa[:, 0], mask), mask.float())


def test_patch_slices_cover_the_image_once():
    cover = torch.zeros(6, 8, dtype=torch.long)
    for sl in patch_slices((6, 8), (3, 2)):
        cover[sl] += 1
    assert torch.equal(cover, torch.ones_like(cover))


@pytest.mark.parametrize(
    "dtype",
    [
        torch.uint8,
        torch.bool,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    ],
)
@pytest.mark.parametrize("grid, spatial", [((4, 4), (16, 12)), ((2, 2, 2), (4, 6, 10)), ((8, 8), (64, 56))])
def test_patch_copies_are_bit_exact_for_every_dtype(dtype, grid, spatial):
    """Rows are copied through a wider reinterpreted dtype; the result must equal plain slicing bit for bit."""
    gen = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 255, (2, 3, *spatial), generator=gen)
    x = raw.to(dtype) if dtype != torch.bool else raw > 127
    xa = raw.flip(0).to(dtype) if dtype != torch.bool else raw.flip(0) > 127
    c, ca = quantised((2, *spatial), gen), quantised((2, *spatial), gen)
    n, hard = torch.tensor([3, 4]), torch.tensor([False, True])
    plan = plan_patch_mix(patch_scores(c, grid), patch_scores(ca, grid), n, hard, grid)
    want = reference_mix([x], [xa], c, ca, n.tolist(), hard.tolist(), grid)[0]
    got = apply_patch_plan(x, xa, plan)
    assert got.dtype == dtype and torch.equal(got, want)
    # a contiguous auxiliary view at a storage offset of one element cannot be reinterpreted as a wider type
    buf = torch.zeros(1 + xa.numel(), dtype=dtype)
    buf[1:] = xa.reshape(-1)
    shifted = buf[1:].view(xa.shape)
    assert shifted.is_contiguous() and shifted.storage_offset() == 1
    assert torch.equal(apply_patch_plan(x, shifted, plan), got)
