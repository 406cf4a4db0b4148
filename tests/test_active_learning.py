# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Active learning by AdaMix confidence (adamix_monai.active_learning) and the MONAI Label app folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

from adamix_monai.active_learning import BundleUncertainty, study_uncertainty, to_probabilities
from tests.conftest import DATA_DIR, REPO_ROOT


def test_study_uncertainty_is_the_mean_of_the_least_confident_patches():
    probs = torch.full((1, 2, 8, 8), 0.5)
    probs[:, 0] = 1.0
    probs[:, 1] = 0.0
    assert study_uncertainty(probs, grid=4, topk=2, spatial_dims=2) == pytest.approx(0.0)
    probs[0, :, :2, :2] = 0.5  # one 2x2 patch at confidence 0.5
    probs[0, :, 6:, 6:] = torch.tensor([0.8, 0.2])[:, None, None]  # another at 0.8
    # the two least confident patches: 0.5 and 0.8 -> 1 - 0.65
    assert study_uncertainty(probs, grid=4, topk=2, spatial_dims=2) == pytest.approx(0.35)
    assert study_uncertainty(probs, grid=4, topk=1, spatial_dims=2) == pytest.approx(0.5)


def test_a_2d_network_on_a_volume_pools_the_patches_of_every_slice():
    probs = torch.zeros((1, 2, 8, 8, 3))
    probs[:, 0] = 1.0
    probs[0, :, :4, :4, 2] = 0.5  # slice 2 (last axis) has a 4x4 patch at 0.5
    assert study_uncertainty(probs, grid=2, topk=1, spatial_dims=2, slice_axis=2) == pytest.approx(0.5)
    assert study_uncertainty(probs, grid=2, topk=4, spatial_dims=2, slice_axis=-1) == pytest.approx(0.125)
    # a 3D grid over the whole volume; sizes the grid does not divide are pooled adaptively
    assert 0 < study_uncertainty(probs, grid=(3, 3, 2), topk=2, spatial_dims=3) < 0.5


def test_to_probabilities_keeps_distributions_and_softmaxes_logits():
    p = torch.softmax(torch.randn(1, 3, 4, 4), 1)
    assert torch.equal(to_probabilities(p), p)
    logits = torch.randn(1, 3, 4, 4) * 5
    torch.testing.assert_close(to_probabilities(logits), torch.softmax(logits, 1))


@pytest.fixture(scope="module")
def served_acdc(tmp_path_factory):
    """A copy of the ACDC bundle with seeded untrained weights, and three NIfTI studies."""
    from monai.bundle import ConfigParser

    root = tmp_path_factory.mktemp("served") / "adamix_acdc"
    shutil.copytree(REPO_ROOT / "bundles" / "adamix_acdc" / "configs", root / "configs")
    parser = ConfigParser()
    parser.read_config(str(root / "configs" / "inference.json"))
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def")
    (root / "models").mkdir()
    torch.save(net.state_dict(), root / "models" / "model.pt")
    (root / "models" / "model.json").write_text('{"image_size": [32, 32], "num_classes": 4}')
    studies = root.parent / "studies"
    studies.mkdir()
    rng = np.random.RandomState(0)
    for k in range(3):
        image = (rng.rand(40, 36, 3) * (k + 1)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.diag([1.5, 1.5, 10, 1])), studies / f"s{k}.nii.gz")
    return root, sorted(studies.iterdir())


def test_bundle_uncertainty_ranks_studies_and_caches_until_something_changes(served_acdc):
    root, studies = served_acdc
    scorer = BundleUncertainty(root, device="cpu")
    assert scorer.grid == 8 and scorer.topk == 16  # the bundle's own patch grid and K
    ranked = scorer.rank(studies)
    assert sorted(p for p, _ in ranked) == [str(p) for p in studies]
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 0.75 for s in scores)
    calls = []
    network = scorer._load()[0]
    hook = network.register_forward_hook(lambda *a: calls.append(1))
    assert scorer.rank(studies) == ranked and not calls  # cached: no inference
    os.utime(studies[0], ns=(1, 1))  # the study changed: scored again
    scorer.score(studies[0])
    assert calls
    hook.remove()
    again = BundleUncertainty(root, device="cpu").rank(studies)
    assert again == ranked  # deterministic


