# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``adamix-monai`` command line: ``figures``, ``table``, finding bundles, help, input errors, ``infer``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from adamix_monai.cli import Commands, resolve_bundle
from tests.conftest import REPO_ROOT
from tests.visualize.test_figures_workflow import fake_run


def test_figures_and_table_commands(tmp_path, capsys):
    for seed, dice in ((1, 70.0), (2, 74.0)):
        run = fake_run(tmp_path / "runs", f"self_training-adamix-10pct-seed{seed}", "AdaMix-ST")
        info = {"method": "AdaMix-ST", "labeled": "10%", "honest": {"mean": dict(dice=dice, jaccard=1, hd95=2, asd=3)}}
        (run / "eval-test-best" / "summary.json").write_text(json.dumps(info))
    files = Commands.figures(str(tmp_path / "runs" / "*"), output_dir=str(tmp_path / "figs"))
    assert len(files) == 5 and all(f.endswith(".png") for f in files)
    text = Commands.table(str(tmp_path / "runs" / "*"), title="T", output=str(tmp_path / "t.md"))
    assert "| AdaMix-ST | 10% | 2 | 72.00 ± 2.83 |" in text
    assert (tmp_path / "t.md").read_text() == text
    with pytest.raises(FileNotFoundError, match="no summary"):
        Commands.table(str(tmp_path / "nothing*"))
    (tmp_path / "runs" / "supervised-none-10pct-seed1").mkdir()  # a run still training, or a failed start
    assert Commands.table(str(tmp_path / "runs" / "*"), title="T") == text
    assert "left out 1 run folder(s) without an evaluation" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no summary"):  # named explicitly, it is an error
        Commands.table(str(tmp_path / "runs" / "supervised-none-10pct-seed1"))


def acdc_weights(path):
    """Random weights of the ACDC bundle's U-Net (seeded), saved at ``path``."""
    import torch

    from adamix_monai.networks import AdaMixUNet

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(AdaMixUNet(spatial_dims=2, in_channels=1, out_channels=4).state_dict(), path)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", PAGER="cat")
    return subprocess.run([sys.executable, "-m", "adamix_monai", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_bundles_are_found_by_short_name_folder_name_or_path(tmp_path):
    assert resolve_bundle("acdc") == REPO_ROOT / "bundles" / "adamix_acdc"
    assert resolve_bundle("adamix_la") == REPO_ROOT / "bundles" / "adamix_la"
    assert resolve_bundle(str(REPO_ROOT / "bundles" / "adamix_isic")).name == "adamix_isic"
    with pytest.raises(FileNotFoundError, match="no bundle 'brain'.*known bundles: acdc, isic, la"):
        resolve_bundle("brain")


def test_help_and_input_errors_on_the_command_line(tmp_path):
    for command, words in (("train", "--datalist"), ("evaluate", "--checkpoint"), ("infer", "--output_dir")):
        proc = _cli(command, "--help")
        text = proc.stdout + proc.stderr  # fire pages the help to stdout on a terminal, else to stderr
        assert proc.returncode == 0 and words in text and f"adamix-monai {command} " in text, text[-500:]
    proc = _cli("infer", "acdc", str(tmp_path / "missing.nii.gz"))
    assert proc.returncode == 2 and "error: adamix-monai infer: input" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("train", "acdc", "--datalist", str(tmp_path / "none.json"))
    assert proc.returncode == 2 and "--datalist" in proc.stderr and "does not exist" in proc.stderr
    proc = _cli("train", "brain")
    assert proc.returncode == 2 and "known bundles" in proc.stderr


def test_infer_keeps_each_inputs_geometry_nifti_and_png(tmp_path):
    import nibabel as nib
    import numpy as np
    import torch
    from PIL import Image


    weights = acdc_weights(tmp_path / "model.pt")
    inputs = tmp_path / "in"
    inputs.mkdir()
    affine = np.diag([1.2, 1.4, 8.0, 1.0])
    affine[:3, 3] = (10.0, -5.0, 3.0)
    nib.save(nib.Nifti1Image(np.random.rand(30, 26, 3).astype(np.float32), affine), inputs / "vol.nii.gz")
    Image.fromarray(np.random.RandomState(1).randint(0, 255, (22, 34), np.uint8)).save(inputs / "slice.png")
    proc = _cli("infer", "acdc", str(inputs), "--output_dir", str(tmp_path / "out"), "--checkpoint", str(weights),
                "--image_size", "[32,32]")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["slice_seg.png", "vol_seg.nii.gz"]
    pred = nib.load(tmp_path / "out" / "vol_seg.nii.gz")
    assert pred.shape == (30, 26, 3)
    np.testing.assert_allclose(pred.affine, affine)
    png = np.asarray(Image.open(tmp_path / "out" / "slice_seg.png"))
    assert png.shape == (22, 34) and set(np.unique(png).tolist()) <= {0, 1, 2, 3}


HOSTILE_NAMES = [
    "$__import__('os').system('touch PWNED') if 1 else a",
    "@network_def",
    "%train#network_def",
    "a::b#c",
]


def test_no_file_or_folder_name_is_ever_evaluated(tmp_path):
    """File names, folder names and option text with $, @, %, # and :: reach the bundle as plain data."""
    import nibabel as nib
    import numpy as np
    import torch


    base = tmp_path / "$__import__('os').system('touch PWNED_DIR') if 1 else x"
    weights = acdc_weights(base / "@weights" / "model.pt")
    inputs = base / "%in#put"
    inputs.mkdir()
    for name in HOSTILE_NAMES:
        nib.save(nib.Nifti1Image(np.random.rand(20, 18, 2).astype(np.float32), np.eye(4)), inputs / f"{name}.nii.gz")
    out = base / "$out@put"
    proc = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "infer", "acdc", str(inputs), "--output_dir", str(out),
         "--checkpoint", str(weights), "--image_size", "[32,32]"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.rglob("PWNED*"))  # nothing was executed
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}_seg.nii.gz" for n in HOSTILE_NAMES)
    assert nib.load(next(out.iterdir())).shape == (20, 18, 2)


