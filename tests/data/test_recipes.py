# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Data recipes (adamix_monai.data.recipes): official layouts, made as small stand-ins, into the bundles' layouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import nibabel as nib
import numpy as np
import pytest

from adamix_monai.data import recipes
from adamix_monai.data.recipes import prepare_acdc, prepare_isic, prepare_la, split_list
from adamix_monai.errors import BundleInputError
from tests.conftest import DATA_DIR, REPO_ROOT


def test_the_reference_split_lists():
    acdc = {s: split_list("acdc", s) for s in ("train", "val", "test")}
    assert [len(v) for v in acdc.values()] == [140, 20, 40]
    patients = {s: {v.split("_")[0] for v in vols} for s, vols in acdc.items()}
    assert [len(p) for p in patients.values()] == [70, 10, 20] and not set.intersection(*patients.values())
    assert sorted(patients["val"]) == [f"patient{n:03d}" for n in (2, 19, 28, 30, 39, 45, 78, 82, 85, 87)]
    first = list(dict.fromkeys(v.split("_")[0] for v in acdc["train"]))[:7]  # the paper's 10%: SSL4MIS's 7
    assert first == [f"patient{n:03d}" for n in (99, 38, 50, 100, 58, 21, 49)]
    la = {s: split_list("la", s) for s in ("train", "test")}
    assert [len(v) for v in la.values()] == [80, 20] and not set(la["train"]) & set(la["test"])
    isic = {s: split_list("isic2018", s) for s in ("train", "val", "test")}
    assert [len(v) for v in isic.values()] == [1815, 260, 519]
    ids = [i for v in isic.values() for i in v]
    assert len(set(ids)) == 2594 and all(len(i) == 12 and i.startswith("ISIC_00") for i in ids)
    if (DATA_DIR / "LA" / "train.list").is_file():  # the shared subset: the first ids of UA-MT's lists
        for split in ("train", "test"):
            shared = (DATA_DIR / "LA" / f"{split}.list").read_text().split()
            assert la[split][: len(shared)] == shared
    if (DATA_DIR / "ACDC" / "train.list").is_file():
        for split in ("train", "val", "test"):
            assert acdc[split] == (DATA_DIR / "ACDC" / f"{split}.list").read_text().split()


def write_acdc_download(root, volumes):
    """The challenge's layout: training/patientXXX/patientXXX_frameYY[_gt].nii.gz (nibabel (x, y, z)) + Info.cfg."""
    for vid, (image, label) in volumes.items():  # image, label: (D, H, W) as SSL4MIS stores them
        folder = root / "training" / vid.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        affine = np.diag([1.5, 1.5, 10.0, 1.0])
        nib.save(nib.Nifti1Image(image.transpose(2, 1, 0).astype(np.float32) * 700, affine), folder / f"{vid}.nii.gz")
        nib.save(nib.Nifti1Image(label.transpose(2, 1, 0).astype(np.uint8), affine), folder / f"{vid}_gt.nii.gz")
        (folder / "Info.cfg").write_text("ED: 1\nES: 12\n")


def synthetic_acdc(ids, rng):
    out = {}
    for vid in ids:
        image = rng.rand(3, 12, 10).astype(np.float32)
        label = (rng.rand(3, 12, 10) * 4).astype(np.uint8)
        out[vid] = (image, label)
    return out


