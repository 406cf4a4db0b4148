# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Helpers of the bundle configs: bundle and data locations, run names, clear input errors, model files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adamix_monai.data.sources import ACDC
from adamix_monai.workflows import (
    BundleInputError,
    bundle_dir,
    default_dataset_dir,
    describe,
    first_existing,
    image_datalist,
    labeled_label,
    model_info,
    publish_model,
    require_dataset,
    run_name,
    save_model,
    write_model_info,
)
from tests.conftest import REPO_ROOT


def test_locations(tmp_path, monkeypatch):
    assert bundle_dir("adamix_acdc") == str(REPO_ROOT / "bundles" / "adamix_acdc")
    with pytest.raises(BundleInputError, match="--bundle_root"):
        bundle_dir("no_such_bundle")
    monkeypatch.setenv("ADAMIX_DATA_DIR", str(tmp_path))
    (tmp_path / "ACDC").mkdir()
    assert default_dataset_dir("ACDC") == str(tmp_path / "ACDC")
    assert default_dataset_dir("NOPE").startswith(str(tmp_path))  # named in the later error message


def test_names():
    assert run_name("self_training", "adamix", 0.1, 1) == "self_training-adamix-10pct-seed1"
    assert run_name("co_training", "cutmix", 0.05, 2) == "co_training-cutmix-5pct-seed2"
    own = {"train": [{"image": "a.h5"}], "validation": [{"image": "v.h5"}]}
    assert run_name("supervised", "none", 0.1, 1, data=own, own_data=json.loads(json.dumps(own))) == (
        "supervised-none-10pct-seed1"
    )
    injected = {"train": [{"image": "b.nii.gz", "label": "b_seg.nii.gz"}], "validation": own["validation"]}
    name = run_name("supervised", "none", 0.1, 1, data=injected, own_data=own)  # MONAI Label's datastore list
    assert re.fullmatch(r"supervised-none-10pct-seed1-data[0-9a-f]{8}", name)
    assert run_name("supervised", "none", 0.1, 1, data=injected, own_data=own) == name  # same data, same folder
    assert labeled_label(0.2) == "20%" and labeled_label("8 scans") == "8 scans"
    assert describe("mean_teacher", "adamix") == {
        "method": "AdaMix-MT",
        "perturbation": "Adaptive Mix",
        "framework": "Mean-Teacher",
    }


def test_require_dataset_names_the_option(tmp_path):
    with pytest.raises(BundleInputError, match="--dataset_dir") as err:
        require_dataset(ACDC, str(tmp_path / "x"))
    assert "train_slices.list" in str(err.value)


