# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""One datasource protocol for every dataset: labeled_items(), unlabeled_items(), items(split), the labeled
subset fixed at construction; the bundles map it onto their ids once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adamix_monai.data.sources import ACDC, ISIC, LA, DataSource, Datalist, split_name
from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.isic_fixtures import make_mini_isic
from tests.helpers.la_fixtures import make_mini_la

REPO = Path(__file__).resolve().parents[2]
ITEM_IDS = ("train_items", "unlabeled_items", "val_items", "test_items")


def _datalist(root: Path) -> Datalist:
    from tests.data.test_datalist import _pair, _write

    root.mkdir()
    train = [_pair(root, f"t{i}") for i in range(4)]
    path = _write(root, {"training": train, "validation": [_pair(root, "v")], "test": [_pair(root, "s")]})
    return Datalist(path, num_classes=4)


def _sources(tmp_path: Path) -> dict[str, DataSource]:
    return {
        "acdc": ACDC(make_mini_acdc(tmp_path / "acdc"), labeled_fraction=0.2, num_training_patients=10),
        "la": LA(make_mini_la(tmp_path / "la"), labeled_cases=2, validation_cases=1),
        "isic": ISIC(make_mini_isic(tmp_path / "isic", n=10), labeled_fraction=0.5),
        "datalist": _datalist(tmp_path / "dl"),
    }


def test_every_source_answers_the_protocol(tmp_path):
    for name, source in _sources(tmp_path).items():
        assert isinstance(source, DataSource), name
        labeled, unlabeled = source.labeled_items(), source.unlabeled_items()
        assert labeled and all({"image", "label"} <= set(i) for i in labeled), name
        assert unlabeled and all("label" not in i for i in unlabeled), name  # labels unreachable
        for split in ("val", "test"):
            items = source.items(split)
            assert items and all({"image", "label"} <= set(i) for i in items), (name, split)
        assert source.items("validation") == source.items("val"), name
        with pytest.raises(ValueError, match="unknown split|no 'bogus' section"):
            source.items("bogus")
        # the evaluation splits never overlap the labeled training items
        train_images = {i["image"] for i in labeled}
        assert not train_images & {i["image"] for split in ("val", "test") for i in source.items(split)}, name


def test_the_labeled_subset_is_fixed_at_construction(tmp_path):
    root = make_mini_acdc(tmp_path / "acdc")
    small = ACDC(root, labeled_fraction=0.1, num_training_patients=10).labeled_items()
    large = ACDC(root, labeled_fraction=0.5, num_training_patients=10).labeled_items()
    assert 0 < len(small) < len(large) and small == large[: len(small)]
    la_root = make_mini_la(tmp_path / "la")
    assert LA(la_root).labeled_cases == 8  # 10% of the official 80, not of the folder's list
    assert LA(la_root, labeled_fraction=0.2).labeled_cases == 16
    la = LA(la_root, labeled_cases=2)
    assert [i["id"] for i in la.labeled_items()] == la.training_cases()[:2]
    assert la.validation_cases == 1 and [i["id"] for i in la.items("val")] == la.training_cases()[-1:]


def test_split_names():
    assert split_name("validation", "x") == "val" == split_name("val", "x") and split_name("test", "x") == "test"
    with pytest.raises(ValueError, match="x: unknown split 'train'"):
        split_name("train", "x")


def test_each_bundle_part_names_only_its_source():
    """The item ids live once in bundles/common (the unlabeled stream from the datastore when the data is injected,
    adamix_monai.workflows.datastore); a bundle's part sets ``datasource`` and nothing of the items."""
    common = json.loads((REPO / "bundles" / "common" / "train.json").read_text())
    assert [common[k] for k in ITEM_IDS] == [
        "$@datasource.labeled_items()",
        "$adamix_monai.workflows.unlabeled_items(@datasource, @train#dataset#data, @validate#dataset#data, "
        "injected=@data_injected, unlabeled_dir=@unlabeled_dir)",
        "$@datasource.items('val')",
        "$@datasource.items(@eval_split)",
    ]
    for part in sorted((REPO / "bundles").glob("*/parts/train.json")) + [REPO / "bundles" / "common" / "datalist.json"]:
        config = json.loads(part.read_text())
        assert not set(ITEM_IDS) & set(config), part
        assert config["datasource"].startswith("$adamix_monai.workflows.require_dataset(adamix_monai.data.sources."), part
        assert config["datasource"].endswith(", lazy=True)"), part  # opened on first use: MONAI Label needs it not
