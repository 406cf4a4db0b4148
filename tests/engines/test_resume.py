# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A CPU run killed with SIGKILL mid-way and resumed ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO_ROOT


def run(out_dir, *extra, wait_for: str | None = None, timeout: float = 300.0) -> str:
    cmd = [sys.executable, "-u", "-m", "tests.scripts.resumable_run", str(out_dir), *extra]
    if wait_for is None:
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + timeout
    for line in proc.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if line.strip() == wait_for or time.time() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)  # a real, unannounced kill
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return "".join(lines)


@pytest.mark.parametrize("paradigm, mix", [("mean_teacher", "adamix"), ("co_training", "cutmix")])
def test_sigkill_and_resume_matches_an_uninterrupted_run(tmp_path, paradigm, mix):
    args = ["--paradigm", paradigm, "--mix", mix]
    run(tmp_path / "straight", *args)
    killed = tmp_path / "killed"
    log = run(killed, *args, "--slow", "0.3", wait_for="iteration 7")
    assert "iteration 7" in log and not (killed / "final.pt").exists()
    resumed_log = run(killed, *args)
    assert "resumed from 6" in resumed_log  # the checkpoint of iteration 6 (saved every 2), mid-epoch 2
    a = torch.load(tmp_path / "straight" / "final.pt", weights_only=True)
    b = torch.load(killed / "final.pt", weights_only=True)
    assert set(a) == set(b)
    for model in a:
        for name in a[model]:
            assert torch.equal(a[model][name], b[model][name]), f"{model}.{name}"


def test_views_on_the_device_resume_exactly(tmp_path):
    """Device views are seeded by (stream, position): a killed and resumed run draws the views it would have drawn."""
    args = ["--paradigm", "self_training", "--mix", "adamix", "--views", "device"]
    run(tmp_path / "straight", *args)
    killed = tmp_path / "killed"
    log = run(killed, *args, "--slow", "0.3", wait_for="iteration 7")
    assert "iteration 7" in log and not (killed / "final.pt").exists()
    assert "resumed from 6" in run(killed, *args)
    run(tmp_path / "workers", "--paradigm", "self_training", "--mix", "adamix")
    straight, workers = final_state(tmp_path / "straight"), final_state(tmp_path / "workers")
    assert_same_run(straight, final_state(killed))
    assert any(not torch.equal(straight["network"][k], workers["network"][k]) for k in workers["network"])  # used


def final_state(out_dir):
    return torch.load(out_dir / "final.pt", weights_only=True)


def assert_same_run(a, b):
    assert set(a) == set(b)
    for part in a:
        for name in a[part]:
            assert torch.equal(a[part][name], b[part][name]), f"{part}.{name}"


def validations(log: str) -> list[float]:
    line = next(line for line in log.splitlines() if line.startswith("validations "))
    return [float(v) for v in line.removeprefix("validations [").rstrip("]").split(",") if v.strip()]


@pytest.fixture(scope="module")
def straight_runs(tmp_path_factory):
    """Uninterrupted runs, one per paradigm: (final state, validation history)."""
    out = {}
    for paradigm, mix in (("self_training", "adamix"), ("co_training", "cutmix")):
        folder = tmp_path_factory.mktemp(f"straight-{paradigm}")
        log = run(folder, "--paradigm", paradigm, "--mix", mix)
        out[paradigm] = (final_state(folder), validations(log), mix)
    return out


@pytest.mark.parametrize("paradigm", ["self_training", "co_training"])
def test_kill_right_after_the_checkpoint_of_an_epochs_last_iteration(tmp_path, straight_runs, paradigm):
    """The epoch-end checkpoint comes after the epoch's validation: nothing of that epoch is lost or repeated."""
    expected, history, mix = straight_runs[paradigm]
    args = ["--paradigm", paradigm, "--mix", mix]
    log = run(tmp_path, *args, "--pause-after-save", "4", wait_for="saved 4")
    assert "saved 4" in log
    resumed = run(tmp_path, *args)
    assert "resumed from 4" in resumed
    assert validations(resumed) == history[1:]  # epoch 1 was validated before the save; 2 and 3 after the resume
    assert_same_run(expected, final_state(tmp_path))  # weights, teacher/second student, best model, best Dice


def test_kill_right_after_a_validation_before_its_checkpoint(tmp_path, straight_runs):
    expected, history, mix = straight_runs["self_training"]
    args = ["--paradigm", "self_training", "--mix", mix]
    log = run(tmp_path, *args, "--pause-after-validation", "2", wait_for="validated 2")
    assert "validated 2" in log
    resumed = run(tmp_path, *args)
    assert "resumed from 6" in resumed  # the last checkpoint before epoch 2's end; epoch 2 is replayed
    assert validations(resumed) == history[1:]
    assert_same_run(expected, final_state(tmp_path))


def test_a_write_killed_half_way_leaves_nothing_that_breaks_the_resume(tmp_path, straight_runs):
    expected, _, mix = straight_runs["self_training"]
    args = ["--paradigm", "self_training", "--mix", mix]
    run(tmp_path, *args, "--pause-after-save", "6", wait_for="saved 6")
    stale = tmp_path / ".checkpoint.pt.k1ll3d.tmp"  # what a SIGKILL inside atomic_save leaves: a partial file
    stale.write_bytes((tmp_path / "checkpoint.pt").read_bytes()[:1000])
    resumed = run(tmp_path, *args)
    assert "resumed from 6" in resumed and not stale.exists()
    assert_same_run(expected, final_state(tmp_path))
