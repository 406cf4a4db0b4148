# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The batched views on the device (2D and 3D): alignment, the per-sample path's operations and distributions,
determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import CacheDataset
from monai.transforms import AdjustContrast, Compose, GaussianSmooth, Randomizable, ScaleIntensity
from scipy.ndimage import gaussian_filter
from scipy.stats import ks_2samp

from adamix_monai.data.device_views import (
    BatchViews2d,
    BatchViews3d,
    RecordSpatialShaped,
    adjust_gamma_batch,
    equalize_batch,
    gaussian_blur_reflect,
    isic_batch_views,
)
from adamix_monai.data.views import EqualizeHistogramd, weak_strong_views_2d
from adamix_monai.data.views_3d import weak_strong_views_3d
from adamix_monai.workflows.settings import SettingsError, check_settings


def quantized(x: torch.Tensor) -> torch.Tensor:
    return (x * 4).floor().long().clamp(0, 3)


def forced(views: BatchViews2d, batch: int, **params) -> BatchViews2d:
    """``views`` with its next draw replaced: every geometric flag off except those given."""
    views.randomize(batch_size=batch)
    views.params.update(
        flip_h=np.zeros(batch, bool),
        flip_w=np.zeros(batch, bool),
        rotate=np.zeros(batch, bool),
    )
    views.params.update({k: np.asarray(v) for k, v in params.items()})
    return views


@pytest.mark.parametrize(
    "params",
    [
        dict(flip_h=[True, False]),
        dict(flip_w=[True, True]),
        dict(rotate=[True, True], angle=[0.7, -2.9]),
        dict(
            flip_h=[True, False],
            flip_w=[False, True],
            rotate=[True, True],
            angle=[2.0, -0.3],
        ),
    ],
    ids=["flip_h", "flip_w", "rotate", "all"],
)
@pytest.mark.parametrize("source", [None, (90, 60)], ids=["square-frame", "native-3x2"])
def test_labels_follow_the_image_under_every_geometric_op(params, source):
    torch.manual_seed(0)
    image = torch.rand(2, 1, 48, 48) + 0.01  # no zeros: zeros in the output are the rotation's fill
    label = quantized(image)
    views = forced(BatchViews2d(), 2, **params)
    shape = None if source is None else torch.tensor([source, source])
    weak, lab = views.geometry(image, label, shape)
    assert lab.dtype == label.dtype and weak.shape == image.shape
    assert torch.equal(lab, torch.where(weak > 0, quantized(weak), torch.zeros_like(lab)))
    if "angle" not in params:  # flips alone are exact index flips
        for i in range(2):
            expected = image[i]
            if params.get("flip_h", [False] * 2)[i]:
                expected = expected.flip(1)
            if params.get("flip_w", [False] * 2)[i]:
                expected = expected.flip(2)
            assert torch.equal(weak[i], expected)


def test_a_quarter_turn_of_a_square_image_is_rot90():
    image = torch.rand(1, 1, 32, 32) + 0.01
    weak, _ = forced(BatchViews2d(), 1, rotate=[True], angle=[math.pi / 2]).geometry(image, None)
    assert torch.equal(weak[0, 0], torch.rot90(image[0, 0], 1)) or torch.equal(weak[0, 0], torch.rot90(image[0, 0], -1))


def test_rotation_happens_in_the_native_pixel_frame():
    """A 60 x 120 image resized to 64 x 64 and turned a quarter: only the native 60 x 60 centre can stay inside."""
    image = torch.ones(1, 1, 64, 64)
    views = forced(BatchViews2d(), 1, rotate=[True], angle=[math.pi / 2])
    native, _ = views.geometry(image, None, torch.tensor([[60, 120]]))
    resized, _ = forced(BatchViews2d(), 1, rotate=[True], angle=[math.pi / 2]).geometry(image, None)
    assert resized.mean() == 1.0  # square frame: a quarter turn keeps every pixel
    cols = native[0, 0].amax(0)  # in the native frame the 120 wide image keeps only its middle 60 columns
    assert abs(cols.mean().item() - 0.5) < 0.05


def test_equalisation_matches_monai_per_channel():
    torch.manual_seed(1)
    x = torch.rand(3, 3, 20, 24) ** 2
    expected = torch.stack([torch.as_tensor(EqualizeHistogramd("image")({"image": x[i]})["image"]) for i in range(3)])
    assert torch.allclose(equalize_batch(x), expected.float(), atol=1e-6)


