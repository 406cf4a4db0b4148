# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The LA (3D) bundle end to end through ``python -m monai.bundle run``: train, evaluate, infer, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.bundle import ConfigParser
from monai.inferers.utils import _get_scan_interval

from adamix_monai.workflows import bundle_dir
from tests.helpers.bundle_runs import bundle_run, check, check_metadata, train_and_evaluate
from tests.conftest import REPO_ROOT
from tests.helpers.la_fixtures import make_mini_la

CONFIGS = REPO_ROOT / "bundles" / "adamix_la" / "configs"
TINY = [
    "--image_size", "[16,16,16]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
    "--val_interval", "1", "--val_strides", "[16,16,16]", "--sw_strides", "[8,8,8]",
    "--log_every", "1", "--history_every", "1", "--progress", "False",
]  # fmt: skip


@pytest.fixture(scope="module")
def mini_la(tmp_path_factory) -> Path:
    return make_mini_la(tmp_path_factory.mktemp("la"), train=10, test=2, shape=(24, 20, 18))


def parse(mini_la: Path, tmp_path: Path, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / "cpu.json")])
    parser.update({"dataset_dir": str(mini_la), "bundle_root": str(tmp_path), **overrides})
    return parser


def test_paper_protocol_ids(mini_la, tmp_path):
    assert Path(bundle_dir("adamix_la")) == REPO_ROOT / "bundles" / "adamix_la"
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / "evaluate.json")])
    parser.update({"dataset_dir": str(mini_la), "bundle_root": str(tmp_path)})
    assert parser["image_size"] == [80, 112, 112] and parser["grid"] == 4 and parser["batch_size"] == 8
    assert parser.get_parsed_content("loss").dice_weight == 1.0  # LA trains on Dice only
    assert parser.get_parsed_content("datasource").labeled_cases == 8  # 10% of the official 80 training cases
    inferer = parser.get_parsed_content("evaluate#inferer")
    assert _get_scan_interval((200, 200, 200), inferer.roi_size, 3, inferer.overlap) == (4, 18, 18)
    # the CPU profile's coarser window must survive evaluate.json, which comes after it in the list
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / f) for f in ("train.json", "cpu.json", "evaluate.json")])
    parser.update({"dataset_dir": str(mini_la), "bundle_root": str(tmp_path)})
    inferer = parser.get_parsed_content("evaluate#inferer")
    assert _get_scan_interval((200, 200, 200), inferer.roi_size, 3, inferer.overlap) == (32, 48, 48)


@pytest.mark.parametrize("paradigm,mix", [("supervised", "none"), ("co_training", "adamix")])
def test_splits_and_trainer(mini_la, tmp_path, paradigm, mix):
    parser = parse(mini_la, tmp_path, paradigm=paradigm, mix=mix, labeled_cases=2)
    trainer = parser.get_parsed_content("train#trainer")
    assert trainer.paradigm == paradigm and (trainer.network2 is not None) == (paradigm == "co_training")
    labeled = [i["id"] for i in parser.get_parsed_content("train_items")]
    validation = [i["id"] for i in parser.get_parsed_content("val_items")]
    unlabeled = [i["id"] for i in parser.get_parsed_content("unlabeled_items")]
    assert labeled == ["CASE00", "CASE01"] and validation == ["CASE09"]  # carved from train.list, not test.list
    assert unlabeled == [f"CASE{i:02d}" for i in range(9)]


def test_views_on_the_device_train_and_are_recorded(mini_la, tmp_path):
    """``--views device``: the loaders crop (the geometry) and make no strong view, the trainer's
    :class:`BatchViews3d` makes it on the device; the run trains and records the choice."""
    parser = parse(mini_la, tmp_path, views="device", labeled_cases=2)
    trainer = parser.get_parsed_content("train#trainer")
    assert type(trainer.device_views).__name__ == "BatchViews3d" and trainer.device_views.seed == 1
    item = parser.get_parsed_content("train#dataset")[0]
    assert "image_strong" not in item and list(item["image"].shape) == [1, *parser.get_parsed_content("image_size")]
    common = ["--dataset_dir", str(mini_la), "--bundle_root", str(tmp_path), "--labeled_cases", "2", *TINY]
    check(bundle_run("adamix_la", ["train.json", "cpu.json"], *common, "--views", "device"))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    assert json.loads((run / "run.json").read_text())["settings"]["views"] == "device"
    with open(run / "history.csv") as f:
        assert all(float(r["loss"]) > 0 for r in csv.DictReader(f))


