# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The 3D (LA) weak/strong views: geometry shared by image and label, photometric-only strong view, bad inputs."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
import torch
from monai.transforms import AdjustContrast, Compose, RandAdjustContrastd, Transposed
from scipy.ndimage import gaussian_filter

from adamix_monai.data.io import LoadH5d
from adamix_monai.data.sources import LA
from adamix_monai.data.labels import CheckLabelsd
from adamix_monai.data.views_3d import RandGaussianBlurd, RandRotFlipd, weak_strong_views_3d

ROI = (16, 24, 24)


def _item(shape, seed=0, threshold=0.5):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand((1, *shape), generator=g)
    return {"image": image, "label": (image > threshold).long()}


def _plain(x) -> np.ndarray:
    return np.asarray(torch.as_tensor(x).detach().cpu())


def _chain_error(fn, match: str) -> ValueError:
    """Run ``fn`` and return the ``ValueError`` matching ``match`` in the raised exception's cause chain.

    MONAI's ``Compose`` wraps a transform's exception in ``RuntimeError("applying transform ...")``; the original
    error, with its message, is the cause.
    """
    with pytest.raises(Exception) as info:
        fn()
    error: BaseException | None = info.value
    while error is not None and not isinstance(error, ValueError):
        error = error.__cause__
    assert isinstance(error, ValueError), f"no ValueError in the chain of {info.value!r}"
    assert re.search(match, str(error)), f"'{match}' not in '{error}'"
    return error


@pytest.mark.parametrize(
    "shape",
    [(10, 18, 40), (30, 40, 50), (16, 24, 24), (12, 40, 20)],  # small on some axes, large, equal, mixed
)
def test_output_shapes(shape):
    views = weak_strong_views_3d(roi_size=ROI)
    for seed in range(6):
        views.set_random_state(seed=seed)
        out = views(_item(shape, seed))
        assert set(out) >= {"image", "label", "image_strong"}
        for key in ("image", "label", "image_strong"):
            assert tuple(out[key].shape) == (1, *ROI), (key, shape, seed)
        assert out["label"].dtype == torch.int64


def test_small_volume_is_zero_padded_symmetrically():
    views = weak_strong_views_3d(roi_size=ROI, strong=False, rot_flip_prob=0.0)
    image = torch.full((1, 10, 20, 24), 7.0)
    out = views({"image": image, "label": torch.ones((1, 10, 20, 24), dtype=torch.long)})
    img, lab = _plain(out["image"])[0], _plain(out["label"])[0]
    # D: 16 - 10 = 6 -> 3 + 3; H: 4 -> 2 + 2; W: equal, untouched
    assert (img[3:13, 2:22] == 7).all() and (lab[3:13, 2:22] == 1).all()
    assert img.sum() == 7 * 10 * 20 * 24 and lab.sum() == 10 * 20 * 24


def test_labels_follow_the_geometry():
    views = weak_strong_views_3d(roi_size=ROI, rot_flip_prob=1.0)
    for seed in range(12):
        views.set_random_state(seed=seed)
        out = views(_item((20, 30, 22), seed))
        img, lab = _plain(out["image"]), _plain(out["label"])
        np.testing.assert_array_equal(lab, (img > 0.5).astype(np.int64))  # padded zeros: image 0, label 0


def test_rot_flip_is_the_reference_rot90_in_the_d_h_plane():
    volume = torch.arange(4 * 5 * 6, dtype=torch.float32).reshape(1, 4, 5, 6)
    ks, axes = set(), set()
    for seed in range(40):
        t = RandRotFlipd(keys="image", prob=1.0)
        t.set_random_state(seed=seed)
        out = _plain(t({"image": volume})["image"])[0]
        ks.add(t._k)
        axes.add(t._flip_axis)
        expected = np.flip(np.rot90(_plain(volume)[0], t._k, axes=(0, 1)), axis=t._flip_axis)
        np.testing.assert_array_equal(out, expected)
    assert ks == {0, 1, 2, 3} and axes == {1, 2}
    t = RandRotFlipd(keys="image", prob=0.5)
    t.set_random_state(seed=0)
    done = 0
    for _ in range(400):
        out = t({"image": volume})["image"]
        done += int(t._do_transform)
        assert t._do_transform or torch.equal(torch.as_tensor(out), volume)
    assert 160 < done < 240
    with pytest.raises(ValueError, match="flip_axes"):
        RandRotFlipd(keys="image", flip_axes=())


