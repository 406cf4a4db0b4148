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