def test_missing_dataset_gives_one_clear_message(tmp_path):
    proc = bundle_run(
        "adamix_la", ["train.json"], "--dataset_dir", str(tmp_path / "no_la"), "--bundle_root", str(tmp_path)
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "error: LA:" in proc.stderr and "--dataset_dir" in proc.stderr and "UA-MT" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_train_evaluate_infer_on_a_mini_la(mini_la, tmp_path):
    common = ["--dataset_dir", str(mini_la), "--bundle_root", str(tmp_path), "--labeled_cases", "2", *TINY]
    check(bundle_run("adamix_la", ["train.json", "cpu.json"], *common))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    for name in ("checkpoint.pt", "model.pt", "model_final.pt", "history.csv", "validation.csv"):
        assert (run / name).is_file(), name
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2] and all(float(r["loss"]) > 0 for r in rows)

    proc = bundle_run("adamix_la", ["train.json", "cpu.json", "evaluate.json"], *common)
    check(proc)
    assert "| AdaMix-ST | 10% |" in proc.stdout
    out = run / "eval-test-best"
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["case"] for r in rows] == ["CASE10", "CASE11"] and {r["class_name"] for r in rows} == {"LA"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["honest"]["cases"] == 2 and "16, 16, 16" in str(summary["details"]["image_size"])

    # inference on a NIfTI volume stored (W, H, D) like the h5 files: predicted in (D, H, W), saved as given
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    volume = np.random.RandomState(0).randn(24, 20, 18).astype(np.float32)
    affine = np.diag([0.625, 0.625, 0.625, 1.0])
    nib.save(nib.Nifti1Image(volume, affine), inputs / "case1.nii.gz")
    args = ["--bundle_root", str(tmp_path), "--input_dir", str(inputs), "--image_size", "[16,16,16]"]
    check(bundle_run("adamix_la", ["inference.json"], *args, "--sw_strides", "[8,8,8]"))
    pred = nib.load(tmp_path / "predictions" / "case1_seg.nii.gz")
    assert pred.shape == (24, 20, 18)
    np.testing.assert_allclose(pred.affine, affine)
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1}


@pytest.mark.realdata
def test_bundle_trains_and_evaluates_on_real_la(la_dir, tmp_path):
    common = [
        "--dataset_dir", str(la_dir), "--bundle_root", str(tmp_path), *TINY, "--image_size", "[32,48,48]",
        "--val_strides", "[32,48,48]", "--sw_strides", "[32,48,48]",
    ]  # fmt: skip
    train_and_evaluate("adamix_la", common, "--test_items", "$@datasource.items('test')[:1]")
    with open(tmp_path / "runs" / "self_training-adamix-10pct-seed1" / "eval-test-best" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and 0.0 <= float(rows[0]["dice"]) <= 1.0


def test_metadata_matches_the_network():
    """MONAI's own check: the network built from the config takes and returns what metadata.json declares."""
    check_metadata("adamix_la", 3, {"0": "background", "1": "left atrium"})


def test_official_lists_give_the_paper_split(tmp_path):
    """With the official 80 + 20 lists: 8 or 16 labeled, 8 validation cases carved from training, 20 test."""
    root = make_mini_la(tmp_path / "la", train=80, test=20, shape=(4, 4, 4))
    for fraction, labeled in ((0.1, 8), (0.2, 16)):
        parser = parse(root, tmp_path, labeled_fraction=fraction)
        assert len(parser.get_parsed_content("train_items")) == labeled
        validation = parser.get_parsed_content("val_items")
        assert [v["id"] for v in validation] == [f"CASE{i:02d}" for i in range(72, 80)]
        assert len(parser.get_parsed_content("unlabeled_items")) == 72
        assert parser.get_parsed_content("run_name") == f"self_training-adamix-{labeled * 100 // 80}pct-seed1"
