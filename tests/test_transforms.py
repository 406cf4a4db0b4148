# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""AdaMix / AdaMixd: invariants over random inputs, every mode, determinism, MetaTensor, bad input, real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor

from adamix_monai.mixing import patch_scores
from adamix_monai.transforms import AdaMix, AdaMixd, MixMode
from tests.helpers.batches import make_batch
from tests.helpers.reference_mix import patch_slices, reference_loss_plan, reference_mix, reference_scores

SHAPES = {2: ((4, 4), 3), 3: ((2, 2, 2), 2)}  # spatial dims -> (grid, patch side)


def patch_changed(out: torch.Tensor, orig: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """(B, L) bool: the patch differs from the original's."""
    slices = patch_slices(tuple(orig.shape[2:]), grid)
    return torch.stack(
        [
            torch.tensor([not torch.equal(out[i][(slice(None),) + s], orig[i][(slice(None),) + s]) for s in slices])
            for i in range(orig.shape[0])
        ]
    )


MODES_WITH_PATCHES = ["adamix", "adamix_v1", "adamix_v2", "umix", "iumix"]


@settings(max_examples=30, deadline=None)
@given(
    dims=st.sampled_from([2, 3]),
    b=st.integers(1, 5),
    mode=st.sampled_from(MODES_WITH_PATCHES),
    topk=st.integers(1, 8),
    age=st.floats(0.006, 1.0),
    levels=st.sampled_from([2, 4, 256]),
    seed=st.integers(0, 2**31 - 1),
)
def test_patch_modes_follow_the_plan(dims, b, mode, topk, age, levels, seed):
    grid, patch = SHAPES[dims]
    batch = make_batch(b, grid, patch, seed, levels=levels)
    mix = AdaMixd(keys=["image", "label"], mode=mode, grid=grid, topk=topk, prob=1.0)
    mix.set_random_state(seed)
    mix.set_age(age)
    out = mix(batch)
    stats = mix.last_stats
    assert stats.applied and stats.mode == mode

    # the plan is the one the mode prescribes
    loss = batch["proxy_loss"].double().tolist()
    expect = [reference_loss_plan(v, age, topk) for v in loss]
    if mode == "adamix_v1":
        expect = [(topk, h) for _, h in expect]
    elif mode == "adamix_v2":
        expect = [(n, False) for n, _ in expect]
    elif mode == "umix":
        expect = [(topk, False)] * b
    elif mode == "iumix":
        expect = [(topk, True)] * b
    assert stats.n.tolist() == [n for n, _ in expect]
    assert stats.hard.tolist() == [h for _, h in expect]

    # every tensor equals the per-image reference; labels and confidence follow the image exactly
    c, ca = batch["confidence"][:, 0], batch["confidence_aux"][:, 0]
    want = reference_mix(
        [batch["image"], batch["label"], batch["confidence"]],
        [batch["image_aux"], batch["label_aux"], batch["confidence_aux"]],
        c,
        ca,
        stats.n.tolist(),
        stats.hard.tolist(),
        grid,
    )
    for key, w in zip(["image", "label", "confidence"], want):
        assert torch.equal(out[key], w), key
    # exactly n_i patches replaced (random images: a replaced patch always differs from the original)
    changed = patch_changed(out["image"], batch["image"], grid)
    assert changed.sum(1).tolist() == stats.n.tolist()
    # direction follows the confidence ranks
    so = reference_scores(c, grid)
    for i in range(b):
        n_i = int(stats.n[i])
        if n_i in (0, so.shape[1]):
            continue
        replaced, kept = so[i][changed[i]], so[i][~changed[i]]
        if stats.hard[i]:
            assert replaced.min() >= kept.max()  # the original's most confident patches were replaced
        else:
            assert replaced.max() <= kept.min()  # the original's least confident patches were replaced
    # the auxiliary batch is never modified
    assert torch.equal(out["image_aux"], batch["image_aux"])


@settings(max_examples=15, deadline=None)
@given(dims=st.sampled_from([2, 3]), b=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_cutmix_pastes_in_place_and_identically(dims, b, seed):
    grid, patch = SHAPES[dims]
    batch = make_batch(b, grid, patch, seed)
    mix = AdaMixd(keys=["image", "label"], mode="cutmix", prob=1.0)
    mix.set_random_state(seed)
    out = mix(batch)
    from_aux = out["image"] == batch["image_aux"]
    from_orig = out["image"] == batch["image"]
    assert bool((from_aux | from_orig).all())
    # the same pixels come from the auxiliary image in every key
    assert torch.equal(torch.where(from_aux, batch["label_aux"], batch["label"]), out["label"])
    assert torch.equal(torch.where(from_aux, batch["confidence_aux"], batch["confidence"]), out["confidence"])
    frac = from_aux.reshape(b, -1).float().mean(1)
    torch.testing.assert_close(frac, mix.last_stats.mixed_fraction, atol=0.02, rtol=0)  # ties of random values aside


@pytest.mark.parametrize("mode", [m.value for m in MixMode])
def test_prob_zero_is_the_identity(mode):
    batch = make_batch(3, (4, 4), 3, 0)
    mix = AdaMixd(keys=["image", "label"], mode=mode, grid=4, topk=4, prob=0.0)
    for _ in range(5):
        out = mix(batch)
        for key in batch:
            assert out[key] is batch[key]
        assert not mix.last_stats.applied and mix.last_stats.n.tolist() == [0, 0, 0]


def test_prob_draw_is_per_batch_and_near_p():
    batch = make_batch(2, (4, 4), 2, 0)
    mix = AdaMixd(keys=["image"], mode="umix", grid=4, topk=2, prob=0.5).set_random_state(3)
    fired = []
    for _ in range(400):
        mix(batch)
        fired.append(mix.last_stats.applied)
    assert 0.4 < np.mean(fired) < 0.6


@pytest.mark.parametrize("mode", ["adamix", "cutmix"])
def test_determinism_under_a_seed(mode):
    batch = make_batch(4, (4, 4), 4, 1)
    runs = []
    for seed in (5, 5, 6):
        mix = AdaMixd(keys=["image", "label"], mode=mode, grid=4, topk=6, prob=0.5).set_random_state(seed)
        mix.set_age(0.4)
        runs.append([mix(batch)["image"] for _ in range(6)])
    assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_array_transform_matches_dictionary_transform():
    batch = make_batch(3, (4, 4), 3, 2)
    d = AdaMixd(keys=["image", "label"], grid=4, topk=5, prob=1.0).set_random_state(0)
    d.set_age(0.5)
    a = AdaMix(grid=4, topk=5, prob=1.0)
    a.set_random_state(0)
    a.set_age(0.5)
    out_d = d(batch)
    img, lab, conf = a(
        [batch["image"], batch["label"], batch["confidence"]],
        [batch["image_aux"], batch["label_aux"], batch["confidence_aux"]],
        confidence=batch["confidence"],
        aux_confidence=batch["confidence_aux"],
        proxy_loss=batch["proxy_loss"],
    )
    assert torch.equal(img, out_d["image"]) and torch.equal(lab, out_d["label"])
    assert torch.equal(conf, out_d["confidence"])
    single = AdaMix(mode="iumix", grid=4, topk=5, prob=1.0)(
        batch["image"], batch["image_aux"], confidence=batch["confidence"], aux_confidence=batch["confidence_aux"]
    )
    assert isinstance(single, torch.Tensor) and single.shape == batch["image"].shape


def test_label_forms_one_hot_index_and_channel_less_stay_consistent():
    batch = make_batch(2, (4, 4), 3, 4)
    onehot = torch.nn.functional.one_hot(batch["label"][:, 0], 4).permute(0, 3, 1, 2).float()
    onehot_aux = torch.nn.functional.one_hot(batch["label_aux"][:, 0], 4).permute(0, 3, 1, 2).float()
    batch.update(onehot=onehot, onehot_aux=onehot_aux, flat=batch["label"][:, 0], flat_aux=batch["label_aux"][:, 0])
    mix = AdaMixd(keys=["image", "label", "onehot", "flat"], grid=4, topk=6, prob=1.0).set_random_state(0)
    mix.set_age(0.3)
    out = mix(batch)
    assert torch.equal(out["onehot"].argmax(1), out["label"][:, 0])
    assert torch.equal(out["flat"], out["label"][:, 0])
    assert out["label"].dtype == batch["label"].dtype


def test_metatensor_batches_keep_type_and_metadata():
    batch = make_batch(2, (4, 4), 3, 5)
    image = MetaTensor(batch["image"], meta={"filename_or_obj": ["a.nii", "b.nii"]})
    image.is_batch = True
    batch["image"] = image
    for mode in ("adamix", "cutmix"):
        mix = AdaMixd(keys=["image", "label"], mode=mode, grid=4, topk=4, prob=1.0).set_random_state(0)
        out = mix(batch)
        assert isinstance(out["image"], MetaTensor) and out["image"].is_batch
        assert out["image"].meta["filename_or_obj"] == ["a.nii", "b.nii"]
        assert not isinstance(out["label"], MetaTensor)


def test_pairs_within_the_batch_without_auxiliary_keys():
    batch = {k: v for k, v in make_batch(4, (4, 4), 3, 6).items() if not k.endswith("_aux")}
    mix = AdaMixd(keys=["image", "label"], mode="umix", grid=4, topk=4, prob=1.0, aux_postfix=None)
    out = mix.set_random_state(1)(batch)
    # every output patch comes from some image of the same batch, and labels follow
    slices = patch_slices((12, 12), (4, 4))
    for i in range(4):
        for s in slices:
            sel = (slice(None),) + s
            sources = [
                j
                for j in range(4)
                for t in slices
                if torch.equal(out["image"][i][sel], batch["image"][j][(slice(None),) + t])
            ]
            assert sources


def test_proxy_loss_computed_from_prediction_keys():
    batch = make_batch(3, (4, 4), 3, 7)
    del batch["proxy_loss"]
    batch["pred"] = torch.randn(3, 4, 12, 12)
    mix = AdaMixd(keys=["image", "label"], grid=4, topk=4, prob=1.0, proxy_pred_key="pred", proxy_target_key="label")
    mix.set_random_state(0)
    mix(batch)
    from adamix_monai.schedule import proxy_dice_loss

    torch.testing.assert_close(mix.last_stats.proxy_loss, proxy_dice_loss(batch["pred"], batch["label"]))


class TestBadInput:
    def batch(self):
        return make_batch(2, (4, 4), 4, 0)

    def test_aux_shape_mismatch_names_the_key(self):
        b = self.batch()
        b["label_aux"] = b["label_aux"][:, :, :8]
        with pytest.raises(ValueError, match=r"'label_aux' has shape \(2, 1, 8, 16\) but 'label' has \(2, 1, 16, 16\)"):
            AdaMixd(keys=["image", "label"], grid=4, topk=4, prob=1.0)(b)

    def test_label_spatial_mismatch(self):
        b = self.batch()
        b["label"] = b["label"][..., :8]
        b["label_aux"] = b["label_aux"][..., :8]
        with pytest.raises(ValueError, match=r"'label' has shape \(2, 1, 16, 8\); expected"):
            AdaMixd(keys=["image", "label"], grid=4, topk=4, prob=1.0)(b)

    def test_not_divisible_and_too_large_grids(self):
        with pytest.raises(ValueError, match="not divisible"):
            AdaMixd(keys=["image"], grid=3, topk=4, prob=1.0)(self.batch())
        with pytest.raises(ValueError, match="larger than the image"):
            AdaMixd(keys=["image"], grid=32, topk=4, prob=1.0)(self.batch())

    def test_topk_larger_than_the_grid(self):
        with pytest.raises(ValueError, match=r"topk=20 exceeds the 16 patches"):
            AdaMixd(keys=["image"], grid=(4, 4), topk=20)
        with pytest.raises(ValueError, match=r"topk=20 exceeds the 16 patches"):
            AdaMixd(keys=["image"], grid=4, topk=20, prob=1.0)(self.batch())

    def test_nan_confidence(self):
        b = self.batch()
        b["confidence_aux"][1, 0, 3, 3] = float("nan")
        with pytest.raises(ValueError, match="'confidence_aux' holds NaN"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)

    def test_confidence_with_channels(self):
        b = self.batch()
        b["confidence"] = b["confidence"].repeat(1, 2, 1, 1)
        b["confidence_aux"] = b["confidence_aux"].repeat(1, 2, 1, 1)
        with pytest.raises(ValueError, match="one value per pixel"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)

    def test_missing_keys(self):
        b = self.batch()
        del b["confidence"]
        with pytest.raises(KeyError, match="no 'confidence' key"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)
        b = self.batch()
        del b["proxy_loss"]
        with pytest.raises(KeyError, match="proxy loss under 'proxy_loss'"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)
        b = self.batch()
        del b["image_aux"]
        with pytest.raises(KeyError, match="no auxiliary batch 'image_aux'"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)
        # cutmix needs neither confidence nor proxy loss
        b = self.batch()
        del b["confidence"], b["confidence_aux"], b["proxy_loss"]
        AdaMixd(keys=["image"], mode="cutmix", prob=1.0)(b)

    def test_proxy_loss_shape_and_values(self):
        b = self.batch()
        b["proxy_loss"] = torch.tensor([0.1, 0.2, 0.3])
        with pytest.raises(ValueError, match=r"has 3 values; expected one per image, shape \(2,\)"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)
        b["proxy_loss"] = torch.tensor([0.1, float("nan")])
        with pytest.raises(ValueError, match="NaN"):
            AdaMixd(keys=["image"], grid=4, topk=4, prob=1.0)(b)

    def test_unknown_mode_and_bad_image(self):
        with pytest.raises(ValueError, match="unknown mode 'mixup'"):
            AdaMixd(keys=["image"], mode="mixup")
        with pytest.raises(ValueError, match=r"'image' must be a batch \(B, C, \*spatial\)"):
            AdaMixd(keys=["image"], grid=(4, 4), topk=4, prob=1.0)({"image": torch.rand(16, 16)})


@pytest.mark.realdata
def test_real_acdc_slices_keep_labels_aligned(acdc_dir):
    """Mix real ACDC slices and labels; every pixel's (image, label) pair comes from one source pixel."""
    import h5py
    from monai.transforms import ResizeWithPadOrCrop

    names = (acdc_dir / "train_slices.list").read_text().split()
    pick = [names[i] for i in (3, 40, 77, 120, 500, 900, 1100, 1300)]
    fit = ResizeWithPadOrCrop((256, 256))
    images, labels = [], []
    for name in pick:
        with h5py.File(acdc_dir / "data" / "slices" / f"{name}.h5", "r") as f:
            images.append(fit(torch.as_tensor(f["image"][()])[None]))
            labels.append(fit(torch.as_tensor(f["label"][()].astype(np.int64))[None]))
    image, label = torch.stack(images).float(), torch.stack(labels).long()
    assert set(label.unique().tolist()) <= {0, 1, 2, 3} and len(label.unique()) > 1
    # a plausible confidence: high inside structures and background, low near the label boundaries
    lab = label.float()
    edge = (torch.nn.functional.max_pool2d(lab, 9, 1, 4) != -torch.nn.functional.max_pool2d(-lab, 9, 1, 4)).float()
    conf = 1.0 - 0.5 * edge
    perm = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    loss = torch.linspace(0.02, 0.9, 8)
    batch = {
        "image": image,
        "label": label,
        "confidence": conf,
        "image_aux": image[perm],
        "label_aux": label[perm],
        "confidence_aux": conf[perm],
        "proxy_loss": loss,
    }
    mix = AdaMixd(keys=["image", "label"], grid=8, topk=16, prob=1.0).set_random_state(0)
    mix.set_age(0.5)
    out = mix(batch)
    want = reference_mix(
        [image, label],
        [image[perm], label[perm]],
        conf[:, 0],
        conf[perm][:, 0],
        mix.last_stats.n.tolist(),
        mix.last_stats.hard.tolist(),
        (8, 8),
    )
    assert torch.equal(out["image"], want[0]) and torch.equal(out["label"], want[1])
    assert mix.last_stats.hard.tolist() == (loss < 0.5).tolist()
    assert int(mix.last_stats.n.sum()) > 0
    # hard images lost their most confident (smooth) patches: the mean confidence of the result drops
    hard = mix.last_stats.hard & (mix.last_stats.n > 0)
    mean_before = patch_scores(conf, (8, 8)).mean(1)
    mean_after = patch_scores(out["confidence"], (8, 8)).mean(1)
    assert bool((mean_after[hard] <= mean_before[hard]).all())
    easy = ~mix.last_stats.hard & (mix.last_stats.n > 0)
    assert bool((mean_after[easy] >= mean_before[easy]).all())


@pytest.mark.parametrize("age", [float("nan"), float("inf"), -0.1])
def test_set_age_refuses_nan_infinite_and_negative(age):
    mix = AdaMix(mode="adamix")
    with pytest.raises(ValueError, match="age must be a finite number"):
        mix.set_age(age)


def test_aux_of_another_dtype_of_the_same_width_is_refused_not_reinterpreted():
    """int64 labels with float64 aux labels would otherwise be copied as raw bytes (4607182418800017408 for 1.0)."""
    mix = AdaMixd(keys=["image", "label"], mode="iumix", grid=2, topk=1, prob=1.0)
    x = torch.rand(2, 1, 8, 8)
    batch = {
        "image": x, "image_aux": torch.rand(2, 1, 8, 8),
        "label": torch.zeros(2, 1, 8, 8, dtype=torch.int64), "label_aux": torch.ones(2, 1, 8, 8, dtype=torch.float64),
        "confidence": torch.rand(2, 1, 8, 8), "confidence_aux": torch.rand(2, 1, 8, 8),
    }  # fmt: skip
    with pytest.raises(ValueError, match="'label_aux' is torch.float64 .* 'label' is torch.int64"):
        mix(batch)
    batch["label_aux"] = batch["label_aux"].long()
    out = mix(batch)
    assert set(out["label"].unique().tolist()) <= {0, 1}


class TestRandomizeThenApply:
    """MONAI's pattern: ``randomize`` makes one plan per batch, each tensor is mixed under it with randomize=False."""

    @pytest.mark.parametrize("mode", ["adamix", "iumix", "cutmix"])
    def test_randomize_then_apply_equals_one_call(self, mode):
        b = make_batch(3, (4, 4), 4, 5)
        keys = ("image", "label", "confidence")
        conf = dict(confidence=b["confidence"], aux_confidence=b["confidence_aux"], proxy_loss=b["proxy_loss"])
        one = AdaMix(mode=mode, grid=4, topk=6, prob=1.0).set_random_state(seed=3)
        want = one([b[k] for k in keys], [b[k + "_aux"] for k in keys], **conf)
        split = AdaMix(mode=mode, grid=4, topk=6, prob=1.0).set_random_state(seed=3)
        split.randomize(b["image"], **conf)
        got = [split(b[k], b[k + "_aux"], randomize=False) for k in keys]
        for g, w in zip(got, want):
            assert torch.equal(g, w)
        assert split.last_stats.applied and torch.equal(split.last_stats.n, one.last_stats.n)
        assert not torch.equal(got[0], b["image"])  # the plan mixed something

    def test_draw_then_plan_equals_randomize(self):
        b = make_batch(4, (4, 4), 4, 6)
        conf = (b["confidence"], b["confidence_aux"], b["proxy_loss"])
        outs = []
        for split in (False, True):
            mix = AdaMix(mode="adamix", grid=4, topk=4, prob=0.5).set_random_state(seed=11)
            mixed = []
            for _ in range(6):  # several draws, some of which fail
                if split:
                    mix.draw()
                    mix.plan(b["image"], *conf)
                else:
                    mix.randomize(b["image"], *conf)
                mixed.append(mix(b["image"], b["image_aux"], randomize=False))
            outs.append(mixed)
        assert all(torch.equal(x, y) for x, y in zip(*outs))
        assert any(torch.equal(x, b["image"]) for x in outs[0]) and not all(torch.equal(x, b["image"]) for x in outs[0])

    def test_a_failed_draw_needs_no_confidence_and_leaves_the_batch(self):
        b = make_batch(2, (4, 4), 4, 7)
        mix = AdaMix(mode="adamix", grid=4, topk=4, prob=0.0)
        assert mix.draw() is False and not mix.will_mix
        mix.plan(b["image"])  # nothing the mix would read is needed
        assert mix(b["label"], b["label_aux"], randomize=False) is b["label"]
        assert mix.last_stats.applied is False and int(mix.last_stats.n.sum()) == 0

    def test_applying_without_a_plan_is_an_error(self):
        b = make_batch(2, (4, 4), 4, 8)
        mix = AdaMix(mode="cutmix", prob=1.0)
        with pytest.raises(RuntimeError, match=r"no plan for the current draw; call randomize\(image"):
            mix(b["image"], b["image_aux"], randomize=False)
        mix.randomize()  # the decision only: still no plan
        with pytest.raises(RuntimeError, match="no plan"):
            mix.apply(b["image"], b["image_aux"])
        mix.randomize(b["image"])
        assert mix.apply(b["image"], b["image_aux"]).shape == b["image"].shape

    def test_a_tensor_of_another_batch_is_refused(self):
        b = make_batch(2, (4, 4), 4, 9)
        mix = AdaMix(mode="cutmix", prob=1.0)
        mix.randomize(b["image"])
        other = make_batch(3, (4, 4), 4, 9)
        with pytest.raises(ValueError, match=r"'label' has shape \(3, 1, 16, 16\); expected \(B, C, \*spatial\) = \(2"):
            mix.apply(other["label"], other["label_aux"], name="label")
