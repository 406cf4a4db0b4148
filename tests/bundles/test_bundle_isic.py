# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ISIC bundle end to end through ``python -m monai.bundle run``: train, evaluate, infer, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from monai.bundle import ConfigParser
from PIL import Image

from adamix_monai.workflows import bundle_dir
from tests.helpers.bundle_runs import bundle_run, check, check_metadata, train_and_evaluate
from tests.conftest import REPO_ROOT
from tests.helpers.isic_fixtures import make_mini_isic

CONFIGS = REPO_ROOT / "bundles" / "adamix_isic" / "configs"
TINY = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
    "--cache_rate", "0", "--log_every", "1", "--history_every", "1", "--progress", "False",
]  # fmt: skip


@pytest.fixture(scope="module")
def mini_isic(tmp_path_factory) -> Path:
    return make_mini_isic(tmp_path_factory.mktemp("isic"), layout="official", n=20, lists=False)


def test_paper_protocol_ids(mini_isic, tmp_path):
    assert Path(bundle_dir("adamix_isic")) == REPO_ROOT / "bundles" / "adamix_isic"
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    parser.update({"dataset_dir": str(mini_isic), "bundle_root": str(tmp_path), "labeled_fraction": 0.1})
    assert parser["image_size"] == [256, 256] and parser["num_classes"] == 2 and parser["epochs"] == 100
    assert parser.get_parsed_content("network_def").encoder[0][0].in_channels == 3
    source = parser.get_parsed_content("datasource")
    assert [len(source.split_ids(s)) for s in ("train", "val", "test")] == [14, 2, 4]  # 7:1:2 without lists
    assert len(parser.get_parsed_content("train_items")) == 1  # 10% of 14
    assert parser.get_parsed_content("run_name") == "self_training-adamix-10pct-seed1"


def test_missing_pair_gives_one_clear_message(tmp_path):
    root = make_mini_isic(tmp_path / "isic", layout="plain", n=6, lists=False)
    next((root / "masks").iterdir()).unlink()
    proc = bundle_run("adamix_isic", ["train.json"], "--dataset_dir", str(root), "--bundle_root", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "error: " in proc.stderr and "--dataset_dir" in proc.stderr and "mask" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_train_evaluate_infer_on_a_mini_isic(mini_isic, tmp_path):
    common = ["--dataset_dir", str(mini_isic), "--bundle_root", str(tmp_path), *TINY]
    check(bundle_run("adamix_isic", ["train.json", "cpu.json"], *common))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    for name in ("checkpoint.pt", "model.pt", "model_final.pt", "history.csv", "validation.csv"):
        assert (run / name).is_file(), name

    proc = bundle_run("adamix_isic", ["train.json", "cpu.json", "evaluate.json"], *common)
    check(proc)
    assert "| AdaMix-ST | 10% |" in proc.stdout
    with open(run / "eval-test-best" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["class_name"] for r in rows} == {"Lesion"}

    # inference on RGB JPGs of any size: a PNG mask (0/255) with the input's size and orientation
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rgb = (np.random.RandomState(0).rand(30, 44, 3) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(inputs / "lesion1.jpg")
    args = ["--bundle_root", str(tmp_path), "--input_dir", str(inputs), "--image_size", "[32,32]"]
    check(bundle_run("adamix_isic", ["inference.json"], *args))
    pred = np.asarray(Image.open(tmp_path / "predictions" / "lesion1_seg.png"))
    assert pred.shape == (30, 44) and set(np.unique(pred)) <= {0, 255}


@pytest.mark.realdata
def test_bundle_trains_and_evaluates_on_real_ph2(ph2_dir, tmp_path):
    common = [
        "--dataset_dir", str(ph2_dir), "--bundle_root", str(tmp_path), *TINY, "--image_size", "[64,64]",
        "--labeled_fraction", "0.05", "--val_items", "$@datasource.items('val')[:2]",
        "--unlabeled_items", "$@datasource.unlabeled_items()[:8]",
    ]  # fmt: skip
    proc = train_and_evaluate("adamix_isic", common, "--test_items", "$@datasource.items('test')[:3]")
    assert "| AdaMix-ST | 5% |" in proc.stdout
    with open(tmp_path / "runs" / "self_training-adamix-5pct-seed1" / "eval-test-best" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(r["case"].startswith("IMD") for r in rows)


def test_metadata_matches_the_network():
    """MONAI's own check: the network built from the config takes and returns what metadata.json declares."""
    check_metadata("adamix_isic", 2, {"0": "background", "1": "lesion"})