def test_blur_and_autocontrast_match_monai():
    torch.manual_seed(2)
    x = torch.rand(2, 1, 40, 36)
    views = BatchViews2d()
    sigma = np.array([[0.4, 1.7], [1.9, 0.1]])
    blurred = views._blur(x, sigma)
    for i in range(2):
        expected = GaussianSmooth(sigma=tuple(sigma[i]))(x[i])
        assert torch.allclose(blurred[i], torch.as_tensor(expected), atol=1e-6)
    views.randomize(batch_size=2)
    views.params.update(
        jitter=np.zeros(2, bool),
        autocontrast=np.ones(2, bool),
        equalize=np.zeros(2, bool),
        blur=np.zeros(2, bool),
    )
    out = views.photometric(x * 0.5 + 0.2)
    for i in range(2):
        expected = ScaleIntensity(minv=0.0, maxv=1.0, channel_wise=True)(x[i] * 0.5 + 0.2)
        assert torch.allclose(out[i], torch.as_tensor(expected), atol=1e-6)


def _workers_and_device_draws(n: int, **settings):
    """Statistics of ``n`` views of one image from each path (per-sample MONAI pipeline, batched device path)."""
    torch.manual_seed(3)
    rows, cols = torch.meshgrid(torch.linspace(0.05, 1, 40), torch.linspace(0.05, 1, 32), indexing="ij")
    image = (0.6 * rows + 0.4 * cols)[None].float()  # asymmetric in both axes, no zeros
    label = quantized(image)
    per_sample = weak_strong_views_2d(spatial_size=(40, 32), **settings)
    resize_only = weak_strong_views_2d(spatial_size=(40, 32), views="device", **settings)
    a = []
    for k in range(n):
        per_sample.set_random_state(seed=k)
        out = per_sample({"image": image.clone(), "label": label.clone()})
        a.append((torch.as_tensor(out["image"]), torch.as_tensor(out["image_strong"])))
    item = resize_only({"image": image.clone(), "label": label.clone()})
    batch = {
        "image": torch.as_tensor(item["image"])[None].expand(n, -1, -1, -1).clone(),
        "label": torch.as_tensor(item["label"])[None].expand(n, -1, -1, -1).clone(),
        "source_shape": item["source_shape"][None].expand(n, -1),
    }
    out = BatchViews2d(**settings)(batch, stream=0, position=0)
    b = list(zip(out["image"], out["image_strong"]))

    def stats(views):
        weak = torch.stack([w for w, _ in views])
        strong = torch.stack([s for _, s in views])
        h = weak.shape[2] // 2
        return {
            "top_minus_bottom": (weak[:, :, :h].mean((1, 2, 3)) - weak[:, :, h:].mean((1, 2, 3))).numpy(),
            "left_minus_right": (weak[..., :16].mean((1, 2, 3)) - weak[..., 16:].mean((1, 2, 3))).numpy(),
            "fill_fraction": (weak < 0.02).float().mean((1, 2, 3)).numpy(),
            "strong_mean": strong.mean((1, 2, 3)).numpy(),
            "strong_std": strong.std((1, 2, 3)).numpy(),
            "strong_edges": (strong[..., 1:] - strong[..., :-1]).abs().mean((1, 2, 3)).numpy(),
        }

    return stats(a), stats(b)


def test_parameter_distributions_match_the_per_sample_path():
    """Two-sample Kolmogorov-Smirnov tests over 400 draws per path of statistics that each geometric and
    photometric parameter moves (flips, angle, fill, jitter, autocontrast, equalisation, blur).
    """
    a, b = _workers_and_device_draws(400)
    for name in a:
        p = ks_2samp(a[name], b[name]).pvalue
        assert p > 1e-3, f"{name}: p = {p:.2e} (workers mean {a[name].mean():.4f}, device {b[name].mean():.4f})"


def test_rgb_parameter_distributions_match_the_per_sample_path():
    """The ISIC settings (saturation, hue, posterisation, always blurred) on an RGB image."""
    torch.manual_seed(4)
    image = torch.rand(3, 24, 24) * 0.8 + 0.1
    settings = dict(saturation=0.5, hue=0.05, posterize_prob=0.2, blur_prob=1.0, rotate_prob=0.0)
    per_sample = weak_strong_views_2d(spatial_size=(24, 24), label_key=None, **settings)
    stats_a = []
    for k in range(300):
        per_sample.set_random_state(seed=k)
        stats_a.append(torch.as_tensor(per_sample({"image": image.clone()})["image_strong"]))
    out = BatchViews2d(**settings)({"image": image[None].expand(300, -1, -1, -1).clone()}, stream=0, position=0)
    a, b = torch.stack(stats_a), out["image_strong"]
    for c in range(3):
        for stat in (lambda t: t[:, c].mean((1, 2)), lambda t: t[:, c].std((1, 2))):
            p = ks_2samp(stat(a).numpy(), stat(b).numpy()).pvalue
            assert p > 1e-3, f"channel {c}: p = {p:.2e}"


