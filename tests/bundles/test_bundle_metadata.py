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


BUNDLES = ["adamix_acdc", "adamix_la", "adamix_isic"]


def _metadata(bundle: str) -> dict:
    import json

    return json.loads((REPO_ROOT / "bundles" / bundle / "configs" / "metadata.json").read_text())


@pytest.mark.parametrize("bundle", BUNDLES)
def test_metadata_tells_the_truth(bundle):
    """Pins are the versions this environment runs (the package index's latest here), every pinned package is a
    dependency, nothing unpublished is pinned, and MONAI Label (tested: tests/integration) is listed."""
    from importlib.metadata import version

    import monai
    import numpy
    import torch

    meta = _metadata(bundle)
    pins = meta["required_packages_version"]
    assert "adamix-monai" not in pins  # on no package index; the description says to install it from the repository
    assert "adamix-monai package" in meta["description"]
    for name, pinned in pins.items():
        assert version(name) == pinned, f"{bundle}: {name} pinned {pinned}, installed {version(name)}"
    required = (REPO_ROOT / "setup.cfg").read_text().split("install_requires =")[1].split("[")[0].lower()
    for name in pins:
        assert name.lower() in required, f"{bundle}: {name} is pinned but not a dependency in setup.cfg"
    assert meta["monai_version"] == monai.__version__.split("+")[0]
    assert meta["pytorch_version"] == torch.__version__.split("+")[0]
    assert meta["numpy_version"] == numpy.__version__
    assert meta["supported_apps"] == {"monai-label": "0.8.5"}
    assert all(v != 0.0 for v in meta["eval_metrics"].values())  # no placeholder scores
    if bundle == "adamix_acdc":  # the ACDC CPU study's AdaMix-ST (last model, every recorded seed)
        import numpy as np

        from adamix_monai.study import seed_means

        study = seed_means(REPO_ROOT / "bundles" / bundle / "docs" / "results" / "study", "AdaMix-ST")
        assert meta["eval_metrics"] == {"mean_dice": round(float(np.mean(study["dice"])) / 100, 4)}
    else:  # nothing trained to convergence yet: no score rather than a made-up one
        assert meta["eval_metrics"] == {}


@pytest.mark.parametrize("bundle", BUNDLES)
def test_large_files_name_the_weights_and_their_absence_is_one_error_line(bundle, tmp_path):
    """large_files.yml lists models/model.pt (no published weights yet: the bundle's training makes them); a copied
    bundle without them stops inference with one ``error:`` line naming the file."""
    import yaml

    listed = yaml.safe_load((REPO_ROOT / "bundles" / bundle / "large_files.yml").read_text())["large_files"]
    assert [f["path"] for f in listed] == ["models/model.pt"]
    if bundle != "adamix_acdc":
        return  # the run below is the same code path for every bundle
    import nibabel as nib
    import numpy as np

    copy = tmp_path / bundle
    shutil.copytree(REPO_ROOT / "bundles" / bundle, copy, ignore=shutil.ignore_patterns("models", "runs"))
    (copy / "in").mkdir()
    nib.save(nib.Nifti1Image(np.random.rand(32, 32, 2).astype(np.float32), np.eye(4)), copy / "in" / "a.nii.gz")
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json", "--dataset_dir", "in"],
        cwd=copy, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"'{copy / 'models' / 'model.pt'}' do not exist" in lines[0] and "train" in lines[0]
    assert "Traceback" not in proc.stderr and not (copy / "out").exists()


@pytest.mark.parametrize("bundle", BUNDLES)
def test_each_bundle_readme_has_the_model_zoo_sections(bundle):
    text = (REPO_ROOT / "bundles" / bundle / "docs" / "README.md").read_text()
    card = text.split("## Model card (the model zoo's sections)", 1)[1].split("\n## ", 1)[0]
    for section in ("Model overview", "Data", "Training requirements", "Inference requirements", "Input", "Output",
                    "Performance", "Export", "References", "License"):  # fmt: skip
        assert f"**{section}.**" in card, f"{bundle}: no '{section}' in the model card"
