# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A small synthetic cardiac-like dataset, so that demos and tests run with no download.

Each slice shows a left-ventricle blood pool (class 3) inside a myocardium ring (class 2), a right-ventricle
crescent (class 1) beside it, on a textured background (class 0), with Gaussian noise and a smooth intensity
bias field, like a short-axis cine-MRI slice after min-max normalisation.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["cardiac_phantom"]


def cardiac_phantom(count: int, size: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic short-axis slices with 4 classes.

    Args:
        count: number of slices.
        size: side of the square slices.
        seed: random seed (the same seed gives the same slices).

    Returns:
        ``(image, label)``: ``(count, 1, size, size)`` float32 images in ``[0, 1]`` and int64 labels in
        ``{0: background, 1: RV, 2: Myo, 3: LV}``.
    """
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((count, 1, size, size), dtype=np.float32)
    labels = np.zeros((count, 1, size, size), dtype=np.int64)
    for i in range(count):
        cy, cx = rng.uniform(0.38, 0.62, size=2)
        r_lv = rng.uniform(0.08, 0.14)
        wall = rng.uniform(0.03, 0.05)
        stretch = rng.uniform(0.85, 1.15)
        d_lv = np.sqrt(((yy - cy) * stretch) ** 2 + ((xx - cx) / stretch) ** 2)
        angle = rng.uniform(0, 2 * np.pi)
        ry, rx = cy + np.sin(angle) * (r_lv + wall) * 1.3, cx + np.cos(angle) * (r_lv + wall) * 1.3
        d_rv = np.sqrt((yy - ry) ** 2 + (xx - rx) ** 2)
        label = np.zeros((size, size), dtype=np.int64)
        label[(d_rv < r_lv * 1.25) & (d_lv > r_lv + wall)] = 1
        label[(d_lv >= r_lv) & (d_lv < r_lv + wall)] = 2
        label[d_lv < r_lv] = 3
        intensity = np.array([0.15, 0.7, 0.35, 0.85], dtype=np.float32)[label]
        texture = 0.08 * np.sin(2 * np.pi * (rng.uniform(2, 6) * yy + rng.uniform(2, 6) * xx))
        bias = 1.0 + 0.3 * (yy - 0.5) * rng.uniform(-1, 1) + 0.3 * (xx - 0.5) * rng.uniform(-1, 1)
        image = (intensity + texture * (label == 0)) * bias + rng.normal(0, 0.05, size=(size, size))
        image = (image - image.min()) / (image.max() - image.min() + 1e-8)
        images[i, 0] = image
        labels[i, 0] = label
    return torch.from_numpy(images), torch.from_numpy(labels)
