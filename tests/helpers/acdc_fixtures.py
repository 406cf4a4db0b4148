# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A miniature ACDC folder in the SSL4MIS layout, made from synthetic phantoms (bundle tests without real data)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from adamix_monai.synthetic import cardiac_phantom


def make_mini_acdc(root: Path, patients: int = 10, slices: int = 2, size: int = 48) -> Path:
    """Write ``patients`` training patients (``slices`` slices each), 2 val and 2 test volumes.

    Returns:
        The folder (``root``).
    """
    (root / "data" / "slices").mkdir(parents=True, exist_ok=True)
    images, labels = cardiac_phantom(patients * slices + 4 * 3, size, seed=5)
    images, labels = images[:, 0].numpy(), labels[:, 0].numpy().astype(np.uint8)
    train = []
    k = 0
    for p in range(patients):
        for s in range(slices):
            name = f"patient{p + 1:03d}_frame01_slice_{s + 1}"
            with h5py.File(root / "data" / "slices" / f"{name}.h5", "w") as f:
                f["image"], f["label"] = images[k], labels[k]
            train.append(name)
            k += 1
    (root / "train_slices.list").write_text("\n".join(train) + "\n")
    for split, first in (("val", 90), ("test", 95)):
        names = []
        for v in range(2):
            name = f"patient{first + v:03d}_frame01"
            with h5py.File(root / "data" / f"{name}.h5", "w") as f:
                f["image"], f["label"] = images[k : k + 3], labels[k : k + 3]
            names.append(name)
            k += 3
        (root / f"{split}.list").write_text("\n".join(names) + "\n")
    return root
