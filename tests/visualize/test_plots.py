# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The matplotlib figures: each writes a valid PNG, whatever columns or files are missing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.image import imread

from adamix_monai.visualize.patches import save_png
from adamix_monai.visualize.plots import (
    mix_sample_files,
    plot_method_comparison,
    plot_mix_samples,
    plot_qualitative,
    plot_training_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY_COLUMNS = [
    "iteration",
    "epoch",
    "loss",
    "loss_s",
    "loss_u",
    "mask_ratio",
    "adamix_lambda",
    "adamix_mean_n",
    "adamix_hard_fraction",
]


def check_png(path, min_height=50, min_width=50):
    """A PNG file that matplotlib reads back as an RGB(A) image of a plausible size; returns the pixels."""
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # written atomically
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert pixels.shape[0] >= min_height and pixels.shape[1] >= min_width
    assert float(pixels[..., :3].std()) > 0  # something was drawn
    return pixels


def write_csv(path, columns, rows):
    lines = [",".join(columns)]
    lines += [",".join("" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def history_rows(n, supervised=False):
    rows = []
    for i in range(1, n + 1):
        loss_s = 1.0 / i + 0.05 * math.sin(i)
        loss_u = 0.0 if supervised else 0.5 / i
        age = 1.0 if supervised else math.exp(-5 * max(0.0, 1 - i / (n / 4)) ** 2)
        mean_n = 0.0 if supervised else 4 + 8 * age
        hard = 0.0 if supervised else min(1.0, i / n)
        rows.append([10 * i, 1 + i // 5, (loss_s + loss_u) / 2, loss_s, loss_u, 0.5, age, mean_n, hard])
    return rows


def test_training_curves_full_run(tmp_path):
    history = write_csv(tmp_path / "history.csv", HISTORY_COLUMNS, history_rows(30))
    val_rows = [[50 * k, k, 0.2 + 0.1 * k, 1.0 / k] for k in range(1, 7)]
    validation = write_csv(tmp_path / "validation.csv", ["iteration", "epoch", "val_mean_dice", "val_loss"], val_rows)
    out = plot_training_curves(history, validation, tmp_path / "figs" / "curves.png", title="AdaMix-ST")
    assert out == tmp_path / "figs" / "curves.png"
    pixels = check_png(out, 300, 500)
    assert pixels.shape[1] > pixels.shape[0]  # a landscape 2 x 2 grid


def test_method_comparison_draws_every_run_and_tolerates_a_supervised_one(tmp_path):
    runs = {}
    for name, supervised in (("CutMix", False), ("AdaMix", False), ("Supervised", True)):
        folder = tmp_path / name
        folder.mkdir()
        write_csv(folder / "history.csv", HISTORY_COLUMNS, history_rows(40, supervised=supervised))
        write_csv(folder / "validation.csv", ["iteration", "epoch", "val_mean_dice"], [[100 * k, k, 0.1 * k] for k in range(1, 5)])
        runs[name] = folder
    out = check_png(plot_method_comparison(runs, tmp_path / "fig1.png", title="Fig. 1"), 250, 600)
    empty = check_png(plot_method_comparison({"none": tmp_path / "missing"}, tmp_path / "empty.png"))
    assert out.shape[1] > out.shape[0] and empty.shape == out.shape


def test_training_curves_missing_empty_and_nan(tmp_path):
    # a supervised run: L_u 0, lambda constant, no mixing; validation.csv headers only
    history = write_csv(tmp_path / "history.csv", HISTORY_COLUMNS, history_rows(12, supervised=True))
    empty_val = write_csv(tmp_path / "validation.csv", ["iteration", "epoch"], [])
    check_png(plot_training_curves(history, empty_val, tmp_path / "a.png"), 300, 500)
    # validation.csv absent, None, or an empty file
    check_png(plot_training_curves(history, tmp_path / "missing.csv", tmp_path / "b.png"), 300, 500)
    check_png(plot_training_curves(history, None, tmp_path / "c.png"), 300, 500)
    (tmp_path / "zero.csv").write_text("")
    check_png(plot_training_curves(history, tmp_path / "zero.csv", tmp_path / "d.png"), 300, 500)
    # all-NaN and absent columns, and a validation metric that is NaN throughout
    nan = math.nan
    rows = [[i, 1, nan, 1.0 / i, nan, nan, nan, nan, nan] for i in range(1, 9)]
    partial = write_csv(tmp_path / "nan.csv", HISTORY_COLUMNS, rows)
    nan_val = write_csv(tmp_path / "nan_val.csv", ["iteration", "epoch", "val_mean_dice"], [[4, 1, nan], [8, 2, nan]])
    check_png(plot_training_curves(partial, nan_val, tmp_path / "e.png"), 300, 500)
    few = write_csv(tmp_path / "few.csv", ["iteration", "loss"], [[1, 0.9]])
    check_png(plot_training_curves(few, None, tmp_path / "f.png"), 300, 500)
    # no history at all
    check_png(plot_training_curves(tmp_path / "none.csv", None, tmp_path / "g.png"), 300, 500)


def fake_row(seed, count=3, size=32):
    rng = np.random.default_rng(seed)
    row = (rng.random((size, count * size, 3)) * 255).astype(np.uint8)
    row[:2, :size] = (40, 220, 60)
    return row


def test_mix_sample_files_sorted_by_iteration(tmp_path):
    for it in (1200, 5, 40, 300):
        save_png(tmp_path / f"iter_{it:06d}.png", fake_row(it))
    save_png(tmp_path / "other.png", fake_row(0))
    (tmp_path / "iter_notes.txt").write_text("not a sample")
    (tmp_path / "iter_000007.png.tmp").write_bytes(b"partial")
    found = mix_sample_files(tmp_path)
    assert [it for it, _ in found] == [5, 40, 300, 1200]
    assert all(p.name == f"iter_{it:06d}.png" for it, p in found)
    assert mix_sample_files(tmp_path / "absent") == []


def test_plot_mix_samples(tmp_path):
    for it in (3, 30, 300):
        save_png(tmp_path / "samples" / f"iter_{it:06d}.png", fake_row(it))
    files = mix_sample_files(tmp_path / "samples")
    out = check_png(plot_mix_samples(files, tmp_path / "mix.png", title="mixed samples"), 200, 300)
    assert out.shape[0] > 100
    with_age = [(it, p, age) for (it, p), age in zip(files, (0.01, 0.3, 1.0))]
    check_png(plot_mix_samples(with_age, tmp_path / "mix_age.png"), 200, 300)
    check_png(plot_mix_samples([], tmp_path / "none.png"), 50, 100)


def test_plot_qualitative(tmp_path):
    rng = np.random.default_rng(0)
    images, labels, predictions = [], [], []
    for _ in range(3):
        label = np.zeros((32, 32), dtype=np.int64)
        label[8:24, 8:24] = 2
        label[12:20, 12:20] = 3
        label[4:8, 10:20] = 1
        images.append(rng.random((32, 32)).astype(np.float32))
        labels.append(label)
        predictions.append({"supervised": np.roll(label, 2, axis=0), "AdaMix-ST": label.copy()})
    out = plot_qualitative(images, labels, predictions, tmp_path / "q.png", names=["a", "b", "c"])
    pixels = check_png(out, 200, 300)
    assert pixels.shape[1] > pixels.shape[0]  # 4 columns, 3 rows
    # up to 8 foreground classes, custom names
    label8 = np.arange(64).reshape(8, 8) % 9
    out8 = plot_qualitative(
        [np.zeros((8, 8))], [label8], [{"m": label8}], tmp_path / "q8.png", class_names=[f"c{k}" for k in range(1, 9)]
    )
    check_png(out8, 100, 100)
    colour = plot_qualitative(  # an RGB image (ISIC), ImageNet-normalised values
        [rng.normal(size=(16, 16, 3))], [labels[0][:16, :16]], [{"m": labels[0][:16, :16]}], tmp_path / "c.png"
    )
    check_png(colour, 100, 100)
    with pytest.raises(ValueError, match="classes"):
        plot_qualitative([np.zeros((4, 4))], [np.full((4, 4), 9)], [{"m": np.zeros((4, 4), int)}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="one label"):
        plot_qualitative([np.zeros((4, 4))], [], [], tmp_path / "y.png")
