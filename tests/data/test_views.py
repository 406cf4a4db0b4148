# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Weak/strong views: the geometry is shared by the image, its strong view and the label."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adamix_monai.data.views import RandColorJitterd, weak_strong_views_2d
from adamix_monai.synthetic import cardiac_phantom


@pytest.mark.parametrize("seed", range(6))
def test_label_follows_the_image_geometry(seed):
    _, label = cardiac_phantom(1, 96, seed=seed)
    label = label[0]
    item = {"image": label.float() / 3.0, "label": label.clone()}  # an image that encodes its label
    views = weak_strong_views_2d(spatial_size=(64, 64), rotate_prob=1.0)
    views.set_random_state(seed)
    out = views(item)
    assert out["image"].shape == out["label"].shape == out["image_strong"].shape == (1, 64, 64)
    # the bilinear resize blends classes only at boundaries; away from them the image still encodes the label
    decoded = torch.round(torch.as_tensor(out["image"]) * 3).long()
    agree = (decoded == torch.as_tensor(out["label"])).float().mean()
    assert agree > 0.9
    assert set(torch.as_tensor(out["label"]).unique().tolist()) <= {0, 1, 2, 3}


def test_strong_view_only_changes_intensities():
    image, _ = cardiac_phantom(1, 64, seed=3)
    views = weak_strong_views_2d(label_key=None, spatial_size=(64, 64))
    differs = 0
    for seed in range(10):
        views.set_random_state(seed)
        out = views({"image": image[0]})
        weak, strong = torch.as_tensor(out["image"]), torch.as_tensor(out["image_strong"])
        assert strong.shape == weak.shape and float(strong.min()) >= -1e-6 and float(strong.max()) <= 1 + 1e-6
        # same geometry: the strong view stays strongly correlated with the weak view
        corr = np.corrcoef(weak.flatten().numpy(), strong.flatten().numpy())[0, 1]
        assert corr > 0.6
        differs += int(not torch.allclose(weak, strong))
    assert differs >= 7  # photometric changes happen most of the time
    assert "label" not in out


def test_color_jitter_ranges():
    jitter = RandColorJitterd(keys="x", brightness=0.5, contrast=0.0, prob=1.0)
    jitter.set_random_state(0)
    x = torch.full((1, 4, 4), 0.4)
    for _ in range(20):
        y = jitter({"x": x})["x"]
        assert 0.2 - 1e-6 <= float(y.mean()) <= 0.6 + 1e-6
    assert torch.equal(RandColorJitterd(keys="x", prob=0.0)({"x": x})["x"], x)
