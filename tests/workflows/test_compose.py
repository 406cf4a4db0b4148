# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The bundles' runnable configs are composed from bundles/common and each bundle's parts, and kept in sync."""

from __future__ import annotations

import json

import pytest

from adamix_monai.workflows.compose import COMPOSED, REQUIRED, compose_bundle, compose_config, stale_configs
from tests.conftest import REPO_ROOT

BUNDLES = sorted(p.name for p in (REPO_ROOT / "bundles").iterdir() if (p / "parts").is_dir())


def test_every_bundle_is_composed_and_up_to_date():
    assert {"adamix_acdc", "adamix_la", "adamix_isic"} <= set(BUNDLES)
    stale = stale_configs()
    assert not stale, f"stale composed configs, run `adamix-monai configs`: {stale}"
    for bundle in BUNDLES:
        for name in COMPOSED:
            text = (REPO_ROOT / "bundles" / bundle / "configs" / name).read_text()
            assert REQUIRED not in text
            assert json.loads(text)["_generated_"].startswith(f"Composed from bundles/common/{name}")


def test_bundles_share_the_wiring_and_differ_in_their_parts():
    configs = {b: json.loads((REPO_ROOT / "bundles" / b / "configs" / "train.json").read_text()) for b in BUNDLES}
    trainers = {json.dumps(c["train"]["trainer"], sort_keys=True) for c in configs.values()}
    assert len(trainers) == 1  # one trainer wiring for every dataset
    assert len({json.dumps(c["network_def"], sort_keys=True) for c in configs.values()}) == len(BUNDLES)


def _tree(tmp_path, base: dict, part: dict | None) -> None:
    (tmp_path / "common").mkdir()
    bundle = tmp_path / "b"
    (bundle / "parts").mkdir(parents=True)
    (bundle / "configs").mkdir()
    for name in COMPOSED:
        (tmp_path / "common" / name).write_text(json.dumps(base))
        if part is not None:
            (bundle / "parts" / name).write_text(json.dumps(part))


def test_merge_rules_and_overlay_keys(tmp_path):
    base = {"imports": ["$import os"], "a": REQUIRED, "train": {"x": 1, "y": REQUIRED}, "run": ["$print(1)"]}
    part = {"+imports": ["$import json"], "a": 2, "train#y": {"k": 3}, "validate#sampler": "s", "new": [1]}
    _tree(tmp_path, base, part)
    merged = compose_config(tmp_path / "common" / "train.json", tmp_path / "b" / "parts" / "train.json")
    assert merged["imports"] == ["$import os", "$import json"]
    assert merged["a"] == 2 and merged["train"] == {"x": 1, "y": {"k": 3}}
    assert merged["validate#sampler"] == "s"  # an overlay key for MONAI to merge at run time stays as it is
    assert list(merged)[:3] == ["imports", "a", "train"]  # the base's order is kept
    written = compose_bundle("b", root=tmp_path)
    assert len(written) == len(COMPOSED) and stale_configs(tmp_path) == []
    assert compose_bundle("b", root=tmp_path) == []  # nothing rewritten when up to date
    (tmp_path / "b" / "parts" / "train.json").write_text(json.dumps({**part, "a": 5}))
    assert stale_configs(tmp_path) == [tmp_path / "b" / "configs" / "train.json"]


def test_a_missing_required_id_is_named(tmp_path):
    _tree(tmp_path, {"a": REQUIRED, "train": {"y": REQUIRED}}, {"a": 1})
    with pytest.raises(ValueError, match=r"must set train#y"):
        compose_bundle("b", root=tmp_path)


def test_composed_configs_are_in_canonical_order():
    """imports first, the workflow sections last (a part's own ids never land after ``run``)."""
    import json

    from tests.conftest import REPO_ROOT

    for path in sorted((REPO_ROOT / "bundles").glob("adamix_*/configs/*.json")):
        config = json.loads(path.read_text())
        if "_generated_" not in config:
            continue
        keys = [k for k in config if k != "_generated_"]
        if "imports" in keys:
            assert keys[0] == "imports", path
        sections = [k for k in keys if k in ("initialize", "run", "finalize")]
        assert keys[len(keys) - len(sections):] == sections, path
        assert "--config_file" in config["_generated_"], path
