# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Bad options through the real command line: exit status 2, one ``error:`` line naming the option, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.conftest import REPO_ROOT

# (command, arguments, words the error line must hold)
CASES = [
    ("train", ["--labled_fraction", "0.05"], ["--labled_fraction", "did you mean --labeled_fraction"]),
    ("train", ["--paradim", "supervised"], ["--paradim", "did you mean --paradigm"]),
    ("train", ["--threshold", "2"], ["--threshold 2", "[0, 1]"]),
    ("train", ["--mix_prob", "1.5"], ["--mix_prob 1.5", "[0, 1]"]),
    ("train", ["--seed", "1.5"], ["--seed 1.5", "whole number"]),
    ("train", ["--labeled_fraction", "0"], ["--labeled_fraction 0", "(0, 1]"]),
    ("train", ["--labeled_fraction", "2"], ["--labeled_fraction 2", "(0, 1]"]),
    ("train", ["--labeled_fraction", "abc"], ["--labeled_fraction 'abc'"]),
    ("train", ["--epochs", "0"], ["--epochs 0", ">= 1"]),
    ("train", ["--batch_size", "0"], ["--batch_size 0", ">= 1"]),
    ("train", ["--image_size", "[120,120]"], ["--image_size", "multiples of 16"]),
    ("train", ["--grid", "7"], ["--image_size", "divisible by --grid 7"]),
    ("train", ["--topk", "65"], ["--topk 65", "[1, 64]"]),
    ("train", ["--paradigm", "semi"], ["--paradigm 'semi'", "self_training"]),
    ("train", ["--mix", "adamx"], ["--mix 'adamx'", "adamix"]),
    ("train", ["--device", "cuda:7"], ["--device 'cuda:7'"]),
    ("train", ["--views", "gpu"], ["--views 'gpu'", "workers, device"]),
    ("train", ["--fast_dropout", "maybe"], ["--fast_dropout 'maybe'", "True or False"]),
    ("train", ["--channels_last", "1"], ["--channels_last 1", "True or False"]),
    ("train", ["--image_size", "[64]"], ["--image_size [64]", "expected 2 sides", "2D"]),
    ("train", ["--image_size", "[64,64,64]"], ["--image_size [64, 64, 64]", "expected 2 sides"]),
    ("train", ["--run_name"], ["--run_name needs a value"]),
    ("evaluate", ["--image_size", "[64]"], ["--image_size [64]", "expected 2 sides"]),
    ("evaluate", ["--output_dir"], ["--output_dir needs a value"]),
    ("evaluate", ["--checkpoint", "foo"], ["--checkpoint", "'foo'"]),
    ("evaluate", ["--split", "train"], ["--split", "'train'"]),
]


@pytest.fixture(scope="module")
def mini_acdc(tmp_path_factory):
    return make_mini_acdc(tmp_path_factory.mktemp("acdc"))