def test_acdc_recipe_on_a_synthetic_download(tmp_path):
    train = split_list("acdc", "train")[:2]
    val, test = split_list("acdc", "val")[:1], split_list("acdc", "test")[:1]
    volumes = synthetic_acdc(train + val + test, np.random.RandomState(0))
    write_acdc_download(tmp_path / "download", volumes)
    with pytest.raises(BundleInputError, match="of the 140 train volumes of the reference split are not in"):
        prepare_acdc(tmp_path / "download", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    out = prepare_acdc(tmp_path / "download", tmp_path / "out", allow_missing=True)
    assert (out / "train.list").read_text().split() == train and (out / "val.list").read_text().split() == val
    assert (out / "train_slices.list").read_text().split() == [f"{v}_slice_{k}" for v in train for k in (1, 2, 3)]
    for vid, (image, label) in volumes.items():
        with h5py.File(out / "data" / f"{vid}.h5") as f:
            assert f["image"].dtype == np.float32 and f["image"].shape == (3, 12, 10)
            expected = (image - image.min()) / (image.max() - image.min())  # min-max per volume
            np.testing.assert_allclose(f["image"][()], expected, atol=1e-6)
            np.testing.assert_array_equal(f["label"][()], label)
    with h5py.File(out / "data" / "slices" / f"{train[0]}_slice_2.h5") as f:  # 1-based: slice_2 is volume[1]
        np.testing.assert_array_equal(f["label"][()], volumes[train[0]][1][1])
    from adamix_monai.data.sources import ACDC

    source = ACDC(str(out), labeled_fraction=0.1)
    assert len(source.unlabeled_items()) == 6 and len(source.items("val")) == 1
    with pytest.raises(BundleInputError, match="exists; give a new folder"):
        prepare_acdc(tmp_path / "download", out, allow_missing=True)
    with pytest.raises(BundleInputError, match="is not an ACDC download"):
        prepare_acdc(tmp_path, tmp_path / "other")


def test_acdc_recipe_datalist_format(tmp_path):
    ids = split_list("acdc", "train")[:4] + split_list("acdc", "val")[:2] + split_list("acdc", "test")[:2]
    write_acdc_download(tmp_path / "download", synthetic_acdc(ids, np.random.RandomState(1)))
    out = prepare_acdc(tmp_path / "download", tmp_path / "dl", fmt="datalist", allow_missing=True)
    datalist = json.loads((out / "datalist.json").read_text())
    # the first 4 training volumes are patients 099 and 038, both among SSL4MIS's 7 labeled ones
    assert len(datalist["training"]) == 4 and datalist["unlabeled"] == []
    assert len(datalist["validation"]) == 2 and datalist["test"][0]["label"].endswith("_gt.nii.gz")
    from adamix_monai.data.sources import Datalist

    assert len(Datalist(str(out / "datalist.json"), num_classes=4).labeled_items()) == 4


def test_acdc_recipe_reproduces_the_ssl4mis_files(tmp_path):
    """Real ACDC volumes written back in the challenge's layout come out of the recipe as the SSL4MIS files."""
    real = DATA_DIR / "ACDC"
    if not (real / "test.list").is_file():
        pytest.skip("needs the real ACDC data")
    from tests.helpers.acdc_nifti import read_training_volume, read_volume

    train, test = split_list("acdc", "train")[:2], split_list("acdc", "test")[:1]
    volumes = {}
    for vid in train:
        image, label = read_training_volume(real, vid)  # (H, W, D)
        volumes[vid] = (image.transpose(2, 0, 1), label.transpose(2, 0, 1))
    for vid in test:
        image, label = read_volume(real, vid)
        volumes[vid] = (image.transpose(2, 0, 1), label.transpose(2, 0, 1))
    write_acdc_download(tmp_path / "download", volumes)
    out = prepare_acdc(tmp_path / "download", tmp_path / "out", allow_missing=True)
    with h5py.File(out / "data" / f"{test[0]}.h5") as ours, h5py.File(real / "data" / f"{test[0]}.h5") as theirs:
        np.testing.assert_allclose(ours["image"][()], theirs["image"][()], atol=1e-6)
        np.testing.assert_array_equal(ours["label"][()], theirs["label"][()])
    names = (out / "train_slices.list").read_text().split()
    assert sorted(names) == sorted(n for n in (real / "train_slices.list").read_text().split() if n.rsplit("_slice_", 1)[0] in train)
    for name in names[::5]:
        with h5py.File(out / "data" / "slices" / f"{name}.h5") as a, h5py.File(real / "data" / "slices" / f"{name}.h5") as b:
            np.testing.assert_allclose(a["image"][()], b["image"][()], atol=1e-6)
            np.testing.assert_array_equal(a["label"][()], b["label"][()])


def write_nrrd(path, array_xyz):
    import itk

    path.parent.mkdir(parents=True, exist_ok=True)
    itk.imwrite(itk.image_from_array(np.ascontiguousarray(array_xyz.transpose(2, 1, 0))), str(path))


def test_la_recipe_on_a_synthetic_download(tmp_path):
    rng = np.random.RandomState(0)
    ids = split_list("la", "train")[:2] + split_list("la", "test")[:1]
    originals = {}
    for case in ids:
        image = (rng.rand(70, 60, 40) * 300).astype(np.float32)
        label = np.zeros((70, 60, 40), np.uint8)
        label[25:40, 20:35, 12:25] = 255
        write_nrrd(tmp_path / "Training Set" / case / "lgemri.nrrd", image)
        write_nrrd(tmp_path / "Training Set" / case / "laendo.nrrd", label)
        originals[case] = image
    out = prepare_la(tmp_path / "Training Set", tmp_path / "LA", allow_missing=True)
    assert (out / "train.list").read_text().split() == ids[:2] and (out / "test.list").read_text().split() == ids[2:]
    for case, image in originals.items():
        with h5py.File(out / "2018LA_Seg_Training Set" / case / "mri_norm2.h5") as f:
            x, y = f["image"][()], f["label"][()]
        assert set(np.unique(y)) == {0, 1} and y.sum() == 15 * 15 * 13  # the whole atrium is kept
        lo = [int(np.nonzero(y)[a].min()) for a in range(3)]
        hi = [y.shape[a] - int(np.nonzero(y)[a].max()) - 1 for a in range(3)]
        assert all(10 <= m < 20 for m in lo[:2] + hi[:2]) and all(5 <= m < 10 for m in (lo[2], hi[2]))
        z = (image - image.mean()) / image.std()  # z-score over the whole volume, then the crop
        np.testing.assert_allclose(x, z[25 - lo[0] : 40 + hi[0], 20 - lo[1] : 35 + hi[1], 12 - lo[2] : 25 + hi[2]], atol=1e-4)
    from adamix_monai.data.sources import LA

    assert len(LA(str(out), labeled_cases=1).labeled_items()) == 1
    again = prepare_la(tmp_path / "Training Set", tmp_path / "LA2", allow_missing=True)  # seeded: same crops
    with h5py.File(out / "2018LA_Seg_Training Set" / ids[0] / "mri_norm2.h5") as a, h5py.File(again / "2018LA_Seg_Training Set" / ids[0] / "mri_norm2.h5") as b:
        assert a["image"].shape == b["image"].shape
    with pytest.raises(BundleInputError, match="not an LA download"):
        prepare_la(tmp_path / "LA", tmp_path / "LA3")


def test_isic_recipe_adds_the_reference_lists(tmp_path):
    from PIL import Image

    download = tmp_path / "ISIC2018"
    ids = split_list("isic2018", "train")[:3] + split_list("isic2018", "val")[:1] + split_list("isic2018", "test")[:1]
    for i in ids:
        (download / "ISIC2018_Task1-2_Training_Input").mkdir(parents=True, exist_ok=True)
        (download / "ISIC2018_Task1_Training_GroundTruth").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(download / "ISIC2018_Task1-2_Training_Input" / f"{i}.jpg")
        mask = np.zeros((24, 32), np.uint8)
        mask[5:15, 8:20] = 255
        Image.fromarray(mask).save(download / "ISIC2018_Task1_Training_GroundTruth" / f"{i}_segmentation.png")
    out = prepare_isic(download, tmp_path / "copy", allow_missing=True)
    assert (out / "train.list").read_text().split() == ids[:3] and (out / "test.list").read_text().split() == ids[4:]
    assert "85361fb9" in (out / "PREPARED.json").read_text()
    from adamix_monai.data.sources import ISIC

    source = ISIC(str(out), labeled_fraction=0.5)
    assert len(source.unlabeled_items()) == 3 and len(source.items("test")) == 1
    assert prepare_isic(download, in_place=True, allow_missing=True) == download
    assert (download / "val.list").read_text().split() == ids[3:4]
    with pytest.raises(BundleInputError, match="exists; remove the lists"):
        prepare_isic(download, in_place=True, allow_missing=True)


def test_an_interrupted_recipe_leaves_nothing(tmp_path, monkeypatch):
    ids = split_list("acdc", "train")[:2]
    write_acdc_download(tmp_path / "download", synthetic_acdc(ids, np.random.RandomState(2)))
    calls = []

    def dies(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    real = recipes._acdc_arrays
    monkeypatch.setattr(recipes, "_acdc_arrays", dies)
    with pytest.raises(KeyboardInterrupt):
        prepare_acdc(tmp_path / "download", tmp_path / "out", allow_missing=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_prepare_cli_gives_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "adamix_monai", "prepare", "acdc", str(tmp_path / "nothing"), str(tmp_path / "out")]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "is not an ACDC download" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
