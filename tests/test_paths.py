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


def test_the_package_bakes_in_no_data_folder_of_this_project(tmp_path, monkeypatch):
    """Without ADAMIX_DATA_DIR the package looks in data/ of the checkout and of the working directory only (the
    suite's own default, ../shared/data, lives in tests/conftest.py)."""
    monkeypatch.delenv("ADAMIX_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.dataset_candidates("ACDC") == [paths.REPO_ROOT / "data" / "ACDC", tmp_path / "data" / "ACDC"]
    assert not any("shared" in p.parts for p in paths.dataset_candidates(["ISIC2018", "PH2"]))
    from adamix_monai.data.sources import ACDC
    from adamix_monai.workflows import require_dataset

    with pytest.raises(BundleInputError, match=r"--dataset_dir <folder> \(or ADAMIX_DATA_DIR to the folder that"):
        require_dataset(ACDC, paths.default_dataset_dir("ACDC"))


def test_a_copied_bundle_reads_only_its_own_folder(tmp_path):
    """The model zoo's layout: ``models/adamix_acdc/`` run from the zoo's root must load ITS ``models/model.pt``,
    never the checkout's."""
    import os
    import shutil
    import subprocess
    import sys

    import nibabel as nib
    import numpy as np

    copy = tmp_path / "models" / "adamix_acdc"
    shutil.copytree(paths.BUNDLES_DIR / "adamix_acdc", copy, ignore=shutil.ignore_patterns("runs", "models", "docs"))
    images = tmp_path / "images"
    images.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((24, 24, 3), np.float32), np.eye(4)), images / "x.nii.gz")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", "models/adamix_acdc/configs/inference.json",
         "--dataset_dir", str(images)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"'{copy / 'models' / 'model.pt'}' do not exist" in proc.stderr  # the copy's own weights, not the checkout's
    assert not (tmp_path / "predictions").exists() and not (copy / "predictions").exists()
