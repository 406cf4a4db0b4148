# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MONAI's ``verify_metadata`` passes on every bundle against MONAI's published schema (offline copy in
``../shared/schemas``; skipped when it, or ``jsonschema``, is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DATA_DIR, REPO_ROOT

SCHEMA = DATA_DIR.parent / "schemas" / "meta_schema_20240725.json"


@pytest.mark.parametrize("bundle", ["adamix_acdc", "adamix_la", "adamix_isic"])
def test_verify_metadata_against_monais_schema(bundle, tmp_path):
    pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip(f"MONAI's metadata schema not found at {SCHEMA}")
    schema = tmp_path / SCHEMA.name
    shutil.copy(SCHEMA, schema)  # verify_metadata may write where it is pointed
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "verify_metadata", "--meta_file",
         str(REPO_ROOT / "bundles" / bundle / "configs" / "metadata.json"), "--filepath", str(schema)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip
    assert proc.returncode == 0 and "metadata is verified with no error" in proc.stdout + proc.stderr, proc.stderr
