# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Behaviour pins for refactoring (issue 13): short fixed-seed trainings of every paradigm with CutMix and AdaMix
(2D ACDC, 3D LA) must give the same weights, and the bundles' composed configs the same settings, before and after
a redesign.

The expected values are in ``tests/golden/regression.json``, recorded on the machine and commit it names. Weights
are compared bit for bit (SHA-256 of every tensor) on a CPU whose model and capability (``AVX512``, ``AVX2``, ...)
have pins of their own (``sha256_by_machine``); elsewhere the weight pins skip, saying so. Kernels round differently
from one CPU to another and a few training steps amplify it past any useful tolerance (an AMD EPYC and an Intel
Xeon, both AVX2, give per-tensor sums that differ by 1-12% after the same run), so only same-machine pins catch a
subtle change. ``ADAMIX_UPDATE_GOLDEN=machine`` adds this machine's bit pins without changing anything else; run it
on a commit whose behaviour is known to be the pinned one. After a
change that is MEANT to change behaviour, record them again and say why in the commit:
``ADAMIX_UPDATE_GOLDEN=1 python -m pytest tests/test_regression.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.bundle_runs import bundle_run, check
from tests.conftest import REPO_ROOT
from tests.helpers.la_fixtures import make_mini_la

GOLDEN = Path(__file__).parent / "golden" / "regression.json"
UPDATE = os.environ.get("ADAMIX_UPDATE_GOLDEN") == "1"
UPDATE_MACHINE = os.environ.get("ADAMIX_UPDATE_GOLDEN") == "machine"

TINY_2D = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "6", "--cache_rate", "0",
    "--num_workers", "0", "--mix_prob", "1", "--log_every", "1", "--history_every", "1", "--progress", "False",
    "--publish", "False",
]  # fmt: skip
TINY_3D = [
    "--image_size", "[16,16,16]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4", "--num_workers", "0",
    "--val_strides", "[16,16,16]", "--sw_strides", "[8,8,8]", "--labeled_cases", "2", "--mix_prob", "1",
    "--log_every", "1", "--history_every", "1", "--progress", "False", "--publish", "False",
]  # fmt: skip
RUNS = [
    ("adamix_acdc", "supervised", "none"),
    *[("adamix_acdc", p, m) for p in ("self_training", "mean_teacher", "co_training") for m in ("cutmix", "adamix")],
    ("adamix_la", "self_training", "adamix"),
]
#: (bundle, overlays) whose composed settings are pinned
CONFIGS = [
    ("adamix_acdc", ["train.json"]),
    ("adamix_acdc", ["train.json", "cpu.json"]),
    ("adamix_acdc", ["train.json", "study.json"]),
    ("adamix_acdc", ["inference.json"]),
    ("adamix_la", ["train.json"]),
    ("adamix_la", ["train.json", "cpu.json"]),
    ("adamix_isic", ["train.json"]),
    ("adamix_isic", ["train.json", "cpu.json"]),
]


def _golden() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}


