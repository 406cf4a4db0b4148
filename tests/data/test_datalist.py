# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Users' datalists: sections, paths, the held-out validation, and every file checked before a run starts."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from adamix_monai.data.sources import Datalist, DatalistError

AFFINE = np.diag([1.5, 1.5, 10.0, 1.0])


def _pair(root, name, shape=(8, 7, 3), affine=AFFINE, classes=4, label_shape=None, label_affine=None):
    rng = np.random.RandomState(len(name))
    (root / "img").mkdir(exist_ok=True)
    (root / "lab").mkdir(exist_ok=True)
    nib.save(nib.Nifti1Image(rng.rand(*shape).astype(np.float32), affine), root / "img" / f"{name}.nii.gz")
    label = rng.randint(0, classes, label_shape or shape).astype(np.uint8)
    nib.save(nib.Nifti1Image(label, AFFINE if label_affine is None else label_affine), root / "lab" / f"{name}.nii.gz")
    return {"image": f"img/{name}.nii.gz", "label": f"lab/{name}.nii.gz"}


def _write(root, sections):
    path = root / "datalist.json"
    path.write_text(json.dumps(sections))
    return path


def test_sections_paths_and_streams(tmp_path):
    train = [_pair(tmp_path, f"t{i}") for i in range(3)]
    val, test = _pair(tmp_path, "v"), _pair(tmp_path, "s")
    un = _pair(tmp_path, "u")
    path = _write(tmp_path, {"training": train, "unlabeled": [un["image"]], "validation": [val], "test": [test]})
    dl = Datalist(path, num_classes=4)
    items = dl.labeled_items()
    assert [i["id"] for i in items] == ["t0", "t1", "t2"] and items[0]["entry"] == "training[0]"
    assert items[0]["image"] == str(tmp_path / "img" / "t0.nii.gz")  # relative to the datalist's folder
    assert [i["id"] for i in dl.unlabeled_items()] == ["u", "t0", "t1", "t2"]  # training images join, no labels
    assert all("label" not in i for i in dl.unlabeled_items())
    assert [i["id"] for i in dl.items("val")] == ["v"] and [i["id"] for i in dl.items("test")] == ["s"]
    assert dl.labeled_name == "3labeled" and dl.held_out == 0
    only = Datalist(path, num_classes=4, include_training=False)
    assert [i["id"] for i in only.unlabeled_items()] == ["u"]


def test_validation_is_held_out_when_absent_and_missing_sections_are_named(tmp_path):
    train = [_pair(tmp_path, f"t{i}") for i in range(4)]
    dl = Datalist(_write(tmp_path, {"training": train}), num_classes=4)
    assert dl.held_out == 1 and [i["id"] for i in dl.items("validation")] == ["t3"]
    assert [i["id"] for i in dl.labeled_items()] == ["t0", "t1", "t2"]
    with pytest.raises(DatalistError, match="no 'test' section"):
        dl.items("test")
    with pytest.raises(DatalistError, match="'training' has 1 pair"):
        Datalist(_write(tmp_path, {"training": train[:1]}), num_classes=4)
    with pytest.raises(DatalistError, match="section 'training' is missing"):
        Datalist(_write(tmp_path, {"unlabeled": ["img/t0.nii.gz"]}), num_classes=4)


