# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The training demo (a tiny run), its synthetic data, the PNG writer and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from adamix_monai.cli import Commands
from adamix_monai.demo import make_demo_data
from adamix_monai.visualize.patches import outline_mixed_patches, save_png
from adamix_monai.handlers.history import read_history
from adamix_monai.mixing import plan_patch_mix
from adamix_monai.synthetic import cardiac_phantom
from tests.conftest import REPO_ROOT

TINY = dict(iterations=2, warmup=2, size=32, batch=2, labeled=2, unlabeled=4, test=2, seed=0, threads=1, progress=False)
FIGURES = ("curves_supervised.png", "curves_adamix_st.png", "mix_samples.png", "predictions.png")


def test_phantom_has_four_classes_and_is_seeded():
    image, label = cardiac_phantom(3, 64, seed=1)
    assert image.shape == (3, 1, 64, 64) and label.shape == (3, 1, 64, 64)
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    for i in range(3):
        assert set(label[i].unique().tolist()) == {0, 1, 2, 3}
    again, _ = cardiac_phantom(3, 64, seed=1)
    assert torch.equal(image, again)
    # the classes are separable by intensity on average: LV brightest, background darkest
    means = [float(image[label == c].mean()) for c in range(4)]
    assert means[3] > means[2] and means[1] > means[0]


def read_png(path):
    """The pixels of a PNG file, decoded by pillow."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        return np.asarray(image)


def test_png_round_trip_and_outlines(tmp_path):
    image = torch.rand(1, 16, 16)
    plan = plan_patch_mix(torch.rand(2, 4), torch.rand(2, 4), torch.tensor([1, 2]), torch.tensor([True, False]), (2, 2))
    rgb = outline_mixed_patches(image, plan, 0, thickness=1)
    patch = int(plan.dst[0, 0])
    y0, x0 = (patch // 2) * 8, (patch % 2) * 8
    assert tuple(rgb[y0, x0]) == (235, 40, 40)  # hard: red
    rgb1 = outline_mixed_patches(image, plan, 1, thickness=1)
    assert (rgb1 == np.array([40, 220, 60], dtype=np.uint8)).all(-1).sum() > 0  # easy: green
    path = save_png(tmp_path / "sub" / "x.png", rgb)
    assert np.array_equal(read_png(path), rgb)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        save_png(tmp_path / "bad.png", np.zeros((4, 4, 2), dtype=np.uint8))
    colour = torch.zeros(3, 16, 16)
    colour[0] = 1.0  # a red RGB image (ISIC) keeps its colours
    rgb_colour = outline_mixed_patches(colour, plan, 1, thickness=1)
    untouched = ~(rgb_colour == np.array([40, 220, 60], dtype=np.uint8)).all(-1)
    assert (rgb_colour[untouched] == np.array([255, 0, 0], dtype=np.uint8)).all()


def test_demo_data_splits_are_seeded_and_unlabeled_has_no_label():
    data = make_demo_data(size=32, labeled=2, unlabeled=3, validation=1, test=2, seed=3)
    assert {k: len(v) for k, v in data.items()} == {"labeled": 2, "unlabeled": 3, "validation": 1, "test": 2}
    assert all("label" not in item for item in data["unlabeled"])
    for split in ("labeled", "validation", "test"):
        for item in data[split]:
            assert item["image"].shape == (1, 32, 32) and item["label"].shape == (1, 32, 32)
            assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
            assert set(item["label"].unique().tolist()) <= {0, 1, 2, 3}
    again = make_demo_data(size=32, labeled=2, unlabeled=3, validation=1, test=2, seed=3)
    assert torch.equal(data["test"][1]["image"], again["test"][1]["image"])


def table_rows(text):
    """The method rows of the printed Markdown table: name -> cells."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("Warm-up only", "Supervised", "AdaMix-ST"):
            rows[cells[0]] = cells
    return rows


def test_cli_demo_tiny_run(tmp_path, capsys):
    out = Commands().demo(output_dir=str(tmp_path / "demo"), **TINY)
    printed = capsys.readouterr().out
    assert Path(out) == tmp_path / "demo"
    # the comparison table: a header, both methods, finite Dice and Jaccard in [0, 1]
    assert "| method | Dice | Jaccard | HD95 (px) | ASD (px) | Dice RV | Dice Myo | Dice LV |" in printed
    rows = table_rows(printed)
    assert list(rows) == ["Warm-up only", "Supervised", "AdaMix-ST"]
    for cells in rows.values():
        assert len(cells) == 8
        assert all(0.0 <= float(v) <= 1.0 for v in (cells[1], cells[2], *cells[5:8]))
    assert "a shared supervised warm-up of 2 iterations" in printed and "then 2 iterations each" in printed
    assert (Path(out) / "results.md").read_text().count("| AdaMix-ST") == 1
    # the figures are PNGs, and the run folders hold the curves
    for name in FIGURES:
        path = Path(out) / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert str(path) in printed
        assert imread(path).shape[0] > 100
    for run in ("warmup", "supervised", "adamix_st"):  # 2 shared iterations, then 2 each
        history = read_history(Path(out) / run / "history.csv")
        assert history["iteration"][-1] == 2
        validation = read_history(Path(out) / run / "validation.csv")
        assert validation["iteration"][-1] == 2 and 0.0 <= validation["val_mean_dice"][-1] <= 1.0
    assert not (Path(out) / "supervised" / "mix_samples").exists()


def test_cli_help():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "adamix-monai"), "demo", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={"PAGER": "cat", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert "synthetic cardiac" in text
    for flag in ("--iterations", "--size", "--output_dir", "--warmup", "--threads", "--seed"):
        assert flag in text


@pytest.mark.slow
def test_readme_quotes_what_the_demo_prints(tmp_path):
    """The README's demo numbers are the default demo's output (about 2.5 minutes; ``pytest -m slow``)."""
    import re

    readme = (REPO_ROOT / "README.md").read_text()
    quoted = re.search(r"Supervised (\d\.\d{3}) mean Dice[^.]*?AdaMix-ST (\d\.\d{3})", readme)
    assert quoted, "the README no longer quotes the demo's two mean Dice values"
    proc = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "demo", "--output_dir", str(tmp_path), "--progress", "False"],
        capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = {
        name: re.search(rf"^\| {re.escape(name)} \| (\d\.\d{{3}}) \|", proc.stdout, re.M).group(1)
        for name in ("Supervised", "AdaMix-ST")
    }
    assert (printed["Supervised"], printed["AdaMix-ST"]) == quoted.groups()


def test_demo_writes_no_progress_bar_into_a_log_file(tmp_path):
    """Not on a terminal, the demo logs plain lines (no tqdm redraws in the log file)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "demo", "--output_dir", str(tmp_path / "d"), "--iterations", "4",
         "--warmup", "0", "--size", "32", "--labeled", "4", "--unlabeled", "4", "--test", "2"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\r" not in proc.stdout + proc.stderr and "it/s]" not in proc.stderr + proc.stdout
