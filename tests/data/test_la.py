# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The LA layout: lists, labeled subsets, a validation split carved from training, (W, H, D) -> (D, H, W)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from monai.transforms import Compose, Transposed

from adamix_monai.data.io import LoadH5d
from adamix_monai.data.sources import LA
from tests.helpers.la_fixtures import make_mini_la


def test_split_and_items(tmp_path):
    la = LA(make_mini_la(tmp_path))
    parts = la.split(labeled=2, validation=1)
    assert parts == {
        "labeled": ["CASE00", "CASE01"],
        "unlabeled": ["CASE02", "CASE03", "CASE04"],
        "validation": ["CASE05"],
    }
    assert not set(parts["validation"]) & set(la.test_cases())
    unlabeled = LA(la.root, labeled_cases=2, validation_cases=1).unlabeled_items()
    assert [u["id"] for u in unlabeled] == ["CASE00", "CASE01", "CASE02", "CASE03", "CASE04"]
    assert all(set(u) == {"image", "id"} for u in unlabeled)  # no label path reachable
    assert [u["id"] for u in LA(la.root, labeled_cases=2, validation_cases=1).unlabeled_items(include_labeled=False)] == ["CASE02", "CASE03", "CASE04"]
    with pytest.raises(ValueError, match="cannot take"):
        la.split(labeled=5, validation=2)
    load = Compose([LoadH5d(keys=["image", "label"]), Transposed(keys=["image", "label"], indices=(0, 3, 2, 1))])
    item = load(la.items("test")[0])
    assert item["image"].shape == (1, 8, 10, 12) and item["label"].shape == (1, 8, 10, 12)


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="UA-MT layout; missing"):
        LA(tmp_path)
    root = make_mini_la(tmp_path / "la")
    (root / "2018LA_Seg_Training Set" / "CASE07" / "mri_norm2.h5").unlink()
    with pytest.raises(FileNotFoundError, match="CASE07"):
        LA(root)


@pytest.mark.realdata
def test_real_la_subset(la_dir):
    la = LA(la_dir)
    assert len(la.training_cases()) == 16 and len(la.test_cases()) == 10
    parts = la.split(labeled=8, validation=4)
    assert parts["labeled"] == la.training_cases()[:8] and len(parts["unlabeled"]) == 4
    load = Compose([LoadH5d(keys=["image", "label"]), Transposed(keys=["image", "label"], indices=(0, 3, 2, 1))])
    item = load(LA(la_dir, labeled_cases=8, validation_cases=4).labeled_items()[0])
    with h5py.File(la.case_path(parts["labeled"][0])) as f:
        w, h, d = f["image"].shape
    assert item["image"].shape == (1, d, h, w)
    assert set(np.unique(item["label"].numpy())) <= {0, 1}


def test_a_label_outside_0_1_is_named(tmp_path):

    from adamix_monai.data.io import load_la_case

    root = make_mini_la(tmp_path)
    path = LA(root).case_path("CASE00")
    with h5py.File(path, "r+") as f:
        label = f["label"][()]
        label[0, 0, 0] = 2
        f["label"][...] = label
    with pytest.raises(RuntimeError) as info:
        load_la_case()({"image": path, "label": path})
    assert "CASE00" in str(info.value.__cause__) and "2" in str(info.value.__cause__)


def test_unusable_la_files_are_named_before_a_run(tmp_path):
    import h5py

    from adamix_monai.errors import DatasetError, InputError

    root = make_mini_la(tmp_path, train=6, test=2)
    la = LA(root)
    files = [Path(la.case_path(c)) for c in la.training_cases()]
    edits = {
        0: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.full((12, 10, 8), 0.5))),
        1: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.zeros((5, 10, 8), np.uint8))),
        2: lambda f: (f.__delitem__("image"), f.create_dataset("image", data=np.zeros((12, 10, 8), np.uint8))),
        3: lambda f: (f.__delitem__("label"), f.create_dataset("label", data=np.full((12, 10, 8), 7, np.uint8))),
        4: lambda f: f["image"].__setitem__((0, 0, 0), np.nan),
    }
    for index, edit in edits.items():
        with h5py.File(files[index], "r+") as f:
            edit(f)
    with pytest.raises(DatasetError) as info:
        LA(root, labeled_cases=5, validation_cases=1).labeled_items()
    text = str(info.value)
    assert isinstance(info.value, InputError) and "LA" in text and "5 unusable file(s)" in text
    assert "non-integer values (e.g. 0.5)" in text and "differs from label shape (5, 10, 8)" in text
    assert "image is uint8; expected floats" in text and "label holds [7]" in text and "NaN" in text
    assert len(LA(root, labeled_cases=5, validation_cases=1, check=False).labeled_items()) == 5
    with h5py.File(files[5], "r+") as f:  # a 2D image where a volume belongs
        f.__delitem__("image")
        f.create_dataset("image", data=np.zeros((12, 10), np.float32))
    with pytest.raises(DatasetError, match="validation cases: 1 unusable .* is 2D .* expected 3D"):
        LA(root, labeled_cases=5, validation_cases=1).items("val")
    Path(la.case_path(la.test_cases()[0])).write_bytes(b"truncated")
    with pytest.raises(DatasetError, match="test cases: 1 unusable .* cannot be read as HDF5"):
        LA(root).items("test")
