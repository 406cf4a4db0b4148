# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The LA layout: lists, labeled subsets, a validation split carved from training, (W, H, D) -> (D, H, W)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from monai.transforms import Compose, Transposed

from adamix_monai.data.acdc import LoadH5d
from adamix_monai.data.la import LA
from tests.la_fixtures import make_mini_la


def test_split_and_items(tmp_path):
    la = LA(make_mini_la(tmp_path))
    parts = la.split(labeled=2, validation=1)
    assert parts == {
        "labeled": ["CASE00", "CASE01"],
        "unlabeled": ["CASE02", "CASE03", "CASE04"],
        "validation": ["CASE05"],
    }
    assert not set(parts["validation"]) & set(la.test_cases())
    unlabeled = la.unlabeled_items(2, 1)
    assert [u["id"] for u in unlabeled] == ["CASE00", "CASE01", "CASE02", "CASE03", "CASE04"]
    assert all(set(u) == {"image", "id"} for u in unlabeled)  # no label path reachable
    assert [u["id"] for u in la.unlabeled_items(2, 1, include_labeled=False)] == ["CASE02", "CASE03", "CASE04"]
    with pytest.raises(ValueError, match="cannot take"):
        la.split(labeled=5, validation=2)
    load = Compose([LoadH5d(keys=["image", "label"]), Transposed(keys=["image", "label"], indices=(0, 3, 2, 1))])
    item = load(la.test_items()[0])
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
    item = load(la.labeled_items(8, 4)[0])
    with h5py.File(la.case_path(parts["labeled"][0])) as f:
        w, h, d = f["image"].shape
    assert item["image"].shape == (1, d, h, w)
    assert set(np.unique(item["label"].numpy())) <= {0, 1}


def test_a_label_outside_0_1_is_named(tmp_path):
    import h5py

    from adamix_monai.data.la import load_la_case

    root = make_mini_la(tmp_path)
    path = LA(root).case_path("CASE00")
    with h5py.File(path, "r+") as f:
        label = f["label"][()]
        label[0, 0, 0] = 2
        f["label"][...] = label
    with pytest.raises(RuntimeError) as info:
        load_la_case()({"image": path, "label": path})
    assert "CASE00" in str(info.value.__cause__) and "2" in str(info.value.__cause__)