def test_image_datalist(tmp_path):
    with pytest.raises(BundleInputError, match="does not exist"):
        image_datalist(tmp_path / "missing")
    with pytest.raises(BundleInputError, match="holds no image"):
        image_datalist(tmp_path)
    for name in ("b.nii.gz", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [Path(d["image"]).name for d in image_datalist(tmp_path)] == ["a.png", "b.nii.gz"]
    assert image_datalist(tmp_path / "a.png") == [{"image": str(tmp_path / "a.png")}]


def test_model_files(tmp_path):
    net = torch.nn.Linear(2, 3)
    assert save_model(net, tmp_path / "m.pt")
    assert publish_model(tmp_path / "m.pt", tmp_path / "models" / "model.pt")
    assert not publish_model(tmp_path / "none.pt", tmp_path / "models" / "x.pt")
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert torch.equal(state["weight"], net.weight)
    assert first_existing([tmp_path / "none.pt", tmp_path / "m.pt"]) == str(tmp_path / "m.pt")
    with pytest.raises(BundleInputError, match="Train first"):
        first_existing([tmp_path / "none.pt"])


def test_model_info_travels_with_the_published_weights(tmp_path):
    run = tmp_path / "run"
    assert write_model_info(run, image_size=(128, 128), sw_strides=[4, 8, 8])
    save_model(torch.nn.Linear(2, 3), run / "model.pt")
    assert publish_model(run / "model.pt", tmp_path / "models" / "model.pt")
    published = tmp_path / "models" / "model.pt"
    assert model_info(published, "image_size", [256, 256]) == [128, 128]
    assert model_info(published, "sw_strides", None) == [4, 8, 8]
    assert model_info(published, "other", "default") == "default"
    assert model_info(tmp_path / "elsewhere" / "model.pt", "image_size", [256, 256]) == [256, 256]
    (tmp_path / "models" / "model.json").write_text("{broken")
    assert model_info(published, "image_size", [256, 256]) == [256, 256]  # unreadable: the bundle's default


def test_error_hook_prints_one_line_for_wrapped_input_errors():
    code = (
        "from adamix_monai.workflows import install_error_hook, BundleInputError\n"
        "install_error_hook()\n"
        "try:\n    raise BundleInputError('the folder X is missing')\n"
        "except BundleInputError as e:\n    raise RuntimeError('Failed to evaluate') from e\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: the folder X is missing" and proc.returncode == 2
    proc = subprocess.run(
        [sys.executable, "-c", "from adamix_monai.workflows import install_error_hook\ninstall_error_hook()\n1/0"],
        capture_output=True,
        text=True,
    )
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr


def test_bundle_run_through_monais_own_command_exits_2_on_a_bad_setting(tmp_path):
    """python -m monai.bundle run: an input error is one error line and exit status 2, and writes nothing."""
    root = tmp_path / "root"
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/adamix_acdc/configs/train.json",
         "--bundle_root", str(root), "--threshold", "2"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and errors == ["error: --threshold 2: expected a number in [0, 1]."]
    assert "Traceback" not in proc.stderr and not root.exists()


def test_monai_bundle_run_warns_about_ids_nothing_reads(capsys):
    from adamix_monai.workflows import warn_unknown_overrides

    configs = "['bundles/adamix_acdc/configs/train.json','bundles/adamix_acdc/configs/cpu.json']"
    argv = ["/venv/lib/monai/bundle/__main__.py", "run", "--config_file", configs, "--labled_fraction", "0.05",
            "--epochs", "2", "--network_def#channels", "[4]", "--meta_file", "m.json"]  # fmt: skip
    assert warn_unknown_overrides(argv) == ["labled_fraction"]
    err = capsys.readouterr().err
    assert "warning: --labled_fraction is not an id" in err and "did you mean --labeled_fraction?" in err
    assert warn_unknown_overrides(["adamix-monai", "train", "acdc"]) == []  # the CLI refuses instead


def test_a_run_folder_is_locked_by_its_living_trainer_only(tmp_path):
    import json
    import socket

    from adamix_monai.workflows import BundleInputError, lock_run

    host = socket.gethostname()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".lock").write_text(json.dumps({"pid": other.pid, "host": host}))
        with pytest.raises(BundleInputError, match=rf"in use by process {other.pid} on {host}"):
            lock_run(tmp_path)
    finally:
        other.kill()
        other.wait()
    assert lock_run(tmp_path)  # its holder is gone: taken over
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    (tmp_path / ".lock").write_text("{half a json")  # a lock write that died
    assert lock_run(tmp_path) and json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    done = subprocess.run([sys.executable, "-c", f"from adamix_monai.workflows import lock_run; lock_run({str(tmp_path / 'b')!r})"])
    assert done.returncode == 0 and not (tmp_path / "b" / ".lock").exists()  # released at exit


def test_run_json_records_the_run_and_a_changed_rerun_is_refused(tmp_path):
    import json

    from adamix_monai.workflows import BundleInputError, record_run, write_model_info

    data = tmp_path / "a.h5"
    data.write_bytes(b"12345")
    settings = {"epochs": 1, "image_size": [64, 64], "paradigm": "self_training"}
    assert record_run(tmp_path / "run", settings, {"train": [{"image": str(data)}]})
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["settings"] == settings and len(saved["data"]) == 16 and saved["version"]
    assert record_run(tmp_path / "run", settings, {"train": [{"image": str(data)}]})  # the same run: resumed
    with pytest.raises(BundleInputError, match=r"image_size \[64, 64\] there, \[128, 128\] here.*--run_name"):
        record_run(tmp_path / "run", {**settings, "image_size": [128, 128]}, {"train": [{"image": str(data)}]})
    with pytest.raises(BundleInputError, match="epochs 1 there, 0 here"):  # fewer epochs: another run
        record_run(tmp_path / "run", {**settings, "epochs": 0}, {"train": [{"image": str(data)}]})
    data.write_bytes(b"123456")  # other data of the same name
    with pytest.raises(BundleInputError, match="holds another run .*the data"):
        record_run(tmp_path / "run", settings, {"train": [{"image": str(data)}]})
    data.write_bytes(b"12345")
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == saved  # refusals change nothing
    assert record_run(tmp_path / "run", {**settings, "epochs": 3}, {"train": [{"image": str(data)}]})  # continued
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["epochs"] == 3
    (tmp_path / "run" / "run.json").write_text("{half")
    with pytest.raises(BundleInputError, match="run.json' is damaged"):
        record_run(tmp_path / "run", settings, {"train": [{"image": str(data)}]})
    # model.json of a run with a checkpoint is never rewritten from the current command
    assert write_model_info(tmp_path / "run", image_size=[64, 64])
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"x")
    assert not write_model_info(tmp_path / "run", image_size=[128, 128])
    assert json.loads((tmp_path / "run" / "model.json").read_text())["image_size"] == [64, 64]


def test_a_bundle_run_keeps_the_config_it_trains_with(tmp_path):
    """``config.json`` beside ``run.json``: the merged config with the command line's overrides, as MONAI's own
    tracking saves "the executed config"."""
    import json

    from monai.bundle import ConfigParser

    config = {
        "output_dir": str(tmp_path / "run"),
        "seed": 1,
        "lr": "$0.5 * 2",
        "record": "$adamix_monai.workflows.record_run(@output_dir, dict(seed=@seed, lr=@lr), {})",
    }
    parser = ConfigParser(config, globals={"adamix_monai": "adamix_monai"})
    parser.update({"seed": 7})  # a command-line override, as monai.bundle run applies it
    assert parser.get_parsed_content("record")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved == {**config, "seed": 7}  # expressions as written, the override applied
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"] == {"seed": 7, "lr": 1.0}
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