@pytest.mark.parametrize("command, args, words", CASES, ids=[" ".join([c, *a]) for c, a, _ in CASES])
def test_bad_option_is_one_line_exit_2_and_writes_nothing(tmp_path, mini_acdc, command, args, words):
    root = tmp_path / "bundle_root"
    proc = subprocess.run(
        [sys.executable, "-m", "adamix_monai", command, "acdc", "--profile", "cpu", "--dataset_dir", str(mini_acdc),
         "--bundle_root", str(root), *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for word in words:
        assert word in lines[0]
    assert not root.exists() or not any(root.rglob("*"))  # no run folder, no model, no partial output


@pytest.mark.parametrize(
    "args, words",
    [
        (["demo", "--size", "30"], ["--size", "multiple of 4"]),
        (["demo", "--iterations", "1.5"], ["--iterations 1.5", "whole numbers"]),
        (["demo", "--batch", "0"], ["batch 0"]),
        (["table", "README.md"], ["README.md", "not an evaluation summary.json"]),
        (["table", "FOREIGN"], ["foreign.json", "not an evaluation summary.json"]),
        (["table", "FOREIGN", "--mode", "exact"], ["--mode", "honest or paper"]),
    ],
)
def test_demo_and_table_bad_values_are_one_line(tmp_path, args, words):
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"some": "other json"}')
    args = [str(foreign) if a == "FOREIGN" else a for a in args]
    if args[0] == "demo":
        args += ["--output_dir", str(tmp_path / "demo")]
    proc = subprocess.run([sys.executable, "-m", "adamix_monai", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "demo").exists()


def test_a_bad_file_in_the_papers_folder_stops_the_run_before_its_folder_exists(tmp_path):
    import h5py
    import numpy as np

    root = make_mini_acdc(tmp_path / "acdc")
    first = sorted((root / "data" / "slices").glob("*.h5"))[0]
    with h5py.File(first, "r+") as f:
        del f["label"]
        f["label"] = np.full((48, 48), 9, np.uint8)
    out = tmp_path / "bundle_root"
    proc = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "train", "acdc", "--profile", "cpu", "--dataset_dir", str(root),
         "--bundle_root", str(out)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert first.name in lines[0] and "label holds [9]" in lines[0]
    assert not out.exists() or not any(out.rglob("*"))


def test_a_second_training_in_a_busy_run_folder_is_refused(tmp_path, mini_acdc):
    import json
    import socket

    run = tmp_path / "root" / "runs" / "supervised-none-10pct-seed1"
    run.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (run / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        proc = subprocess.run(
            [sys.executable, "-m", "adamix_monai", "train", "acdc", "--profile", "cpu", "--paradigm", "supervised",
             "--mix", "none", "--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path / "root")],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and f"in use by process {holder.pid}" in lines[0], proc.stderr
    assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written beside it


def test_a_rerun_is_the_same_run_continued_or_refused(tmp_path, mini_acdc):
    import json

    import torch

    def train(*extra: str, dataset=mini_acdc, epochs: str = "1"):
        return subprocess.run(
            [sys.executable, "-m", "adamix_monai", "train", "acdc", "--paradigm", "supervised", "--mix", "none",
             "--dataset_dir", str(dataset), "--bundle_root", str(tmp_path), "--image_size", "[32,32]",
             "--epochs", epochs, "--epoch_samples", "4", "--batch_size", "2", "--num_workers", "0", "--publish", "False",
             *extra],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)  # fmt: skip

    def snapshot():
        return {p.name: p.stat().st_mtime_ns for p in run.iterdir()}

    first = train()
    assert first.returncode == 0, first.stderr[-2000:]
    run = tmp_path / "runs" / "supervised-none-10pct-seed1"
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["settings"]["epochs"] == 1 and recorded["settings"]["image_size"] == [32, 32]
    before = snapshot()
    other_data = make_mini_acdc(tmp_path / "other", size=40)  # another dataset, same file names
    for again, words in [
        (train("--image_size", "[64,64]"), ["image_size [32, 32] there, [64, 64] here"]),
        (train(dataset=other_data), ["the data"]),
        (train("--learning_rate", "0.01", "--seed", "1"), ["learning_rate 0.0001 there, 0.01 here"]),
    ]:
        lines = [line for line in again.stderr.splitlines() if line.strip()]
        assert again.returncode == 2 and len(lines) == 1, again.stderr[-2000:]
        assert all(w in lines[0] for w in [str(run), *words, "--run_name", "delete"]), lines[0]
        assert snapshot() == before  # nothing written, the lock released
    assert json.loads((run / "model.json").read_text())["image_size"] == [32, 32]
    longer = train(epochs="2")  # more epochs: the same run, continued from its checkpoint
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert "resumed from" in longer.stderr + longer.stdout
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    trainer = state["trainer"]
    assert trainer["max_epochs"] == 2 and trainer["iteration"] == 2 * trainer["epoch_length"]
    assert json.loads((run / "run.json").read_text())["settings"]["epochs"] == 2
    assert not (run / ".lock").exists()
    evaluate = [sys.executable, "-m", "adamix_monai", "evaluate", "acdc", "--paradigm", "supervised", "--mix", "none",
                "--dataset_dir", str(mini_acdc), "--bundle_root", str(tmp_path), "--checkpoint", "final"]  # fmt: skip
    wrong = subprocess.run([*evaluate, "--image_size", "[64,64]"], capture_output=True, text=True, cwd=REPO_ROOT,
                           timeout=600)  # fmt: skip
    lines = [line for line in wrong.stderr.splitlines() if line.strip()]
    assert wrong.returncode == 2 and len(lines) == 1 and "trained with [32, 32]" in lines[0], wrong.stderr[-2000:]
    assert not (run / "eval-test-final").exists()
    right = subprocess.run([*evaluate, "--image_size", "[32,32]"], capture_output=True, text=True, cwd=REPO_ROOT,
                           timeout=600)  # fmt: skip
    assert right.returncode == 0 and (run / "eval-test-final" / "summary.json").is_file(), right.stderr[-2000:]
    details = json.loads((run / "eval-test-final" / "summary.json").read_text())["details"]
    assert details["epochs"] == "2" and details["image_size"] == "[32, 32]"  # the run's (run.json), not the command's


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only; skipped where mounting is not allowed), grown to 256 MiB by calling the result."""
    import os

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0 or not os.path.ismount(mount):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_and_the_same_command_resumes(small_disk, mini_acdc):
    cmd = [sys.executable, "-m", "adamix_monai", "train", "acdc", "--paradigm", "supervised", "--mix", "none",
           "--dataset_dir", str(mini_acdc), "--bundle_root", str(small_disk), "--image_size", "[32,32]",
           "--epochs", "1", "--epoch_samples", "4", "--batch_size", "2", "--num_workers", "0", "--publish", "False"]
    full = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    lines = [line for line in full.stderr.splitlines() if line.strip() and not line.startswith("20")]  # not logs
    assert full.returncode == 2 and len(lines) == 1 and "no space left on the device" in lines[0], full.stderr[-3000:]
    assert "run the same command again" in lines[0] and "Traceback" not in full.stderr
    run = small_disk / "runs" / "supervised-none-10pct-seed1"
    assert not list(run.rglob("*.tmp"))  # no temporary file left by the failed write
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)  # space freed
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run / "model_final.pt").is_file() and (run / "checkpoint.pt").is_file()


def test_folders_where_files_belong_and_files_where_folders_belong_are_one_line(tmp_path, mini_acdc):
    import json

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    datalist = tmp_path / "datalist.json"
    import nibabel as nib
    import numpy as np

    scans = tmp_path / "scans"
    scans.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((20, 18, 2), np.float32), np.eye(4)), scans / "x.nii.gz")
    pair = {"image": str(tmp_path), "label": str(tmp_path)}
    datalist.write_text(json.dumps({"training": [pair, pair], "validation": [pair]}))
    cases = [
        (["train", "acdc", "--dataset_dir", str(mini_acdc), "--bundle_root", str(a_file)],
         ["cannot create the run folder", "choose another --bundle_root"]),
        (["train", "acdc", "--datalist", str(datalist), "--bundle_root", str(tmp_path / "r")],
         [f"'{tmp_path}' is a folder, not an image file"]),
        (["infer", "acdc", str(scans), "--output_dir", str(tmp_path / "p"), "--checkpoint", str(tmp_path)],
         ["--checkpoint", "is a folder; give the weights file"]),
    ]  # fmt: skip
    for args, words in cases:
        proc = subprocess.run([sys.executable, "-m", "adamix_monai", *args], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=300)  # fmt: skip
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
        assert all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()
