# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The unlabeled stream of a MONAI Label training: the datastore's unlabeled studies (adamix_monai.workflows.datastore)."""

from __future__ import annotations

import pytest

from adamix_monai.data.sources import ACDC
from adamix_monai.errors import BundleInputError
from adamix_monai.workflows import DeferredDataset, data_injected, require_dataset, run_name, unlabeled_items


class Source:
    """A bundle dataset with fixed lists."""

    def __init__(self):
        self.opened = 0

    def labeled_items(self):
        return [{"image": "a.h5", "label": "a.h5"}]

    def items(self, split):
        return [{"image": "v.h5", "label": "v.h5"}]

    def unlabeled_items(self):
        return [{"image": "u.h5"}]


def datastore(tmp_path, names=("s1", "s2", "s3", "s4"), labeled=("s1", "s2")):
    """MONAI Label's local datastore layout: images in the studies folder, labels in ``labels/final``."""
    (tmp_path / "labels" / "final").mkdir(parents=True)
    for n in names:
        (tmp_path / f"{n}.nii.gz").write_bytes(b"x")
    for n in labeled:
        (tmp_path / "labels" / "final" / f"{n}.nii.gz").write_bytes(b"y")
    (tmp_path / "datastore_v2.json").write_text("{}")  # MONAI Label's own files are not images
    (tmp_path / ".lock").write_text("")
    return [{"image": str(tmp_path / f"{n}.nii.gz"), "label": str(tmp_path / "labels" / "final" / f"{n}.nii.gz")}
            for n in labeled]  # fmt: skip


def test_deferred_dataset_opens_on_first_use_and_reports_the_option(tmp_path):
    source = require_dataset(ACDC, str(tmp_path / "absent"), lazy=True)
    assert isinstance(source, DeferredDataset) and "not opened" in repr(source)
    assert not source.available()
    with pytest.raises(BundleInputError, match="--dataset_dir"):
        source.labeled_items()
    with pytest.raises(BundleInputError, match="--dataset_dir"):
        require_dataset(ACDC, str(tmp_path / "absent"))  # eager by default, as before
    calls = []
    lazy = DeferredDataset(lambda: calls.append(1) or Source())
    assert calls == [] and lazy.unlabeled_items() == [{"image": "u.h5"}] and lazy.items("val") and calls == [1]


def test_data_injected():
    source = Source()
    own = {"train": source.labeled_items(), "validation": source.items("val")}
    assert not data_injected(own, source)
    assert data_injected({"train": [{"image": "/s/x.nii.gz", "label": "/s/l/x.nii.gz"}], "validation": own["validation"]}, source)
    absent = DeferredDataset(lambda: (_ for _ in ()).throw(BundleInputError("no dataset")))
    assert data_injected(own, absent)  # the lists resolved without the bundle's dataset: they came from elsewhere


def test_injected_runs_take_the_datastores_unlabeled_studies(tmp_path):
    pairs = datastore(tmp_path)
    items = unlabeled_items(Source(), pairs[:1], pairs[1:], injected=True)
    assert items == [{"image": str(tmp_path / "s3.nii.gz")}, {"image": str(tmp_path / "s4.nii.gz")}]
    # not injected: the bundle's own stream, whatever folders the items sit in
    assert unlabeled_items(Source(), pairs[:1], pairs[1:], injected=False) == [{"image": "u.h5"}]


def test_every_study_labeled_falls_back_to_the_labeled_images(tmp_path, caplog):
    pairs = datastore(tmp_path, names=("s1", "s2"), labeled=("s1", "s2"))
    with caplog.at_level("WARNING"):
        items = unlabeled_items(Source(), pairs[:1], pairs[1:], injected=True)
    assert items == [{"image": pairs[0]["image"]}] and "every study of the datastore" in caplog.text


def test_label_files_beside_images_and_validation_folders_are_not_unlabeled(tmp_path):
    """A datalist injected from another layout: labels next to the images, validation images elsewhere."""
    (tmp_path / "tr").mkdir()
    (tmp_path / "ts").mkdir()
    for name in ("tr/a.nii.gz", "tr/a_gt.nii.gz", "tr/b.nii.gz", "ts/v.nii.gz", "ts/v_gt.nii.gz", "ts/test.nii.gz"):
        (tmp_path / name).write_bytes(b"x")
    labeled = [{"image": str(tmp_path / "tr/a.nii.gz"), "label": str(tmp_path / "tr/a_gt.nii.gz")}]
    val = [{"image": str(tmp_path / "ts/v.nii.gz"), "label": str(tmp_path / "ts/v_gt.nii.gz")}]
    assert unlabeled_items(Source(), labeled, val, injected=True) == [{"image": str(tmp_path / "tr/b.nii.gz")}]


