# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Real ACDC cases written as NIfTI, the way a user's own data arrives (own-data datalists, MONAI Label studies).

The SSL4MIS h5 files keep no geometry, so the volumes get :data:`SPACING` (a typical ACDC cine-MRI voxel: 1.5 mm
in plane, 10 mm between slices). Arrays are written ``(H, W, D)``: the h5 ``(D, H, W)`` volume with its slices on
the last axis, which is how the ACDC bundle's inference reads NIfTI (slices along the last axis, each ``(H, W)``
plane as the network saw it in training).

Command line (used by ``tests/integration/monailabel_smoke.sh``)::

    python -m tests.helpers.acdc_nifti <ACDC folder> <output folder> [--split test] [--cases 2] [--labels-dir labels/final]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

SPACING = (1.5, 1.5, 10.0)


def affine(spacing: Sequence[float] = SPACING) -> np.ndarray:
    """A diagonal affine with ``spacing`` (mm)."""
    return np.diag([*map(float, spacing), 1.0])


def save_pair(image: np.ndarray, label: np.ndarray | None, image_path: Path, label_path: Path | None) -> None:
    """Write an ``(H, W[, D])`` image (float32) and label (uint8) with :func:`affine`."""
    aff = affine(SPACING if image.ndim == 3 else (*SPACING[:2], 1.0))
    image_path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image.astype(np.float32), aff), image_path)
    if label is not None and label_path is not None:
        label_path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(label.astype(np.uint8), aff), label_path)


def read_volume(acdc_root: Path, volume_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A stored val/test volume as ``(H, W, D)`` image and label."""
    with h5py.File(acdc_root / "data" / f"{volume_id}.h5", "r") as f:
        return np.transpose(f["image"][()], (1, 2, 0)), np.transpose(f["label"][()], (1, 2, 0))


def read_training_volume(acdc_root: Path, volume_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A training volume rebuilt from its stored slices (``slice_K`` is ``volume[K-1]``) as ``(H, W, D)``."""
    files = sorted(
        (acdc_root / "data" / "slices").glob(f"{volume_id}_slice_*.h5"), key=lambda p: int(p.stem.split("_")[-1])
    )
    if not files:
        raise FileNotFoundError(f"no slices of '{volume_id}' under {acdc_root / 'data' / 'slices'}")
    images, labels = [], []
    for path in files:
        with h5py.File(path, "r") as f:
            images.append(f["image"][()])
            labels.append(f["label"][()])
    return np.stack(images, -1), np.stack(labels, -1)


def training_volume_ids(acdc_root: Path) -> list[str]:
    """Ids ``patientXXX_frameYY`` of the training volumes, in ``train_slices.list`` order."""
    ids: list[str] = []
    for line in (acdc_root / "train_slices.list").read_text().split():
        vid = line.rsplit("_slice_", 1)[0]
        if vid not in ids:
            ids.append(vid)
    return ids


def write_studies(
    acdc_root: Path, out: Path, split: str = "test", cases: int = 2, labels_dir: str = "labels/final"
) -> list[Path]:
    """Write the first ``cases`` volumes of ``split`` as ``out/<id>.nii.gz`` and their labels under ``labels_dir``.

    Returns:
        The image files.
    """
    ids = (acdc_root / f"{split}.list").read_text().split()[:cases]
    written = []
    for vid in ids:
        image, label = read_volume(acdc_root, vid)
        save_pair(image, label, out / f"{vid}.nii.gz", out / labels_dir / f"{vid}.nii.gz")
        written.append(out / f"{vid}.nii.gz")
    return written


def write_datalist(
    acdc_root: Path, out: Path, labeled: int = 2, unlabeled: int = 2, validation: int = 1, test: int = 1
) -> Path:
    """Convert part of ACDC to NIfTI volumes and a MONAI datalist, as a user's own data would look.

    ``labeled`` + ``unlabeled`` training volumes are rebuilt from their slices (the unlabeled ones written without
    labels), ``validation`` and ``test`` volumes come from the stored val/test volumes.

    Returns:
        The datalist file ``out/datalist.json`` (paths relative to it).
    """
    import json

    train_ids = training_volume_ids(acdc_root)
    datalist: dict[str, list] = {"training": [], "unlabeled": [], "validation": [], "test": []}
    for vid in train_ids[:labeled]:
        image, label = read_training_volume(acdc_root, vid)
        save_pair(image, label, out / "imagesTr" / f"{vid}.nii.gz", out / "labelsTr" / f"{vid}.nii.gz")
        datalist["training"].append({"image": f"imagesTr/{vid}.nii.gz", "label": f"labelsTr/{vid}.nii.gz"})
    for vid in train_ids[labeled : labeled + unlabeled]:
        image, _ = read_training_volume(acdc_root, vid)
        save_pair(image, None, out / "imagesUn" / f"{vid}.nii.gz", None)
        datalist["unlabeled"].append({"image": f"imagesUn/{vid}.nii.gz"})
    for section, split, count in (("validation", "val", validation), ("test", "test", test)):
        for vid in (acdc_root / f"{split}.list").read_text().split()[:count]:
            image, label = read_volume(acdc_root, vid)
            save_pair(image, label, out / "imagesTs" / f"{vid}.nii.gz", out / "labelsTs" / f"{vid}.nii.gz")
            datalist[section].append({"image": f"imagesTs/{vid}.nii.gz", "label": f"labelsTs/{vid}.nii.gz"})
    path = out / "datalist.json"
    path.write_text(json.dumps(datalist, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("acdc_root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--cases", type=int, default=2)
    parser.add_argument("--labels-dir", default="labels/final")
    args = parser.parse_args(argv)
    for path in write_studies(args.acdc_root, args.out, args.split, args.cases, args.labels_dir):
        print(path)


if __name__ == "__main__":
    main()