def test_views_are_a_function_of_seed_stream_and_position():
    x = {
        "image": torch.rand(4, 1, 32, 32),
        "label": torch.zeros(4, 1, 32, 32, dtype=torch.long),
    }
    v = BatchViews2d(seed=5)
    first = v(x, stream=2, position=7)
    v(x, stream=2, position=8)  # another draw in between changes nothing
    again = v(x, stream=2, position=7)
    assert all(torch.equal(first[k], again[k]) for k in first)
    other_position, other_stream = v(x, stream=2, position=8), v(x, stream=3, position=7)
    assert not torch.equal(first["image_strong"], other_position["image_strong"])
    assert not torch.equal(first["image_strong"], other_stream["image_strong"])
    other_seed = BatchViews2d(seed=6)(x, stream=2, position=7)
    assert not torch.equal(first["image_strong"], other_seed["image_strong"])
    other_rank = BatchViews2d(seed=5, rank=1)(x, stream=2, position=7)
    assert not torch.equal(first["image_strong"], other_rank["image_strong"])


def test_isic_views_normalise_both_views_last():
    x = {"image": torch.rand(3, 3, 16, 16)}
    out = isic_batch_views(seed=1)(x, stream=0, position=0)
    assert out["image"].shape == out["image_strong"].shape == (3, 3, 16, 16)
    assert out["image"].min() < -1.5  # (0 - 0.485) / 0.229 = -2.1: ImageNet-normalised, no longer in [0, 1]


def test_the_device_pipeline_of_the_loaders_is_resize_only_and_records_the_native_shape():
    pipeline = weak_strong_views_2d(spatial_size=(16, 16), views="device")
    out = pipeline({"image": torch.rand(1, 30, 20), "label": torch.zeros(1, 30, 20)})
    assert out["image"].shape == (1, 16, 16) and "image_strong" not in out
    assert out["source_shape"].tolist() == [30, 20]
    assert not isinstance(pipeline, Randomizable)  # so a CacheDataset caches the resized items, not the loaded ones
    item = {"image": torch.rand(1, 30, 20), "label": torch.zeros(1, 30, 20)}
    cached = CacheDataset([item], Compose([pipeline]), progress=False)
    assert cached._cache[0]["image"].shape == (1, 16, 16)
    assert RecordSpatialShaped("image", name="s")({"image": torch.zeros(2, 5, 6)})["s"].tolist() == [5, 6]
    with pytest.raises(ValueError, match="views must be 'workers' or 'device'"):
        weak_strong_views_2d(views="gpu")


def test_bundle_settings_check_views():
    assert check_settings(views="device", spatial_dims=2)
    with pytest.raises(SettingsError, match="--views 'gpu': expected one of workers, device"):
        check_settings(views="gpu")
    assert check_settings(views="device", spatial_dims=3)


# ---- 3D (LA) -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(12, 14, 16), (5, 9, 3)], ids=["sides-above-radius", "sides-below-radius"])
def test_3d_blur_is_scipys_reflect_gaussian_per_image(shape):
    """Each volume with its own sigma, edges reflected as scipy's ``"reflect"`` (also where the kernel is wider
    than the side and the reflection repeats), sigma 0 leaving a volume as it is."""
    torch.manual_seed(0)
    x = torch.randn(4, 2, *shape)
    sigma = np.array([0.1, 0.9, 2.0, 0.0])
    out = gaussian_blur_reflect(x, sigma)
    for i in range(3):
        expected = gaussian_filter(x[i].numpy(), sigma=(0.0,) + (sigma[i],) * 3, mode="reflect", truncate=4.0)
        np.testing.assert_allclose(out[i].numpy(), expected, atol=2e-6)
    assert torch.equal(out[3], x[3])


def test_3d_gamma_is_monais_adjust_contrast_with_retained_stats():
    torch.manual_seed(1)
    x = torch.randn(3, 1, 6, 7, 8) * 2 + 1
    gamma = torch.tensor([0.75, 1.1, 1.25])
    out = adjust_gamma_batch(x, gamma)
    for i in range(3):
        expected = torch.as_tensor(AdjustContrast(float(gamma[i]), retain_stats=True)(x[i]))
        assert torch.allclose(out[i], expected, atol=1e-6)
        assert torch.allclose(out[i].mean(), x[i].mean(), atol=1e-5)
        assert torch.allclose(out[i].std(), x[i].std(), atol=1e-5)