def test_unlabeled_dir(tmp_path):
    pairs = datastore(tmp_path / "studies")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "u1.png").write_bytes(b"x")
    (tmp_path / "more" / "notes.txt").write_text("")
    items = unlabeled_items(Source(), pairs, [], injected=False, unlabeled_dir=str(tmp_path / "more"))
    assert items == [{"image": str(tmp_path / "more" / "u1.png")}]
    with pytest.raises(BundleInputError, match="--unlabeled_dir .* is not a folder"):
        unlabeled_items(Source(), pairs, [], unlabeled_dir=str(tmp_path / "nope"))
    with pytest.raises(BundleInputError, match="holds no unlabeled image"):
        unlabeled_items(Source(), pairs, [], unlabeled_dir=str(tmp_path / "studies" / "labels"))


def test_run_name_with_injected_data_names_the_data():
    data = {"train": [{"image": "x"}], "validation": [], "unlabeled": [{"image": "u"}]}
    assert run_name("self_training", "adamix", 0.1, 1, data=data, injected=False) == "self_training-adamix-10pct-seed1"
    name = run_name("self_training", "adamix", 0.1, 1, data=data, injected=True)
    assert name.startswith("self_training-adamix-10pct-seed1-data") and len(name) == len("self_training-adamix-10pct-seed1-data") + 8
    more = dict(data, unlabeled=[{"image": "u"}, {"image": "w"}])  # a new unlabeled study: a run of its own
    assert run_name("self_training", "adamix", 0.1, 1, data=more, injected=True) != name


def test_a_datastore_with_other_modalities_gives_the_labeled_images_file_type(tmp_path):
    pairs = datastore(tmp_path)
    (tmp_path / "photo.png").write_bytes(b"x")  # an ISIC study of the same datastore
    items = unlabeled_items(Source(), pairs, [], injected=True)
    assert [i["image"] for i in items] == [str(tmp_path / "s3.nii.gz"), str(tmp_path / "s4.nii.gz")]


def test_a_run_recorded_before_the_speed_options_resumes_with_them_off(tmp_path):
    import json

    from adamix_monai.workflows import record_run

    record_run(tmp_path, {"seed": 1}, {"train": []})
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"] == {"seed": 1}
    assert record_run(tmp_path, {"seed": 1, "fuse_forwards": False, "skip_unused_passes": False}, {"train": []})
    assert json.loads((tmp_path / "run.json").read_text())["settings"]["fuse_forwards"] is False  # recorded now
    with pytest.raises(BundleInputError, match="fuse_forwards False there, True here"):
        record_run(tmp_path, {"seed": 1, "fuse_forwards": True, "skip_unused_passes": False}, {"train": []})


def test_in_a_bundle_run_injection_is_what_the_config_says():
    """``--val_items`` (the bundle's own data, narrowed) is not injected; a list in ``train#dataset#data`` is."""
    import adamix_monai.workflows
    from monai.bundle import ConfigParser

    for overrides, expected in (
        ({}, False),
        ({"val_items": "$@datasource.items('val')[:1]"}, False),
        ({"train#dataset#data": [{"image": "/studies/a.nii.gz", "label": "/studies/labels/final/a.nii.gz"}]}, True),
    ):
        parser = ConfigParser({
            "datasource": "$Source()",
            "train_items": "$@datasource.labeled_items()",
            "val_items": "$@datasource.items('val')",
            "train": {"dataset": {"data": "@train_items"}},
            "validate": {"dataset": {"data": "@val_items"}},
            "injected": "$adamix_monai.workflows.data_injected(dict(train=@train#dataset#data, "
                        "validation=@validate#dataset#data), @datasource)",
        }, globals={"adamix_monai": adamix_monai, "Source": Source})  # fmt: skip
        parser.update(overrides)
        assert parser.get_parsed_content("injected") is expected, overrides
