# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""One module for where bundles and datasets are looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from adamix_monai import paths
from adamix_monai.errors import BundleInputError


def test_bundles_are_found_in_the_checkout_then_in_adamix_bundles_dir(tmp_path, monkeypatch):
    assert paths.bundle_dir("adamix_acdc") == str(paths.BUNDLES_DIR / "adamix_acdc")
    own = tmp_path / "adamix_acdc"
    (own / "configs").mkdir(parents=True)
    (own / "configs" / "metadata.json").write_text("{}")
    monkeypatch.setenv("ADAMIX_BUNDLES_DIR", str(tmp_path))
    assert paths.bundle_dir("adamix_acdc") == str(own)  # the environment variable comes first
    assert paths.bundle_candidates("acdc")[:3] == [Path("acdc"), tmp_path / "acdc", own]
    with pytest.raises(BundleInputError, match="cannot locate bundle 'adamix_nope'.*--bundle_root"):
        paths.bundle_dir("adamix_nope")


def test_datasets_are_found_by_adamix_data_dir_first(tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMIX_DATA_DIR", str(tmp_path))
    assert paths.dataset_candidates("LA")[0] == tmp_path / "LA"
    assert paths.default_dataset_dir("NOPE") == str(tmp_path / "NOPE")  # none exists: the first, for the message
    (tmp_path / "PH2").mkdir()
    assert paths.default_dataset_dir(["ISIC2018", "PH2"]) == str(tmp_path / "PH2")  # the stand-in when no ISIC
