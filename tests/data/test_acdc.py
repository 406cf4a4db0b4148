# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ACDC layout on the real data: splits, the paper's labeled subsets, the h5 reader, clear errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from adamix_monai.data.io import LoadH5d
from adamix_monai.data.sources import ACDC

pytestmark = pytest.mark.realdata


def test_splits_and_paper_subsets(acdc_dir):
    acdc = ACDC(acdc_dir)
    assert len(acdc.training_slices()) == 1312
    assert len(acdc.volumes("val")) == 20 and len(acdc.volumes("test")) == 40
    ten, twenty, five = acdc.labeled_slices(0.1), acdc.labeled_slices(0.2), acdc.labeled_slices(0.05)
    assert len(ten) == 136 and ten == acdc.training_slices()[:136]  # = SSL4MIS labeled_num=7
    assert len(twenty) == 256 and twenty == acdc.training_slices()[:256]
    assert len({acdc.patient(s) for s in five}) == 3
    assert {acdc.patient(s) for s in ten} == {
        "patient099",
        "patient038",
        "patient050",
        "patient100",
        "patient058",
        "patient021",
        "patient049",
    }
    # no val/test patient leaks into training
    train_patients = {acdc.patient(s) for s in acdc.training_slices()}
    assert not train_patients & {v.split("_")[0] for v in acdc.volumes("val") + acdc.volumes("test")}


def test_unlabeled_items_cannot_reach_labels(acdc_dir):
    acdc = ACDC(acdc_dir)
    items = acdc.unlabeled_items()
    assert len(items) == 1312 and all(set(item) == {"image"} for item in items)
    loaded = LoadH5d(keys=["image", "label"], allow_missing_keys=True)(items[0])
    assert "label" not in loaded and loaded["image"].shape[0] == 1


def test_reader_loads_images_and_labels(acdc_dir):
    acdc = ACDC(acdc_dir)
    item = LoadH5d(keys=["image", "label"])(ACDC(acdc_dir, labeled_fraction=0.1).labeled_items()[0])
    image, label = item["image"], item["label"]
    assert image.dtype == torch.float32 and label.dtype == torch.int64 and image.shape == label.shape
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert set(label.unique().tolist()) <= {0, 1, 2, 3}
    vol = LoadH5d(keys=["image", "label"])(acdc.items("test")[0])
    assert vol["image"].ndim == 4 and vol["image"].shape == vol["label"].shape  # (1, D, H, W)


def test_clear_errors(tmp_path, acdc_dir):
    with pytest.raises(FileNotFoundError, match="not an ACDC folder.*train_slices.list.*SSL4MIS"):
        ACDC(tmp_path)
    acdc = ACDC(acdc_dir)
    with pytest.raises(ValueError, match="selects no patient"):
        acdc.labeled_slices(0.001)
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["image"] = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="has no dataset 'label'"):
        LoadH5d(keys=["image", "label"])({"image": str(bad), "label": str(bad)})
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="cannot read .*corrupt.h5.* for key 'image'"):
        LoadH5d(keys=["image"])({"image": str(corrupt)})


def test_unusable_h5_files_are_named_before_a_run(tmp_path):
    import h5py
    import numpy as np

    from adamix_monai.data.sources import ACDC
    from adamix_monai.errors import DatasetError, InputError
    from tests.helpers.acdc_fixtures import make_mini_acdc

    root = make_mini_acdc(tmp_path)
    slices = sorted((root / "data" / "slices").glob("*.h5"))
    edits = {
        0: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.full((48, 48), 0.5))),  # 0.5 label
        1: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.zeros((20, 48), np.uint8))),
        2: lambda f: (f.__delitem__("image"), f.create_dataset("image", data=np.zeros((48, 48), np.uint8))),
        3: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.full((48, 48), 7, np.uint8))),
    }
    for index, edit in edits.items():
        with h5py.File(slices[index], "r+") as f:
            edit(f)
    with pytest.raises(DatasetError) as info:
        ACDC(root, labeled_fraction=1.0).labeled_items()
    text = str(info.value)
    assert isinstance(info.value, InputError) and "4 unusable file(s)" in text
    assert "non-integer values (e.g. 0.5)" in text and "differs from label shape (20, 48)" in text
    assert "image is uint8; expected floats" in text and "label holds [7]" in text
    assert len(ACDC(root, labeled_fraction=1.0, check=False).labeled_items()) == len(slices)
    slices[5].write_bytes(slices[5].read_bytes()[:100])  # a truncated slice of the unlabeled stream
    with pytest.raises(DatasetError, match="training slices: 2 unusable .* uint8.*cannot be read as HDF5"):
        ACDC(root).unlabeled_items()
    (root / "data" / "patient095_frame01.h5").write_bytes(b"truncated")
    with pytest.raises(DatasetError, match="test volumes: 1 unusable .* cannot be read as HDF5"):
        ACDC(root).items("test")
