# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Format-agnostic case loading: h5 as stored, NIfTI/PNG through MONAI's readers, slices of volumes."""

from __future__ import annotations

import pickle

import h5py
import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from adamix_monai.data.io import LoadCased, file_spatial_shape
from adamix_monai.data.loaders import SlicedCacheDataset, expand_slices


def _nifti(path, array, spacing=(1.5, 2.0, 10.0)):
    nib.save(nib.Nifti1Image(array, np.diag([*spacing[: array.ndim], *([1.0] * (4 - array.ndim))])), path)
    return str(path)


def test_nifti_volume_minmax_and_labels(tmp_path):
    rng = np.random.RandomState(0)
    image = _nifti(tmp_path / "i.nii.gz", (rng.rand(6, 5, 4) * 300 + 20).astype(np.float32))
    label = _nifti(tmp_path / "l.nii.gz", rng.randint(0, 4, (6, 5, 4)).astype(np.uint8))
    out = LoadCased(keys=["image", "label"], intensity="minmax")({"image": image, "label": label})
    assert out["image"].shape == (1, 6, 5, 4) and out["image"].dtype == torch.float32
    assert float(out["image"].min()) == 0.0 and float(out["image"].max()) == pytest.approx(1.0)
    assert out["label"].dtype == torch.int64 and set(torch.unique(out["label"]).tolist()) <= {0, 1, 2, 3}
    assert out["image_path"] == image


def test_spatial_order_moves_the_affine_with_the_axes(tmp_path):
    image = _nifti(tmp_path / "i.nii.gz", np.random.rand(6, 5, 4).astype(np.float32), spacing=(1.5, 2.0, 10.0))
    out = LoadCased(keys="image", intensity="zscore", spatial_order=(2, 0, 1))({"image": image})
    assert out["image"].shape == (1, 4, 6, 5)
    spacing = torch.linalg.norm(out["image"].affine[:3, :3], dim=0).tolist()
    assert spacing == pytest.approx([10.0, 1.5, 2.0])
    assert float(out["image"].mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(out["image"].std()) == pytest.approx(1.0, abs=1e-3)


def test_slice_items_read_one_slice_of_the_volume(tmp_path):
    vol = np.arange(6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4)
    image = _nifti(tmp_path / "i.nii.gz", vol)
    label = _nifti(tmp_path / "l.nii.gz", (vol % 3).astype(np.uint8))
    items = expand_slices([{"image": image, "label": label}], slice_axis=-1)
    assert [i["slice"] for i in items] == [0, 1, 2, 3]
    load = LoadCased(keys=["image", "label"], intensity="minmax")
    out = load(items[2])
    assert out["image"].shape == (1, 6, 5)
    expected = (vol - vol.min()) / (vol.max() - vol.min())  # normalised over the whole volume, then sliced
    np.testing.assert_allclose(out["image"][0].numpy(), expected[:, :, 2], rtol=1e-6)
    np.testing.assert_array_equal(out["label"][0].numpy(), (vol % 3)[:, :, 2])
    assert file_spatial_shape(image) == (6, 5, 4)


def test_h5_items_are_read_as_stored_and_not_expanded(tmp_path):
    path = tmp_path / "case.h5"
    with h5py.File(path, "w") as f:
        f["image"] = np.full((3, 4, 5), 0.25, np.float32)
        f["label"] = np.ones((3, 4, 5), np.uint8)
    assert expand_slices([{"image": str(path)}]) == [{"image": str(path)}]
    out = LoadCased(keys=["image", "label"], intensity="minmax", h5_spatial_order=(2, 1, 0))(
        {"image": str(path), "label": str(path)}
    )
    assert out["image"].shape == (1, 5, 4, 3) and float(out["image"].max()) == 0.25  # no renormalisation
    assert out["label"].dtype == torch.int64


def test_png_masks_0_255_and_rgb_masks(tmp_path):
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (8, 6), np.uint8)).save(tmp_path / "i.png")
    mask = np.zeros((8, 6), np.uint8)
    mask[2:5, 1:4] = 255
    Image.fromarray(np.stack([mask] * 3, -1)).save(tmp_path / "m.png")
    out = LoadCased(keys=["image", "label"], intensity="minmax")(
        {"image": str(tmp_path / "i.png"), "label": str(tmp_path / "m.png")}
    )
    assert out["label"].shape[0] == 1 and set(torch.unique(out["label"]).tolist()) == {0, 1}
    assert int(out["label"].sum()) == 9
    assert expand_slices([{"image": str(tmp_path / "i.png")}]) == [{"image": str(tmp_path / "i.png")}]
    two_d = LoadCased(keys="image", volume=True, spatial_order=(2, 0, 1))({"image": str(tmp_path / "i.png")})
    assert two_d["image"].shape[1] == 1 and two_d["image"].ndim == 4
    assert two_d["image"].affine.shape == (4, 4) and torch.linalg.norm(
        two_d["image"].affine[:3, :3], dim=0
    ).tolist() == [1, 1, 1]


def test_unreadable_or_missing_files_name_the_file_and_key(tmp_path):
    (tmp_path / "bad.nii.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"key 'image'.*bad\.nii\.gz"):
        LoadCased(keys="image")({"image": str(tmp_path / "bad.nii.gz")})
    with pytest.raises(ValueError, match=r"nope\.nii\.gz' does not exist"):
        LoadCased(keys="image")({"image": str(tmp_path / "nope.nii.gz")})
    with pytest.raises(ValueError, match="intensity"):
        LoadCased(keys="image", intensity="histogram")


def test_sliced_dataset_and_pickling(tmp_path):
    image = _nifti(tmp_path / "i.nii.gz", np.random.rand(6, 5, 3).astype(np.float32))
    load = LoadCased(keys="image", intensity="minmax")
    ds = SlicedCacheDataset([{"image": image}], transform=load, cache_rate=1.0, progress=False)
    assert len(ds) == 3 and all(ds[k]["image"].shape == (1, 6, 5) for k in range(3))
    clone = pickle.loads(pickle.dumps(load))  # worker processes get a copy without the lock and the cached volume
    assert clone({"image": image})["image"].shape == (1, 6, 5, 3)
