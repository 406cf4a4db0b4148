# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Two processes under torchrun (gloo, CPU): ranks stay in sync and validation metrics are all-reduced."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("paradigm", ["self_training", "mean_teacher", "co_training"])
def test_two_ranks_stay_in_sync(tmp_path, paradigm):
    out = tmp_path / "ddp.json"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "--tee=3",
        "-m",
        "tests.scripts.ddp_run",
        str(out),
        "--paradigm",
        paradigm,
    ]
    done = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    r0, r1 = result["ranks"]
    assert r0["iterations"] == r1["iterations"] == 4  # 8 labeled samples per epoch, 2 ranks, batch 2, 2 epochs
    assert r0["checksum"] == r1["checksum"]  # identical parameters (rank 0's initial weights, all-reduced grads)
    assert r0["buffers"] == r1["buffers"]  # identical BatchNorm statistics
    assert not set(r0["shard"]) & set(r1["shard"])  # each rank trained on its own shard
    assert r0["val_dice"] == r1["val_dice"] == pytest.approx(result["single_process_val_dice"], abs=1e-6)