@pytest.mark.parametrize("value", HOSTILE_NAMES + ["x\udcff.nii", ""])
def test_config_literal_round_trips_through_monais_parser(value):
    from monai.bundle import ConfigParser

    from adamix_monai.workflows import config_literal

    parser = ConfigParser({"network_def": 7, "a": config_literal([value, {"image": value}]), "b": config_literal(value)})
    assert parser.get_parsed_content("a") == [value, {"image": value}]
    assert parser.get_parsed_content("b") == value


def _one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "weights_only=False" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_unusable_weights_get_one_line_naming_the_file(tmp_path):
    import nibabel as nib
    import numpy as np
    import torch

    from adamix_monai.networks import AdaMixVNet

    image = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.random.rand(20, 18, 2).astype(np.float32), np.eye(4)), image)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.pt"
    torch.save({"w": torch.zeros(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    other = tmp_path / "la_model.pt"  # a checkpoint of another bundle's network
    torch.save(AdaMixVNet(in_channels=1, out_channels=2).state_dict(), other)
    for weights, words in ((text, ["not a readable PyTorch weights file"]), (empty, ["it is empty"]),
                           (truncated, ["not a readable"]), (other, ["made for another network"])):
        proc = _cli("infer", "acdc", str(image), "--output_dir", str(tmp_path / "out"), "--checkpoint", str(weights))
        _one_line_error(proc, str(weights), *words)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_evaluate_refuses_an_unknown_checkpoint_name(tmp_path):
    proc = _cli("evaluate", "acdc", "--checkpoint", "foo", "--dataset_dir", str(tmp_path))
    _one_line_error(proc, "--checkpoint", "best, final", "'foo'")


def test_a_damaged_resume_checkpoint_is_one_clear_error(tmp_path):
    from adamix_monai.errors import CheckpointError, InputError
    from adamix_monai.handlers import ResumableCheckpoint

    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    saver = ResumableCheckpoint(tmp_path, {"x": torch_module()}, save_every=1)
    with pytest.raises(CheckpointError, match="is damaged .* delete it") as info:
        saver.load()
    assert isinstance(info.value, InputError) and "checkpoint.pt" in str(info.value)


def torch_module():
    import torch

    return torch.nn.Linear(2, 2)


def test_infer_refuses_two_inputs_with_one_output_and_skips_its_own_outputs(tmp_path):
    import nibabel as nib
    import numpy as np
    import torch


    weights = acdc_weights(tmp_path / "model.pt")
    folder = tmp_path / "in"
    folder.mkdir()
    vol = nib.Nifti1Image(np.random.rand(20, 18, 2).astype(np.float32), np.eye(4))
    nib.save(vol, folder / "x.nii.gz")
    nib.save(vol, folder / "x.nii")
    proc = _cli("infer", "acdc", str(folder), "--output_dir", str(tmp_path / "out"), "--checkpoint", str(weights))
    _one_line_error(proc, "x.nii", "x.nii.gz", "would both be written as")
    assert not (tmp_path / "out").exists()
    (folder / "x.nii").unlink()
    for _ in range(2):  # output folder = input folder, twice: the prediction is never segmented again
        proc = _cli("infer", "acdc", str(folder), "--output_dir", str(folder), "--checkpoint", str(weights),
                    "--image_size", "[32,32]")  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in folder.iterdir()) == ["x.nii.gz", "x_seg.nii.gz"]


@pytest.mark.parametrize("kind", ["not_an_image", "rgb_png", "4d_nifti", "unwritable_output"])
def test_infer_refuses_inputs_the_bundle_cannot_take_before_writing(tmp_path, kind):
    import nibabel as nib
    import numpy as np
    import torch
    from PIL import Image


    weights = acdc_weights(tmp_path / "model.pt")
    folder = tmp_path / "in"
    folder.mkdir()
    out = tmp_path / "out"
    if kind == "not_an_image":
        (folder / "scan.nii.gz").write_text("hello")
        words = ["scan.nii.gz", "cannot read"]
    elif kind == "rgb_png":
        Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(folder / "photo.png")
        words = ["photo.png", "has 3 channel(s)", "takes 1"]
    elif kind == "4d_nifti":
        nib.save(nib.Nifti1Image(np.random.rand(10, 9, 3, 5).astype(np.float32), np.eye(4)), folder / "cine.nii.gz")
        words = ["cine.nii.gz", "channel(s)"]
    else:
        nib.save(nib.Nifti1Image(np.random.rand(10, 9, 3).astype(np.float32), np.eye(4)), folder / "vol.nii.gz")
        (tmp_path / "a_file").write_text("")
        out = tmp_path / "a_file" / "preds"
        words = ["cannot write predictions", "a_file"]
    proc = _cli("infer", "acdc", str(folder), "--output_dir", str(out), "--checkpoint", str(weights))
    _one_line_error(proc, *words)
    assert not out.exists()