def test_on_real_acdc_the_most_uncertain_studies_are_the_worst_segmented(tmp_path):
    """With weights trained on ACDC (a run in bundles/adamix_acdc/runs, when one exists here), the uncertainty of real
    test volumes falls as the model's Dice on them rises (Spearman < 0; benchmarks/active_learning.py prints the
    table, the README records it)."""
    from scipy.stats import spearmanr

    from adamix_monai.active_learning import uncertainty_and_dice

    runs = sorted((REPO_ROOT / "bundles" / "adamix_acdc" / "runs").glob("*/model.pt"))
    if not (DATA_DIR / "ACDC" / "test.list").is_file() or not runs:
        pytest.skip("needs real ACDC and a trained ACDC run in bundles/adamix_acdc/runs")
    from tests.helpers.acdc_nifti import write_studies

    root = tmp_path / "adamix_acdc"
    shutil.copytree(REPO_ROOT / "bundles" / "adamix_acdc" / "configs", root / "configs")
    (root / "models").mkdir()
    shutil.copy(runs[0], root / "models" / "model.pt")
    if runs[0].with_suffix(".json").is_file():
        shutil.copy(runs[0].with_suffix(".json"), root / "models" / "model.json")
    images = write_studies(DATA_DIR / "ACDC", tmp_path / "studies", split="test", cases=8)
    pairs = [(p, tmp_path / "studies" / "labels" / "final" / p.name) for p in images]
    rows = uncertainty_and_dice(BundleUncertainty(root, device="cpu"), pairs, num_classes=4)
    rho = spearmanr([r["uncertainty"] for r in rows], [r["dice"] for r in rows]).statistic
    assert rho < 0, rows


def test_label_app_folder(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    run = lambda *a: subprocess.run([sys.executable, "-m", "adamix_monai", "label_app", *a], cwd=REPO_ROOT, env=env,
                                    capture_output=True, text=True, timeout=300)  # noqa: E731  # fmt: skip
    proc = run(str(tmp_path / "app"), "--bundles", "acdc,isic")
    assert proc.returncode == 0, proc.stderr
    assert "--conf models adamix_acdc,adamix_isic --conf zoo_source local" in proc.stdout
    main = (tmp_path / "app" / "main.py").read_text()
    assert "from adamix_monai.label_app.app import AdaMixLabelApp" in main
    for bundle in ("adamix_acdc", "adamix_isic"):
        assert (tmp_path / "app" / "model" / bundle / "configs" / "inference.json").is_file()
    assert run(str(tmp_path / "app"), "--bundles", "acdc").returncode == 0  # rewriting its own app is fine
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "main.py").write_text("# someone else's app\n")
    proc = run(str(tmp_path / "other"))
    assert proc.returncode == 2 and "another app's main.py" in proc.stderr and "Traceback" not in proc.stderr
    proc = run(str(tmp_path / "app2"), "--bundles", "nope")
    assert proc.returncode == 2 and "no bundle 'nope'" in proc.stderr


def test_the_app_module_loads_where_monailabel_is_installed():
    pytest.importorskip("monailabel", reason="monailabel lives in its own environment (tests/integration)")
    from adamix_monai.label_app.app import AdaMixLabelApp, AdaMixUncertainty

    assert AdaMixLabelApp.init_strategies and AdaMixUncertainty.__call__


def test_rank_leaves_out_studies_the_model_cannot_read(served_acdc, tmp_path, caplog):
    from PIL import Image

    root, studies = served_acdc
    rgb = tmp_path / "photo.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(rgb)  # RGB: the grey-level ACDC network takes 1 channel
    with caplog.at_level("WARNING"):
        ranked = BundleUncertainty(root, device="cpu").rank([*studies, rgb])
    assert sorted(p for p, _ in ranked) == [str(p) for p in studies]
    assert "photo.png left out" in caplog.text
    with pytest.raises(Exception, match="is not a bundle folder"):
        BundleUncertainty(tmp_path / "no_bundle", device="cpu").rank(studies)
    shutil.copytree(root / "configs", tmp_path / "untrained" / "configs")
    with pytest.raises(Exception, match="do not exist; train first"):  # no weights: an error, not a skipped study
        BundleUncertainty(tmp_path / "untrained", device="cpu").rank(studies)
