# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ACDC bundle end to end through ``python -m monai.bundle run``: train, evaluate, infer, errors, overrides."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from adamix_monai.workflows import bundle_dir
from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.bundle_runs import bundle_run as run_bundle
from tests.helpers.bundle_runs import check, check_metadata, config_files
from tests.conftest import REPO_ROOT

CONFIGS = REPO_ROOT / "bundles" / "adamix_acdc" / "configs"
TINY = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
    "--cache_rate", "0", "--log_every", "1", "--history_every", "1", "--progress", "False",
]  # fmt: skip


def bundle_run(configs: list[str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_bundle("adamix_acdc", configs, *args, timeout=timeout)


@pytest.fixture(scope="module")
def mini_acdc(tmp_path_factory) -> Path:
    return make_mini_acdc(tmp_path_factory.mktemp("acdc"))


def test_default_bundle_root_is_the_bundle_folder(mini_acdc):
    assert Path(bundle_dir("adamix_acdc")) == REPO_ROOT / "bundles" / "adamix_acdc"
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    parser.update({"dataset_dir": str(mini_acdc)})  # the run's name depends on its data (injected data is named)
    out = Path(parser.get_parsed_content("output_dir"))
    assert out.parent.parent == REPO_ROOT / "bundles" / "adamix_acdc"
    assert out.name == "self_training-adamix-10pct-seed1"


@pytest.mark.parametrize("paradigm,mix", [("supervised", "none"), ("mean_teacher", "cutmix"), ("co_training", "umix")])
def test_paradigm_and_mix_overrides_build_the_trainer(mini_acdc, tmp_path, paradigm, mix):
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json"), str(CONFIGS / "cpu.json")])
    parser.update(
        {"dataset_dir": str(mini_acdc), "bundle_root": str(tmp_path), "paradigm": paradigm, "mix": mix, "seed": 3}
    )
    trainer = parser.get_parsed_content("train#trainer")
    assert trainer.paradigm == paradigm and trainer.mix_mode.value == mix
    assert (trainer.network2 is not None) == (paradigm == "co_training")
    assert (trainer.teacher is not None) == (paradigm == "mean_teacher")
    assert parser.get_parsed_content("run_name") == f"{paradigm}-{mix}-10pct-seed3"
    # labeled = the first 7 of 10 patients; the supervised paradigm builds no unlabeled stream
    assert len(parser.get_parsed_content("train#dataset")) == 14
    assert ("unlabeled" in trainer.streams) == (paradigm != "supervised")


def test_missing_dataset_gives_one_clear_message(tmp_path):
    proc = bundle_run(["train.json"], "--dataset_dir", str(tmp_path / "no_acdc"), "--bundle_root", str(tmp_path))
    assert proc.returncode != 0
    assert "error: ACDC:" in proc.stderr and "--dataset_dir" in proc.stderr and "SSL4MIS" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_views_on_the_device_train_and_are_recorded(mini_acdc, tmp_path):
    """``--views device``: the loaders only resize, the trainer makes the views; the run records the choice, and a
    resume with the other choice is refused (another run)."""
    common = ["--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path), *TINY]
    check(bundle_run(["train.json", "cpu.json"], *common, "--views", "device"))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    assert json.loads((run / "run.json").read_text())["settings"]["views"] == "device"
    with open(run / "history.csv") as f:
        assert all(float(r["loss"]) > 0 for r in csv.DictReader(f))
    other = bundle_run(["train.json", "cpu.json"], *common, "--views", "workers", "--epochs", "2")
    assert other.returncode == 2 and "views" in other.stderr


def test_the_cpu_speed_options_train_and_fast_dropout_is_recorded(mini_acdc, tmp_path):
    """``--views device --channels_last True --fast_dropout True`` (the CPU speed set of benchmarks/README.md) trains;
    the run records ``fast_dropout`` (its masks are other random bits: another run), so resuming without it is
    refused; a value other than True/False is one error line."""
    common = ["--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path), *TINY]
    speed = ["--views", "device", "--channels_last", "True", "--fast_dropout", "True"]
    check(bundle_run(["train.json", "cpu.json"], *common, *speed))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    assert json.loads((run / "run.json").read_text())["settings"]["fast_dropout"] is True
    with open(run / "history.csv") as f:
        assert all(float(r["loss"]) > 0 for r in csv.DictReader(f))
    other = bundle_run(["train.json", "cpu.json"], *common, "--views", "device", "--epochs", "2")
    assert other.returncode == 2 and "fast_dropout" in other.stderr
    bad = bundle_run(["train.json", "cpu.json"], *common, "--fast_dropout", "yes")
    assert bad.returncode == 2 and "--fast_dropout 'yes': expected True or False" in bad.stderr


def test_train_evaluate_infer_on_a_mini_acdc(mini_acdc, tmp_path):
    common = ["--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path), *TINY]
    check(bundle_run(["train.json", "cpu.json"], *common))
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    for name in ("checkpoint.pt", "model.pt", "model_final.pt", "history.csv", "validation.csv"):
        assert (run / name).is_file(), name
    assert (tmp_path / "models" / "model.pt").is_file()  # the best model is published for inference
    executed = json.loads((run / "config.json").read_text())  # the config it trained with, overrides applied
    assert executed["dataset_dir"] == str(mini_acdc) and executed["image_size"] == [32, 32]
    assert executed["train"]["trainer"]["mix"] == "@train::mixer"  # MONAI writes its own separator, "::"
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2] and all(float(r["loss"]) > 0 for r in rows)
    with open(run / "validation.csv") as f:
        assert 0.0 <= float(next(csv.DictReader(f))["val_mean_dice"]) <= 1.0

    for ckpt in ("best", "final"):
        proc = bundle_run(["train.json", "cpu.json", "evaluate.json"], *common, "--eval_checkpoint", ckpt)
        check(proc)
        assert "| AdaMix-ST | 10% |" in proc.stdout
        out = run / f"eval-test-{ckpt}"
        with open(out / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 2 * 3 and {r["class_name"] for r in rows} == {"RV", "Myo", "LV"}
        summary = json.loads((out / "summary.json").read_text())
        assert summary["method"] == "AdaMix-ST" and summary["honest"]["cases"] == 2
        assert len(list((out / "cases").glob("*.npz"))) == 2

    # inference on NIfTI volumes (H, W, D), slices along the last axis, written with the input's geometry
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    volume = np.random.RandomState(0).rand(40, 36, 3).astype(np.float32)
    affine = np.diag([1.5, 1.5, 5.0, 1.0])
    nib.save(nib.Nifti1Image(volume, affine), inputs / "case1.nii.gz")
    proc = bundle_run(
        ["inference.json"],
        "--bundle_root", str(tmp_path), "--input_dir", str(inputs), "--image_size", "[32,32]",
    )  # fmt: skip
    check(proc)
    pred = nib.load(tmp_path / "predictions" / "case1_seg.nii.gz")
    assert pred.shape == (40, 36, 3)
    np.testing.assert_allclose(pred.affine, affine)
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1, 2, 3}


def test_resumed_run_is_a_no_op_when_complete(mini_acdc, tmp_path):
    common = [
        "--dataset_dir",
        str(mini_acdc),
        "--bundle_root",
        str(tmp_path),
        "--paradigm",
        "supervised",
        "--mix",
        "none",
    ]
    check(bundle_run(["train.json", "cpu.json"], *common, *TINY))
    run = tmp_path / "runs" / "supervised-none-10pct-seed1"
    before = torch.load(run / "model_final.pt", weights_only=True)
    proc = bundle_run(["train.json", "cpu.json"], *common, *TINY)
    check(proc)
    assert "resumed from" in proc.stdout + proc.stderr
    after = torch.load(run / "model_final.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_run_continued_for_more_epochs_equals_the_longer_run(mini_acdc, tmp_path):
    """The bundle's declared handlers (checkpoint, history, best model) resume exactly: one epoch, then the same
    run continued to two (``--epochs 2``), gives the weights, history and best model of two epochs straight."""
    import csv

    def train(root: Path, epochs: str) -> Path:
        tiny = list(TINY)
        tiny[tiny.index("--epochs") + 1] = epochs
        common = ["--dataset_dir", str(mini_acdc), "--bundle_root", str(root), "--paradigm", "supervised"]
        check(bundle_run(["train.json", "cpu.json"], *common, "--mix", "none", *tiny))
        return root / "runs" / "supervised-none-10pct-seed1"

    straight = train(tmp_path / "a", "2")
    train(tmp_path / "b", "1")
    continued = train(tmp_path / "b", "2")
    for name in ("model_final.pt", "model.pt"):
        a, b = (torch.load(run / name, weights_only=True) for run in (straight, continued))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for name in ("history.csv", "validation.csv"):
        rows = [list(csv.reader(open(run / name))) for run in (straight, continued)]
        assert rows[0] == rows[1] and len(rows[0]) > 2, name


@pytest.mark.realdata
def test_bundle_trains_and_evaluates_on_real_acdc(acdc_dir, tmp_path):
    common = [
        "--dataset_dir", str(acdc_dir), "--bundle_root", str(tmp_path), *TINY, "--image_size", "[64,64]",
        "--val_items", "$@datasource.items('val')[:1]",
        "--unlabeled_items", "$@datasource.unlabeled_items()[:16]",
    ]  # fmt: skip
    check(bundle_run(["train.json", "cpu.json"], *common))
    proc = bundle_run(
        ["train.json", "cpu.json", "evaluate.json"], *common, "--test_items", "$@datasource.items('test')[:2]"
    )
    check(proc)
    out = tmp_path / "runs" / "self_training-adamix-10pct-seed1" / "eval-test-best"
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["case"] for r in rows} == {"patient011_frame01", "patient011_frame02"}
    assert all(0.0 <= float(r["dice"]) <= 1.0 for r in rows if r["dice"] != "nan")


def test_multi_gpu_overlay_under_torchrun(mini_acdc, tmp_path):
    """The ``multi_gpu_train.json`` overlay runs under torchrun (2 CPU processes, gloo) and trains one model."""
    files = config_files("adamix_acdc", "train.json", "cpu.json", "multi_gpu_train.json")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "-m", "monai.bundle", "run", "--config_file", files,
        "--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path), *TINY, "--epoch_samples", "8",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    check(proc)
    run = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2]  # 8 samples over 2 ranks, batch 2 per rank
    assert (run / "model.pt").is_file() and (run / "model_final.pt").is_file()


def test_metadata_matches_the_network():
    """MONAI's own check: the network built from the config takes and returns what metadata.json declares."""
    check_metadata(
        "adamix_acdc", 2, {"0": "background", "1": "right ventricle", "2": "myocardium", "3": "left ventricle"}
    )