def _machine() -> dict:
    """The CPU that a pin's bits depend on: torch's kernel capability and the processor's model name."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        line = next((x for x in cpuinfo.read_text().splitlines() if x.startswith("model name")), "")
        model = line.partition(":")[2].strip() or model
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_model": model, "torch": torch.__version__}


def _machine_key() -> str:
    here = _machine()
    return f"{here['cpu_model']} / {here['cpu_capability']} / torch {here['torch']}"


def _write(golden: dict) -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")


def _record(section: str, key: str, value) -> None:
    golden = _golden()
    golden.setdefault(section, {})[key] = value
    if section == "weights":  # the configs' settings do not depend on the machine
        golden["recorded_on"] = _machine()
        by_machine = golden.setdefault("sha256_by_machine", {})
        for pins in by_machine.values():  # a behaviour change makes every other machine's pin of this run stale
            pins.pop(key, None)
        by_machine.setdefault(_machine_key(), {})[key] = value["sha256"]
    _write(golden)


def _fingerprint(state: dict[str, torch.Tensor]) -> dict:
    digest = hashlib.sha256()
    stats = {}
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(name.encode() + t.numpy().tobytes())
        x = t.double()
        stats[name] = [float(x.sum()), float(x.norm())]
    return {"sha256": digest.hexdigest(), "stats": stats}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression")
    return {"adamix_acdc": make_mini_acdc(root / "acdc"), "adamix_la": make_mini_la(root / "la", train=6, test=2)}


@pytest.mark.parametrize("bundle, paradigm, mix", RUNS, ids=[f"{b[7:]}-{p}-{m}" for b, p, m in RUNS])
def test_fixed_seed_training_gives_the_pinned_weights(datasets, tmp_path, bundle, paradigm, mix):
    tiny = TINY_3D if bundle == "adamix_la" else TINY_2D
    proc = bundle_run(bundle, ["train.json", "cpu.json"], "--dataset_dir", str(datasets[bundle]), "--bundle_root",
                      str(tmp_path), "--paradigm", paradigm, "--mix", mix, "--seed", "3", *tiny)  # fmt: skip
    check(proc)
    (run,) = (tmp_path / "runs").iterdir()
    got = _fingerprint(torch.load(run / "model_final.pt", weights_only=True))
    key = f"{bundle}/{paradigm}-{mix}"
    if UPDATE:
        _record("weights", key, got)
        return
    golden = _golden()
    if UPDATE_MACHINE:
        golden.setdefault("sha256_by_machine", {}).setdefault(_machine_key(), {})[key] = got["sha256"]
        _write(golden)
        return
    assert key in golden.get("weights", {}), f"no pinned weights for {key}; record them (module docstring)"
    pins = golden.get("sha256_by_machine", {}).get(_machine_key(), {})
    if key not in pins:
        pytest.skip(
            f"no bit pins of {key} for this CPU ({_machine_key()}); on a commit known to behave as pinned, record "
            "them with ADAMIX_UPDATE_GOLDEN=machine (a run's weights differ from one CPU model to another)"
        )
    assert got["sha256"] == pins[key], f"{key}: the weights changed (bit pins of this machine)"


def _settings(bundle: str, overlays: list[str]) -> dict:
    """The composed config's settings: every id whose value is plain data (no expression, reference or macro)."""
    from monai.bundle import ConfigParser

    files = [str(REPO_ROOT / "bundles" / bundle / "configs" / name) for name in overlays]
    config = ConfigParser.load_config_files(files)

    def plain(value) -> bool:
        if isinstance(value, str):
            return not value.startswith(("$", "@", "%"))
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return "_target_" not in value and all(plain(v) for v in value.values())
        return True

    def walk(value, prefix: str, out: dict) -> None:
        if isinstance(value, dict) and not plain(value):
            for k, v in value.items():
                walk(v, f"{prefix}#{k}" if prefix else k, out)
        elif isinstance(value, list) and not plain(value):
            for i, v in enumerate(value):
                walk(v, f"{prefix}#{i}", out)
        elif plain(value) and not prefix.startswith("_") and "#_" not in prefix:
            out[prefix] = value
        return None

    out: dict = {}
    for key, value in config.items():
        if key not in ("imports", "_generated_", "_overlay_"):
            walk(value, key, out)
    return out


@pytest.mark.parametrize("bundle, overlays", CONFIGS, ids=[f"{b[7:]}-{'+'.join(o)}" for b, o in CONFIGS])
def test_composed_configs_keep_their_settings(bundle, overlays):
    got = _settings(bundle, overlays)
    key = f"{bundle}/{'+'.join(overlays)}"
    if UPDATE:
        _record("configs", key, got)
        return
    want = _golden().get("configs", {}).get(key)
    assert want is not None, f"no pinned settings for {key}; record them (module docstring)"
    assert got == want
