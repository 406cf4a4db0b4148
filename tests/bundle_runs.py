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
