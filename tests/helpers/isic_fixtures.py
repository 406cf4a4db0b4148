# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A tiny synthetic ISIC 2018 Task 1 folder: dark elliptical "lesions" on skin-coloured RGB images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

OFFICIAL_IMAGES = "ISIC2018_Task1-2_Training_Input"
OFFICIAL_MASKS = "ISIC2018_Task1_Training_GroundTruth"
SKIN = (205, 150, 125)
LESION = (70, 35, 25)


def lesion_mask(case: int, size: tuple[int, int]) -> np.ndarray:
    """A (H, W) bool ellipse placed off-centre (so that flips and rotations move it), different per case."""
    h, w = size
    rows, cols = np.mgrid[:h, :w]
    cy, cx = h * (0.3 + 0.05 * (case % 3)), w * (0.3 + 0.04 * (case % 4))
    ry, rx = h * 0.18, w * 0.22
    return ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1.0


def make_mini_isic(
    root: str | Path,
    layout: str = "plain",
    n: int = 10,
    lists: bool = True,
    size: tuple[int, int] = (30, 40),
    mask_suffix: str = "_segmentation",
) -> Path:
    """Write ``n`` JPG images and binary PNG masks of ``size`` (H, W) in the official or plain layout.

    Args:
        root: the folder to create.
        layout: ``"official"`` (``ISIC_*.jpg`` / ``ISIC_*_segmentation.png``) or ``"plain"`` (``images/``,
            ``masks/``).
        n: number of image/mask pairs.
        lists: also write ``train.list`` (CRLF), ``val.list`` (ids with extension) and ``test.list``, 7:1:2 of
            the ids in reverse order.
        size: image size (H, W); not square by default so that an axis swap shows.
        mask_suffix: the mask name suffix in the plain layout (``"_segmentation"`` or ``""``).

    Returns:
        ``root``.
    """
    root = Path(root)
    image_dir, mask_dir = (
        (root / OFFICIAL_IMAGES, root / OFFICIAL_MASKS)
        if layout == "official"
        else (
            root / "images",
            root / "masks",
        )
    )
    suffix = "_segmentation" if layout == "official" else mask_suffix
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [f"ISIC_{i:07d}" if layout == "official" else f"IMG{i:03d}" for i in range(n)]
    for i, case in enumerate(ids):
        mask = lesion_mask(i, size)
        image = np.where(mask[..., None], np.array(LESION), np.array(SKIN)) + rng.integers(-8, 9, size + (3,))
        Image.fromarray(image.clip(0, 255).astype(np.uint8), mode="RGB").save(image_dir / f"{case}.jpg", quality=95)
        Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(mask_dir / f"{case}{suffix}.png")
    if layout == "official":
        (image_dir / "LICENSE.txt").write_text("CC-BY-NC\n")  # the archive ships these; they are not images
        (mask_dir / "ATTRIBUTION.txt").write_text("ISIC\n")
    if lists:
        order = ids[::-1]
        n_train, n_test = (7 * n) // 10, (2 * n + 5) // 10
        train, val, test = order[:n_train], order[n_train : n - n_test], order[n - n_test :]
        (root / "train.list").write_text("\r\n".join(train) + "\r\n")
        (root / "val.list").write_text("\n".join(f"{c}.jpg" for c in val) + "\n")
        (root / "test.list").write_text("\n".join(test) + "\n\n")
    return root
