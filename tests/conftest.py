# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: where the real data lives, and a clean skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The real data: ``$ADAMIX_DATA_DIR``, else ``../shared/data`` beside the checkout (this project's machines). The
#: default is the test suite's only; the package itself knows no such folder. It is exported, so the bundle runs the
#: tests start find the data as a user's shell with ``ADAMIX_DATA_DIR`` set would.
DATA_DIR = Path(os.environ.get("ADAMIX_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
os.environ.setdefault("ADAMIX_DATA_DIR", str(DATA_DIR))


@pytest.fixture(scope="session")
def acdc_dir() -> Path:
    """The real ACDC data (SSL4MIS layout) in ``../shared/data/ACDC``; skips when it is absent."""
    path = DATA_DIR / "ACDC"
    if not (path / "data" / "slices").is_dir():
        pytest.skip(f"real ACDC data not found at {path} (set ADAMIX_DATA_DIR to the folder holding ACDC/)")
    pytest.importorskip("h5py")
    return path


@pytest.fixture(scope="session")
def la_dir() -> Path:
    """The real LA subset (UA-MT layout) in ``../shared/data/LA``; skips when it is absent."""
    path = DATA_DIR / "LA"
    if not (path / "2018LA_Seg_Training Set").is_dir():
        pytest.skip(f"real LA data not found at {path} (set ADAMIX_DATA_DIR to the folder holding LA/)")
    pytest.importorskip("h5py")
    return path


@pytest.fixture(scope="session")
def ph2_dir() -> Path:
    """The real PH2 stand-in for ISIC 2018 (plain layout) in ``../shared/data/PH2``; skips when it is absent."""
    path = DATA_DIR / "PH2"
    if not (path / "images").is_dir():
        pytest.skip(f"real PH2 data not found at {path} (set ADAMIX_DATA_DIR to the folder holding PH2/)")
    return path