def test_3d_loader_keeps_the_geometry_and_the_device_adds_the_strong_view():
    """``views="device"``: the loader's pipeline rotates, flips, pads and crops the volume and its label together
    and makes no strong view; the device leaves the weak view and the label as they came and adds the strong view,
    which the blur or gamma of a drawn volume changes."""
    rng = np.random.RandomState(0)
    image = torch.as_tensor(rng.rand(1, 10, 14, 12).astype(np.float32)) + 0.1
    label = (image > 0.6).long()
    loader = weak_strong_views_3d(roi_size=(12, 12, 12), views="device", rot_flip_prob=1.0, label_values=None)
    loader.set_random_state(seed=3)
    item = loader({"image": image.clone(), "label": label.clone()})
    assert "image_strong" not in item and item["image"].shape == (1, 12, 12, 12)
    crop = torch.as_tensor(item["image"])
    assert torch.equal(torch.as_tensor(item["label"]).bool(), crop > 0.6)  # the label moved with the image
    batch = {"image": crop[None].expand(6, -1, -1, -1, -1).clone(), "label": torch.as_tensor(item["label"])[None]}
    out = BatchViews3d(blur_prob=1.0, seed=2)(batch, stream=1, position=0)
    assert torch.equal(out["image"], batch["image"]) and torch.equal(out["label"], batch["label"])
    assert out["image_strong"].shape == (6, 1, 12, 12, 12)
    assert all(not torch.equal(out["image_strong"][i], crop) for i in range(6))
    with pytest.raises(ValueError, match="views must be 'workers' or 'device'"):
        weak_strong_views_3d(views="gpu")
    with pytest.raises(ValueError, match=r"must be \(B, C, D, H, W\)"):
        BatchViews3d()({"image": torch.zeros(2, 1, 4, 4)})


def test_3d_parameter_distributions_match_the_per_sample_path():
    """Kolmogorov-Smirnov tests over 300 draws per path of statistics that the gamma (skewness, kept mean and
    standard deviation) and the blur (edges) move: the workers' MONAI pipeline against the batched device path."""
    rng = np.random.RandomState(5)
    z, y, x = np.meshgrid(*(np.linspace(0, 1, n) for n in (8, 10, 12)), indexing="ij")
    volume = torch.as_tensor((np.sin(6 * x) * np.cos(5 * y) + z + 0.3 * rng.rand(8, 10, 12))[None].astype(np.float32))
    n = 300
    per_sample = weak_strong_views_3d(roi_size=(8, 10, 12), label_key=None, rot_flip_prob=0.0)
    a = []
    for k in range(n):
        per_sample.set_random_state(seed=k)
        a.append(torch.as_tensor(per_sample({"image": volume.clone()})["image_strong"]))
    b = BatchViews3d()({"image": volume[None].expand(n, -1, -1, -1, -1).clone()}, stream=0, position=0)

    def stats(strong: torch.Tensor) -> dict[str, np.ndarray]:
        flat = strong.reshape(strong.shape[0], -1)
        centred = flat - flat.mean(1, keepdim=True)
        return {
            "mean": flat.mean(1).numpy(),
            "std": flat.std(1).numpy(),
            "skew": ((centred**3).mean(1) / centred.pow(2).mean(1).pow(1.5)).numpy(),
            "edges": (strong[..., 1:] - strong[..., :-1]).abs().mean((1, 2, 3, 4)).numpy(),
        }

    sa, sb = stats(torch.stack(a)), stats(b["image_strong"])
    for name in sa:
        p = ks_2samp(sa[name], sb[name]).pvalue
        assert p > 1e-3, f"{name}: p = {p:.2e} (workers mean {sa[name].mean():.4f}, device {sb[name].mean():.4f})"


def test_3d_views_are_a_function_of_seed_stream_and_position():
    x = {"image": torch.rand(3, 1, 6, 6, 6)}
    v = BatchViews3d(seed=5, blur_prob=1.0)
    first = v(x, stream=2, position=7)
    v(x, stream=2, position=8)
    again = v(x, stream=2, position=7)
    assert torch.equal(first["image_strong"], again["image_strong"])
    assert not torch.equal(first["image_strong"], v(x, stream=2, position=8)["image_strong"])
    assert not torch.equal(first["image_strong"], BatchViews3d(seed=6, blur_prob=1.0)(x, 2, 7)["image_strong"])
    assert not torch.equal(first["image_strong"], BatchViews3d(seed=5, blur_prob=1.0, rank=1)(x, 2, 7)["image_strong"])
