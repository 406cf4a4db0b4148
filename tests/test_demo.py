# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The embedded demo, its synthetic data, the PNG writer and the command line."""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch

from adamix_monai.figures import outline_mixed_patches, write_png
from adamix_monai.mixing import plan_patch_mix
from adamix_monai.synthetic import cardiac_phantom
from tests.conftest import REPO_ROOT


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
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + width * 3)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def test_png_round_trip_and_outlines(tmp_path):
    image = torch.rand(1, 16, 16)
    plan = plan_patch_mix(torch.rand(2, 4), torch.rand(2, 4), torch.tensor([1, 2]), torch.tensor([True, False]), (2, 2))
    rgb = outline_mixed_patches(image, plan, 0, thickness=1)
    patch = int(plan.dst[0, 0])
    y0, x0 = (patch // 2) * 8, (patch % 2) * 8
    assert tuple(rgb[y0, x0]) == (235, 40, 40)  # hard: red
    rgb1 = outline_mixed_patches(image, plan, 1, thickness=1)
    assert (rgb1 == np.array([40, 220, 60], dtype=np.uint8)).all(-1).sum() > 0  # easy: green
    path = write_png(tmp_path / "sub" / "x.png", rgb)
    assert np.array_equal(read_png(path), rgb)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        write_png(tmp_path / "bad.png", np.zeros((4, 4, 2), dtype=np.uint8))


def test_cli_demo_runs_and_writes_its_figure(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "demo", "--output_dir", str(tmp_path), "--batch", "3"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(lines) == 8
    ages = [float(line.split("|")[2]) for line in lines]
    assert ages[1] < 0.05 and ages[-1] == 1.0  # lambda ramps up over the first quarter of the run
    figure = read_png(tmp_path / "adamix_schedule.png")
    assert figure.shape[1] == 3 * 256


def test_cli_help():
    result = subprocess.run(
        [sys.executable, "-m", "adamix_monai", "demo", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={"PAGER": "cat", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0
    assert "synthetic cardiac" in result.stdout + result.stderr
