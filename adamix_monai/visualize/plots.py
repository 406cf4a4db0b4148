# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Matplotlib figures: training curves, AdaMix's mixed samples over time, method comparisons, qualitative predictions.

Every function draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas (no ``pyplot``, so no global
figure state and no display needed), renders the PNG in memory and writes it atomically with
:func:`~adamix_monai.utils.atomic_open`: a reader never sees a partial file.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Patch

from adamix_monai.metrics import dice
from adamix_monai.utils import atomic_open, read_csv_columns
from adamix_monai.visualize.palette import CLASS_COLORS, EASY_COLOR, HARD_COLOR, class_names_for

__all__ = [
    "mix_sample_files",
    "plot_method_comparison",
    "plot_mix_samples",
    "plot_qualitative",
    "plot_training_curves",
]

_ITER_FILE = re.compile(r"^iter_(\d+)\.png$")


def _save(figure: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Render ``figure`` to PNG in memory, then write it atomically.

    Args:
        figure: the figure (it gets an Agg canvas here).
        path: destination (its folder is created).
        dpi: resolution.

    Returns:
        The path written.
    """
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    with atomic_open(path) as f:
        f.write(buffer.getvalue())
    return Path(path)


def _read_columns(path: str | os.PathLike | None) -> dict[str, np.ndarray]:
    """Columns of a history CSV as float arrays; empty when the file is absent, empty or headers only.

    Args:
        path: the CSV file, or None.

    Returns:
        Column name -> values.
    """
    if path is None or not Path(path).is_file():
        return {}
    return {k: np.asarray(v, dtype=float) for k, v in read_csv_columns(path).items()}


def _usable(columns: Mapping[str, np.ndarray], key: str) -> bool:
    """Whether ``key`` is a column with at least one finite value.

    Args:
        columns: the table.
        key: column name.

    Returns:
        True when the column can be drawn.
    """
    return key in columns and bool(np.isfinite(columns[key]).any())


def _nonzero(columns: Mapping[str, np.ndarray], key: str) -> bool:
    """Whether ``key`` is a column with at least one finite non-zero value.

    Args:
        columns: the table.
        key: column name.

    Returns:
        True when the column holds something other than zeros and NaN.
    """
    if not _usable(columns, key):
        return False
    values = columns[key][np.isfinite(columns[key])]
    return bool(np.any(values != 0))


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average that ignores NaN cells (a cell with no finite neighbour stays NaN).

    Args:
        values: 1D series.
        window: window length in samples (1 returns the series unchanged).

    Returns:
        The smoothed series, same length.
    """
    if window <= 1 or values.size < 3:
        return values
    window = min(window, values.size)
    finite = np.isfinite(values)
    kernel = np.ones(window)
    sums = np.convolve(np.where(finite, values, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _placeholder(axes: Any, text: str) -> None:
    """Write ``text`` in the middle of an empty panel.

    Args:
        axes: the panel.
        text: the message.
    """
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="0.4", wrap=True)
    axes.set_xticks([])
    axes.set_yticks([])


def _x_axis(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The iteration column, or 1..N when it is absent.

    Args:
        columns: the table.

    Returns:
        The x values.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    return columns["iteration"] if _usable(columns, "iteration") else np.arange(1, n + 1, dtype=float)


def plot_training_curves(
    history_csv: str | os.PathLike | None,
    validation_csv: str | os.PathLike | None,
    path: str | os.PathLike,
    title: str | None = None,
    smooth: int = 5,
) -> Path:
    """Four panels of a run's curves, from the CSV files of :class:`~adamix_monai.handlers.history.TrainingHistory`.

    (a) the losses L_s, L_u and L (light: as recorded; dark: moving average of ``smooth`` rows); (b) the validation
    metrics (``loss`` metrics on a second axis); (c) AdaMix's age lambda, the fraction of images mixed in the hard
    direction and the fraction of unlabeled pixels above the confidence threshold; (d) the mean number of replaced
    patches per image. Columns that are absent or all NaN are left out, and so are columns that are 0 throughout:
    a supervised run has no L_u (and L is L_s) and no mask ratio, and a run that mixed no patch has no schedule to
    show. A panel with nothing to show says so. A missing, empty or headers-only CSV is allowed.

    Args:
        history_csv: ``history.csv`` (None or a missing file: no training rows).
        validation_csv: ``validation.csv`` (None or a missing file: no validation rows).
        path: the PNG to write.
        title: figure title.
        smooth: moving-average window of the loss curves, in rows (1: no smoothing).

    Returns:
        The path written.
    """
    train = _read_columns(history_csv)
    val = _read_columns(validation_csv)
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    (ax_loss, ax_val), (ax_mix, ax_n) = figure.subplots(2, 2)

    # (a) losses (L equals L_s when there is no unlabeled loss: drawn once)
    semi = _nonzero(train, "loss_u")
    drawn = False
    for key, label, color in (("loss_s", "L_s", "tab:blue"), ("loss_u", "L_u", "tab:orange"), ("loss", "L", "k")):
        if not _usable(train, key) or (key == "loss_u" and not semi):
            continue
        if key == "loss" and not semi and _usable(train, "loss_s"):
            continue
        x, y = _x_axis(train), train[key]
        ax_loss.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
        ax_loss.plot(x, _moving_average(y, smooth), color=color, linewidth=1.6, label=label)
        drawn = True
    if drawn:
        ax_loss.set_xlabel("iteration")
        ax_loss.set_ylabel("loss")
        ax_loss.legend(loc="upper right")
        ax_loss.grid(alpha=0.3)
    else:
        _placeholder(ax_loss, "no training losses recorded")
    ax_loss.set_title("(a) losses")

    # (b) validation metrics
    metrics = [k for k in val if k not in ("iteration", "epoch") and _usable(val, k)]
    if metrics:
        x = _x_axis(val)
        twin = None
        for i, key in enumerate(metrics):
            color = f"C{i}"
            if "loss" in key:
                twin = twin if twin is not None else ax_val.twinx()
                twin.plot(x, val[key], "s--", color=color, markersize=3, label=key)
                twin.set_ylabel("validation loss")
            else:
                ax_val.plot(x, val[key], "o-", color=color, markersize=3, label=key)
        ax_val.set_xlabel("iteration")
        ax_val.set_ylabel("validation metric")
        handles, labels = ax_val.get_legend_handles_labels()
        if twin is not None:
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        ax_val.legend(handles, labels, loc="lower right")
        ax_val.grid(alpha=0.3)
    else:
        _placeholder(ax_val, "no validation recorded")
    ax_val.set_title("(b) validation")

    # (c) the self-paced schedule (only when patches were mixed) and the pseudo-label mask ratio
    mixed = _nonzero(train, "adamix_mean_n")
    series = [
        ("adamix_lambda", "lambda (age)", "tab:purple", "-", mixed),
        ("adamix_hard_fraction", "hard fraction", "tab:red", "-", mixed),
        ("mask_ratio", "mask ratio (conf >= tau)", "tab:gray", ":", _nonzero(train, "mask_ratio")),
    ]
    series = [s for s in series if s[4] and _usable(train, s[0])]
    if series:
        x = _x_axis(train)
        for key, label, color, style, _ in series:
            y = train[key] if key == "adamix_lambda" else _moving_average(train[key], smooth)
            ax_mix.plot(x, y, style, color=color, linewidth=1.4, label=label)
        ax_mix.set_ylim(-0.05, 1.05)
        ax_mix.set_xlabel("iteration")
        ax_mix.legend(loc="best")
        ax_mix.grid(alpha=0.3)
    else:
        _placeholder(
            ax_mix, "no patch mixing in this run" if _usable(train, "adamix_mean_n") else "no schedule recorded"
        )
    ax_mix.set_title("(c) self-paced schedule")

    # (d) mean number of replaced patches
    if mixed:
        x, y = _x_axis(train), train["adamix_mean_n"]
        ax_n.plot(x, y, color="tab:green", alpha=0.25, linewidth=0.8)
        ax_n.plot(x, _moving_average(y, smooth), color="tab:green", linewidth=1.6, label="mean n")
        ax_n.set_xlabel("iteration")
        ax_n.set_ylabel("patches replaced per image")
        ax_n.grid(alpha=0.3)
    else:
        _placeholder(ax_n, "no patch mixing in this run" if _usable(train, "adamix_mean_n") else "no mixing recorded")
    ax_n.set_title("(d) mean n")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_method_comparison(
    runs: Mapping[str, str | os.PathLike],
    path: str | os.PathLike,
    title: str | None = None,
    smooth: int = 25,
) -> Path:
    """The paper's Fig. 1(f-g) from runs: unlabeled loss curves and validation curves of several methods.

    Args:
        runs: legend name -> run or record folder holding ``history.csv`` and ``validation.csv``.
        path: the PNG to write.
        title: figure title.
        smooth: moving-average window of the unlabeled loss, in rows.

    Returns:
        The path written.
    """
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_val = figure.subplots(1, 2)
    drawn_loss = drawn_val = False
    for i, (name, folder) in enumerate(runs.items()):
        train = _read_columns(Path(folder) / "history.csv")
        val = _read_columns(Path(folder) / "validation.csv")
        color = f"C{i}"
        if _nonzero(train, "loss_u"):
            ax_loss.plot(_x_axis(train), _moving_average(train["loss_u"], smooth), color=color, label=name)
            drawn_loss = True
        metric = next((k for k in val if k not in ("iteration", "epoch") and _usable(val, k)), None)
        if metric is not None:
            ax_val.plot(_x_axis(val), val[metric], "o-", color=color, markersize=3, label=name)
            drawn_val = True
    for axes, drawn, ylabel, label in (
        (ax_loss, drawn_loss, "unlabeled loss L_u (moving average)", "(f) unlabeled loss"),
        (ax_val, drawn_val, "validation mean Dice", "(g) validation"),
    ):
        if drawn:
            axes.set_xlabel("iteration")
            axes.set_ylabel(ylabel)
            axes.legend(loc="best")
            axes.grid(alpha=0.3)
        else:
            _placeholder(axes, "nothing recorded")
        axes.set_title(label)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def mix_sample_files(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """The ``iter_<iteration>.png`` rows written by :class:`~adamix_monai.handlers.mix_samples.MixSampleSaver`.

    Args:
        folder: the saver's output folder (a missing folder gives an empty list).

    Returns:
        ``(iteration, path)`` pairs sorted by iteration.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    found = []
    for file in root.iterdir():
        match = _ITER_FILE.match(file.name)
        if match and file.is_file():
            found.append((int(match.group(1)), file))
    return sorted(found, key=lambda item: item[0])


def plot_mix_samples(
    samples: Sequence[tuple[int, str | os.PathLike] | tuple[int, str | os.PathLike, float]],
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Stack AdaMix's mixed-sample rows over a run into one figure (the paper's Fig. 5), one row per iteration.

    Args:
        samples: ``(iteration, png)`` or ``(iteration, png, lambda)`` per row, e.g. from :func:`mix_sample_files`;
            each PNG is a row of mixed images with their replaced patches outlined. An empty list writes a figure
            that says no sample was recorded.
        path: the PNG to write.
        title: figure title.

    Returns:
        The path written.
    """
    rows = [(int(s[0]), imread(s[1]), float(s[2]) if len(s) > 2 and s[2] is not None else None) for s in samples]
    legend = [
        Patch(facecolor="none", edgecolor=color, linewidth=2, label=text)
        for color, text in (
            (EASY_COLOR, "green: replaced by high-confidence auxiliary patches (easy)"),
            (HARD_COLOR, "red: replaced by low-confidence auxiliary patches (hard)"),
        )
    ]
    if not rows:
        figure = Figure(figsize=(8, 2.5), layout="constrained")
        _placeholder(figure.subplots(), "no mixed sample was recorded")
    else:
        width = 10.0
        heights = [img.shape[0] / img.shape[1] * width for _, img, _ in rows]
        figure = Figure(figsize=(width + 1.2, sum(heights) + 1.4), layout="constrained")
        axes = figure.subplots(len(rows), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, (iteration, img, age) in zip(axes, rows):
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"iter {iteration}" + (f"\nλ = {age:.3f}" if age is not None else ""), fontsize=10)
    figure.legend(handles=legend, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def _overlay(label: np.ndarray) -> np.ndarray:
    """An RGBA overlay of a label map: :data:`CLASS_COLORS` at alpha 0.45, background transparent.

    Args:
        label: 2D integer map with classes in ``[0, 8]``.

    Returns:
        ``(H, W, 4)`` float array.
    """
    palette = np.zeros((len(CLASS_COLORS) + 1, 4))
    palette[1:, :3] = CLASS_COLORS
    palette[1:, 3] = 0.45
    return palette[np.asarray(label, dtype=np.int64)]


def _mean_dice(prediction: np.ndarray, label: np.ndarray, num_classes: int) -> float:
    """Mean Dice over the foreground classes present in the prediction or the label.

    Args:
        prediction: 2D integer map.
        label: 2D integer map.
        num_classes: classes including background.

    Returns:
        The mean Dice, NaN when neither map has foreground.
    """
    scores = [dice(prediction == c, label == c) for c in range(1, num_classes)]
    scores = [d for d in scores if not math.isnan(d)]  # NaN: the class is in neither map
    return float(np.mean(scores)) if scores else math.nan


def plot_qualitative(
    images: Sequence[Any],
    labels: Sequence[Any],
    predictions: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    """A grid of cases (rows) by image, ground truth and each method's prediction (columns), as class overlays.

    Each prediction's panel shows its mean foreground Dice against the ground truth of that case.

    Args:
        images: 2D float images (or ``(H, W, 3)`` colour images), one per case.
        labels: 2D integer ground truths, one per case.
        predictions: per case, method name -> 2D integer prediction (the methods of the first case give the
            columns; every case must have them).
        path: the PNG to write.
        names: row labels; default ``case 0``, ``case 1``, ...
        class_names: names of the foreground classes 1, 2, ...; default RV, Myo, LV for up to 3 foreground classes,
            else ``class k``.

    Returns:
        The path written.

    Raises:
        ValueError: on lists of different lengths, no case, a missing method, or a class outside ``[0, 8]``.
    """
    cases = len(images)
    if cases == 0 or len(labels) != cases or len(predictions) != cases:
        raise ValueError(
            f"plot_qualitative: need one label and one prediction dict per image, got {cases} images, "
            f"{len(labels)} labels, {len(predictions)} predictions."
        )
    if names is not None and len(names) != cases:
        raise ValueError(f"plot_qualitative: {len(names)} names for {cases} cases.")
    methods = list(predictions[0])
    maps = [np.asarray(lab) for lab in labels] + [np.asarray(p[m]) for p in predictions for m in methods if m in p]
    if any(m not in p for p in predictions for m in methods):
        raise ValueError(f"plot_qualitative: every case needs a prediction for each of {methods}.")
    highest = max(int(m.max()) for m in maps)
    if min(int(m.min()) for m in maps) < 0 or highest > len(CLASS_COLORS):
        raise ValueError(f"plot_qualitative: classes must lie in [0, {len(CLASS_COLORS)}].")
    num_classes = max(highest + 1, len(class_names) + 1 if class_names is not None else 0)
    if class_names is None:
        class_names = class_names_for(num_classes)
    columns = 2 + len(methods)
    figure = Figure(figsize=(2.4 * columns, 2.4 * cases + 0.8), layout="constrained")
    axes = figure.subplots(cases, columns, squeeze=False)
    for row in range(cases):
        image = np.asarray(images[row], dtype=float)
        if image.ndim == 3:  # (H, W, 3) colour, any range (e.g. ImageNet-normalised): rescaled for display
            image = (image - image.min()) / max(float(image.max() - image.min()), 1e-8)
        label = np.asarray(labels[row])
        panels = [("image", None), ("ground truth", label)]
        panels += [(m, np.asarray(predictions[row][m])) for m in methods]
        for col, (heading, overlay) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
            if overlay is not None:
                ax.imshow(_overlay(overlay), interpolation="nearest")
            if col >= 2:
                score = _mean_dice(overlay, label, num_classes)  # type: ignore[arg-type]
                box = {"facecolor": "k", "alpha": 0.5, "pad": 1.5, "linewidth": 0}
                ax.text(0.03, 0.03, f"Dice {score:.3f}", transform=ax.transAxes, color="w", fontsize=8, bbox=box)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(heading, fontsize=10)
            if col == 0:
                ax.set_ylabel(names[row] if names is not None else f"case {row}")
    legend = [
        Patch(facecolor=(*CLASS_COLORS[c - 1], 0.6), edgecolor="none", label=class_names[c - 1])
        for c in range(1, min(num_classes, len(class_names) + 1))
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=max(len(legend), 1), frameon=False)
    return _save(figure, path)
