# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A non-editable install works outside a checkout: the wheel carries the bundles, the package finds them, and a
bundle trains from where the wheel put it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.helpers.acdc_fixtures import make_mini_acdc

TINY = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
    "--cache_rate", "0", "--log_every", "1", "--history_every", "1", "--progress", "False", "--publish", "False",
]  # fmt: skip


def test_a_wheel_installed_outside_the_checkout_carries_and_finds_the_bundles(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO_ROOT), "-w",
         str(wheels)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("adamix_monai-*.whl"))
    # a fresh venv; its dependencies come from this environment (added behind its own site-packages, so the
    # editable install of this checkout is not seen: .pth files of an added path are not processed)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("ADAMIX_BUNDLES_DIR", None)
    probe = subprocess.run(
        [str(python), "-c", "import adamix_monai, adamix_monai.paths as p; print(adamix_monai.__file__); "
         "print(p.bundle_dir('adamix_acdc')); from adamix_monai.data.recipes import split_list; "
         "assert len(split_list('isic2018', 'train')) == 1815"], capture_output=True, text=True, cwd=outside, env=env,
        timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    module, bundle = probe.stdout.split()
    assert Path(module).is_relative_to(env_dir) and Path(bundle) == env_dir / "share" / "adamix-monai" / "bundles" / "adamix_acdc"
    # the installed bundle trains, from a folder that is not a checkout
    data = make_mini_acdc(tmp_path / "acdc")
    run = subprocess.run(
        [str(python), "-m", "monai.bundle", "run", "--config_file", f"{bundle}/configs/train.json",
         "--dataset_dir", str(data), "--bundle_root", str(outside / "my_acdc"), *TINY],
        capture_output=True, text=True, cwd=outside, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (outside / "my_acdc" / "runs" / "self_training-adamix-10pct-seed1" / "model_final.pt").is_file()
