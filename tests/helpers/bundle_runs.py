# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Run a bundle through ``python -m monai.bundle run`` as a user does, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def config_files(bundle: str, *configs: str) -> str:
    """The ``--config_file`` list string of ``bundles/<bundle>/configs/<config>`` files."""
    return "[" + ",".join(f"'{REPO_ROOT / 'bundles' / bundle / 'configs' / c}'" for c in configs) + "]"


def bundle_run(bundle: str, configs: list[str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run --config_file [...] *args`` with one OpenMP thread (the machine has 2 cores)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_files(bundle, *configs), *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check(proc: subprocess.CompletedProcess) -> None:
    """Assert a run succeeded, showing the end of its output otherwise."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def train_and_evaluate(bundle: str, common: list[str], *evaluate_args: str) -> subprocess.CompletedProcess:
    """Train with the CPU profile, then evaluate (``train.json`` + ``cpu.json`` [+ ``evaluate.json``]); both must pass.

    Returns:
        The evaluation's process (its stdout holds the summary table).
    """
    check(bundle_run(bundle, ["train.json", "cpu.json"], *common))
    proc = bundle_run(bundle, ["train.json", "cpu.json", "evaluate.json"], *common, *evaluate_args)
    check(proc)
    return proc


def check_metadata(bundle: str, dims: int, channel_def: dict[str, str]) -> None:
    """``metadata.json`` has what MONAI Label and the model zoo read, and MONAI's ``verify_net_in_out`` passes on it.

    Args:
        bundle: the bundle folder name.
        dims: the network's spatial dimensions (MONAI Label reads them from ``spatial_shape``).
        channel_def: the expected output channels.
    """
    import json

    from monai.bundle import verify_net_in_out

    configs = REPO_ROOT / "bundles" / bundle / "configs"
    meta = json.loads((configs / "metadata.json").read_text())
    for key in ("version", "monai_version", "pytorch_version", "numpy_version", "task", "description", "authors"):
        assert meta[key], key
    fmt = meta["network_data_format"]
    assert list(fmt["inputs"]) == ["image"] and list(fmt["outputs"]) == ["pred"]
    assert len(fmt["inputs"]["image"]["spatial_shape"]) == dims
    assert fmt["outputs"]["pred"]["channel_def"] == channel_def
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(configs / "metadata.json"),
        config_file=str(configs / "inference.json"),
        device="cpu",
        n=1,
    )