def test_malformed_datalists(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Datalist(tmp_path / "none.json", num_classes=2)
    (tmp_path / "bad.json").write_text("{'training': ")
    with pytest.raises(DatalistError, match="not valid JSON"):
        Datalist(tmp_path / "bad.json", num_classes=2)
    path = _write(tmp_path, {"training": [{"image": "a.nii.gz"}, 3], "validation": {}})
    with pytest.raises(DatalistError) as err:
        Datalist(path, num_classes=2)
    text = str(err.value)
    assert "training[0] (a.nii.gz): no 'label' path" in text and "training[1]: expected an object" in text
    assert "section 'validation' must be a list" in text


def test_every_bad_file_is_reported_with_its_entry(tmp_path):
    good = _pair(tmp_path, "good")
    flipped = np.diag([-1.5, 1.5, 10.0, 1.0])
    entries = [
        good,
        _pair(tmp_path, "short", label_shape=(8, 7, 2)),
        _pair(tmp_path, "turned", label_affine=flipped),
        _pair(tmp_path, "spaced", label_affine=np.diag([1.5, 1.5, 5.0, 1.0])),
        _pair(tmp_path, "classes", classes=9),
        {"image": "img/missing.nii.gz", "label": "lab/missing.nii.gz"},
    ]
    (tmp_path / "img" / "broken.nii.gz").write_bytes(b"not an image")
    path = _write(tmp_path, {"training": entries, "unlabeled": ["img/broken.nii.gz"], "validation": [good]})
    with pytest.raises(DatalistError) as err:
        Datalist(path, num_classes=4)
    text = str(err.value)
    assert "has 6 problem(s)" in text
    assert "training[1] (short.nii.gz): image shape (8, 7, 3) differs from label shape (8, 7, 2)" in text
    assert "training[2] (turned.nii.gz): image and label" in text and "different orientations (RAS vs LAS)" in text
    assert "training[3] (spaced.nii.gz)" in text and "different voxel spacings" in text
    assert "training[4] (classes.nii.gz): label" in text and "unexpected values {4, 5, 6, 7, 8}" in text
    assert "training[5] (missing.nii.gz): image:" in text and "does not exist" in text
    assert "unlabeled[0] (broken.nii.gz): image: cannot read" in text
    Datalist(path, num_classes=4, check=False)  # checks can be skipped for a dataset checked before


def test_png_pairs_with_0_255_masks(tmp_path):
    rng = np.random.RandomState(0)
    for name in ("a", "b"):
        Image.fromarray(rng.randint(0, 255, (10, 12, 3), np.uint8)).save(tmp_path / f"{name}.jpg")
        mask = np.zeros((10, 12), np.uint8)
        mask[3:6, 4:9] = 255
        Image.fromarray(mask).save(tmp_path / f"{name}_mask.png")
    Image.fromarray(np.zeros((9, 12), np.uint8)).save(tmp_path / "c_mask.png")
    pairs = [{"image": f"{n}.jpg", "label": f"{n}_mask.png"} for n in ("a", "b")]
    dl = Datalist(_write(tmp_path, {"training": pairs, "validation": pairs[:1]}), num_classes=2)
    assert len(dl.labeled_items()) == 2
    bad = _write(tmp_path, {"training": [*pairs, {"image": "a.jpg", "label": "c_mask.png"}], "validation": pairs})
    with pytest.raises(DatalistError, match=r"training\[2\] \(a.jpg\): image shape"):
        Datalist(bad, num_classes=2)
    with pytest.raises(DatalistError, match=r"unexpected values \{255\}; expected classes 0..3"):
        Datalist(_write(tmp_path, {"training": pairs, "validation": pairs}), num_classes=4)


def test_sections_a_typo_an_empty_validation_and_a_folder_are_refused(tmp_path):
    train = [_pair(tmp_path, f"t{i}") for i in range(3)]
    with pytest.raises(DatalistError, match=r"unknown section 'validaton' \(did you mean 'validation'\?\)"):
        Datalist(_write(tmp_path, {"training": train, "validaton": train[:1]}), num_classes=4)
    with pytest.raises(DatalistError, match="section 'validation' is empty"):
        Datalist(_write(tmp_path, {"training": train, "validation": []}), num_classes=4)
    metadata = {"name": "mine", "labels": {"0": "bg"}, "numTraining": 3, "training": train}  # MSD keys pass
    assert len(Datalist(_write(tmp_path, metadata), num_classes=4).sections["training"]) == 2
    with pytest.raises(DatalistError, match="is a folder; give the datalist JSON file itself"):
        Datalist(tmp_path, num_classes=4)


def test_images_the_bundle_cannot_use_are_named(tmp_path):
    good = [_pair(tmp_path, f"t{i}") for i in range(2)]
    nib.save(nib.Nifti1Image(np.random.rand(8, 7, 3, 2).astype(np.float32), AFFINE), tmp_path / "img" / "two.nii.gz")
    nan = np.random.rand(8, 7, 3).astype(np.float32)
    nan[1, 1, 1] = np.nan
    nib.save(nib.Nifti1Image(nan, AFFINE), tmp_path / "img" / "nan.nii.gz")
    Image.fromarray(np.zeros((8, 7), np.uint8)).save(tmp_path / "img" / "flat.png")
    entries = good + [{"image": "img/two.nii.gz", "label": good[0]["label"]},
                      {"image": "img/nan.nii.gz", "label": good[0]["label"]}]  # fmt: skip
    with pytest.raises(DatalistError) as info:
        Datalist(_write(tmp_path, {"training": entries}), num_classes=4, image_channels=1, image_dims=(2, 3))
    text = str(info.value)
    assert "training[2] (two.nii.gz)" in text and "has 2 channel(s); this bundle's network takes 1" in text
    assert "training[3] (nan.nii.gz)" in text and "NaN or infinite" in text
    # a PNG where a 3D volume is read (LA), and a single-channel NIfTI where RGB is read (ISIC)
    with pytest.raises(DatalistError, match=r"is 2D .* this bundle reads 3D images"):
        Datalist(_write(tmp_path, {"training": good, "unlabeled": ["img/flat.png"]}), num_classes=4, image_dims=(3,))
    with pytest.raises(DatalistError, match=r"has 1 channel\(s\); this bundle's network takes 3"):
        Datalist(_write(tmp_path, {"training": good}), num_classes=4, image_channels=3)


def test_a_mask_mixing_1_and_255_is_refused(tmp_path):
    pairs = []
    for i, values in enumerate(([0, 1], [0, 255], [0, 1, 255])):
        Image.fromarray(np.full((6, 5, 3), 90, np.uint8)).save(tmp_path / f"i{i}.png")
        mask = np.zeros((6, 5), np.uint8)
        mask.flat[: len(values)] = values
        Image.fromarray(mask).save(tmp_path / f"m{i}.png")
        pairs.append({"image": f"i{i}.png", "label": f"m{i}.png"})
    with pytest.raises(DatalistError, match=r"training\[2\] .* mixes the values 1 and 255") as info:
        Datalist(_write(tmp_path, {"training": pairs}), num_classes=2, image_channels=3, image_dims=(2,))
    assert "training[0]" not in str(info.value) and "training[1]" not in str(info.value)
