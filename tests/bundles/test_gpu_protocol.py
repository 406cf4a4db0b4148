# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""benchmarks/gpu_protocol.sh: its CPU path (--tiny) runs every step and records the protocol run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.acdc_fixtures import make_mini_acdc

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_mode_runs_the_benchmarks_and_the_protocol_to_its_test_table(tmp_path):
    data = make_mini_acdc(tmp_path / "acdc")
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, BUDGET_S="400", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_protocol.sh", "--tiny", str(data)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "speedup_vs_loop=" in (out / "bench_mix.txt").read_text()
    for name in ("bench_step.txt", "bench_step_amp.txt"):
        assert "self_training" in (out / name).read_text()
    record = json.loads((out / "protocol.json").read_text())
    assert record["finished"] is True and record["device"] == "cpu"
    assert record["last_logged_iteration"] == 2 and record["iterations_per_second"] > 0
    for ckpt in ("final", "best"):
        table = (out / f"eval-{ckpt}.md").read_text()
        assert "Dice" in table or "DSC" in table
    assert (out / "gpu-protocol-tiny" / "model_final.pt").is_file()
    assert not (ROOT / "bundles" / "adamix_acdc" / "runs" / "gpu-protocol-tiny").exists()
