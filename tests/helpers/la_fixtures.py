# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A miniature LA folder in the UA-MT layout, for tests that must not depend on the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_mini_la(root: Path, train: int = 6, test: int = 2, shape: tuple[int, int, int] = (12, 10, 8)) -> Path:
    """Write ``train + test`` cases ``CASE00...`` of shape ``(W, H, D)``: a bright ellipsoid (label 1) in noise.

    ``train.list`` uses CRLF line ends, as the reference lists do.
    """
    import h5py

    rng = np.random.RandomState(0)
    ids = [f"CASE{i:02d}" for i in range(train + test)]
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    for i, case in enumerate(ids):
        radii = np.array([0.5, 0.6, 0.7]) * (0.8 + 0.4 * rng.rand(3))
        label = ((grid / radii[:, None, None, None]) ** 2).sum(0) < 1
        image = label * 1.5 + rng.randn(*shape) * 0.5
        folder = root / "2018LA_Seg_Training Set" / case
        folder.mkdir(parents=True)
        with h5py.File(folder / "mri_norm2.h5", "w") as f:
            f["image"] = image.astype(np.float32)
            f["label"] = label.astype(np.uint8)
    (root / "train.list").write_text("\r\n".join(ids[:train]) + "\r\n")
    (root / "test.list").write_text("\n".join(ids[train:]) + "\n")
    return root