def test_strong_view_differs_only_photometrically():
    item = _item((20, 30, 30), 1)
    # no photometric op: the strong view is the weak view
    same = weak_strong_views_3d(roi_size=ROI, gamma_prob=0.0, blur_prob=0.0)
    same.set_random_state(seed=5)
    out = same(item)
    assert torch.equal(torch.as_tensor(out["image_strong"]), torch.as_tensor(out["image"]))
    # gamma only: a monotonic change that keeps mean and standard deviation
    gamma = weak_strong_views_3d(roi_size=ROI, gamma_prob=1.0, blur_prob=0.0)
    gamma.set_random_state(seed=5)
    out = gamma(item)
    weak, strong = _plain(out["image"]).ravel(), _plain(out["image_strong"]).ravel()
    assert not np.allclose(weak, strong)
    assert np.all(np.diff(strong[np.argsort(weak, kind="stable")]) >= -1e-6)
    assert abs(weak.mean() - strong.mean()) < 1e-5 and abs(weak.std() - strong.std()) < 1e-5
    # blur only: scipy's isotropic Gaussian of the weak view, with the drawn sigma
    blur = weak_strong_views_3d(roi_size=ROI, gamma_prob=0.0, blur_prob=1.0)
    blur.set_random_state(seed=5)
    out = blur(item)
    sigma = blur.transforms[-1]._sigma
    assert 0.1 <= sigma <= 2.0
    expected = gaussian_filter(_plain(out["image"])[0], sigma=sigma, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(_plain(out["image_strong"])[0], expected, atol=1e-6)
    # the geometry (and so the label) is the same with and without the strong view
    weak_only = weak_strong_views_3d(roi_size=ROI, strong=False)
    weak_only.set_random_state(seed=5)
    np.testing.assert_array_equal(_plain(weak_only(item)["image"]), _plain(out["image"]))


def test_gamma_matches_the_reference_formula():
    # the reference AugGama (retain_stats=True): x -> ((x - min) / (range + 1e-7)) ** g * range + min, then the
    # original mean and (population) standard deviation are restored
    x = np.random.default_rng(0).normal(size=(1, 8, 10, 12)).astype(np.float32)
    for g in (0.75, 0.9, 1.1, 1.25):
        lo, rng = x.min(), x.max() - x.min()
        ref = ((x - lo) / (rng + 1e-7)) ** g * rng + lo
        ref = (ref - ref.mean()) / (ref.std() + 1e-8) * x.std() + x.mean()
        ours = _plain(AdjustContrast(gamma=g, retain_stats=True)(torch.as_tensor(x)))
        np.testing.assert_allclose(ours, ref, atol=1e-5)
    t = RandAdjustContrastd(keys="image", prob=1.0, gamma=(0.75, 1.25), retain_stats=True)
    t.set_random_state(seed=0)
    drawn = []
    for _ in range(200):
        t({"image": torch.as_tensor(x)})
        drawn.append(t.adjuster.gamma_value)
    assert 0.75 <= min(drawn) < 0.8 and 1.2 < max(drawn) <= 1.25


def test_blur_is_isotropic():
    delta = torch.zeros((1, 17, 17, 17))
    delta[0, 8, 8, 8] = 1.0
    t = RandGaussianBlurd(keys="image", prob=1.0, sigma=(1.5, 1.5))
    out = _plain(t({"image": delta})["image"])[0]
    np.testing.assert_allclose(out[:, 8, 8], out[8, :, 8], atol=1e-7)
    np.testing.assert_allclose(out[:, 8, 8], out[8, 8, :], atol=1e-7)
    assert abs(out.sum() - 1.0) < 1e-5


def test_deterministic_with_seeds():
    item = _item((20, 30, 30), 2)

    def run(seed):
        views = weak_strong_views_3d(roi_size=ROI)
        views.set_random_state(seed=seed)
        return [views(item) for _ in range(3)]

    a, b, c = run(11), run(11), run(12)
    for x, y in zip(a, b):
        for key in ("image", "label", "image_strong"):
            assert torch.equal(torch.as_tensor(x[key]), torch.as_tensor(y[key]))
    assert any(
        not torch.equal(torch.as_tensor(x["image_strong"]), torch.as_tensor(z["image_strong"])) for x, z in zip(a, c)
    )


def test_unlabeled_items():
    views = weak_strong_views_3d(label_key=None, roi_size=ROI)
    out = views({"image": torch.rand(1, 20, 30, 30)})
    assert set(out) == {"image", "image_strong"}
    assert out["image"].shape == (1, *ROI)


def _write_case(path, image, label=None, image_name="image"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f[image_name] = image
        if label is not None:
            f["label"] = label


def _load(keys=("image", "label")):
    return Compose([LoadH5d(keys=list(keys)), Transposed(keys=list(keys), indices=(0, 3, 2, 1))])


def test_label_values_error_names_the_case_file(tmp_path):
    image = np.random.rand(24, 20, 12).astype(np.float32)  # (W, H, D)
    for bad in (2, 255):
        label = np.zeros((24, 20, 12), dtype=np.uint8)
        label[5:9, 5:9, 3:6] = bad
        path = tmp_path / f"CASE{bad}" / "mri_norm2.h5"
        _write_case(path, image, label)
        item = _load()({"image": str(path), "label": str(path)})
        expected = re.escape(f"label 'label' of '{path}' holds values {{{bad}}}, expected only {{0, 1}}")
        with pytest.raises(ValueError, match=expected):  # the transform alone
            CheckLabelsd(keys="label")(item)
        _chain_error(lambda: weak_strong_views_3d(roi_size=ROI)(item), expected)  # inside the views' Compose
    with pytest.raises(ValueError, match="an item without a file path.*\\{-1\\}"):
        CheckLabelsd(keys="label")({"label": torch.tensor([[0, 1, -1]])})
    # the check can be turned off, and other label sets allowed
    assert weak_strong_views_3d(roi_size=ROI, label_values=None)(item)["label"].max() == 255
    CheckLabelsd(keys="label", values=(0, 1, 2, 3))({"label": torch.tensor([[0, 3, 2]])})


def test_corrupt_h5_errors_name_the_file_and_dataset(tmp_path):
    good = tmp_path / "good" / "mri_norm2.h5"
    _write_case(good, np.random.rand(24, 20, 12).astype(np.float32), np.zeros((24, 20, 12), np.uint8))
    data = good.read_bytes()
    truncated = tmp_path / "truncated" / "mri_norm2.h5"
    truncated.parent.mkdir()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage" / "mri_norm2.h5"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not an hdf5 file" * 64)
    for path in (truncated, garbage, tmp_path / "absent" / "mri_norm2.h5"):
        expected = (
            f"cannot read '{re.escape(str(path))}' for key 'image' \\(expected an HDF5 file with dataset 'image'\\)"
        )
        with pytest.raises(ValueError, match=expected):
            LoadH5d(keys=["image", "label"])({"image": str(path), "label": str(path)})
        _chain_error(lambda: _load()({"image": str(path), "label": str(path)}), expected)
    no_image = tmp_path / "no_image" / "mri_norm2.h5"
    _write_case(no_image, np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.uint8), image_name="img")
    expected = f"'{re.escape(str(no_image))}' has no dataset 'image' \\(it holds \\['img', 'label'\\]\\)"
    with pytest.raises(ValueError, match=expected):
        LoadH5d(keys=["image", "label"])({"image": str(no_image), "label": str(no_image)})
    group = tmp_path / "group" / "mri_norm2.h5"
    group.parent.mkdir()
    with h5py.File(group, "w") as f:
        f.create_group("image")
    with pytest.raises(ValueError, match="has no dataset 'image' \\(it holds \\['image'\\]\\)"):
        LoadH5d(keys=["image"])({"image": str(group)})


@pytest.mark.realdata
def test_real_la_case(la_dir):
    la = LA(la_dir, labeled_cases=1, validation_cases=0)
    item = la.labeled_items()[0]
    loaded = _load()(item)
    assert loaded["image"].shape[1] == 88  # (1, D, H, W), D = 88 slices in LA
    views = weak_strong_views_3d(rot_flip_prob=1.0)
    turns = set()
    for seed in range(4):
        views.set_random_state(seed=seed)
        out = views(loaded)
        turns.add(views.transforms[1]._k % 2)
        assert tuple(out["image"].shape) == (1, 80, 112, 112)
        assert tuple(out["image_strong"].shape) == (1, 80, 112, 112)
        assert tuple(out["label"].shape) == (1, 80, 112, 112)
        assert set(torch.unique(torch.as_tensor(out["label"])).tolist()) <= {0, 1}
        assert out["image"].dtype == torch.float32 and out["image_strong"].dtype == torch.float32
    assert turns == {0, 1}  # odd turns swap D and H: 88 slices become 88 rows, padded to 112
