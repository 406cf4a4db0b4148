# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The figures of a set of bundle runs: training curves, AdaMix samples over training, qualitative predictions."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from adamix_monai.visualize.plots import mix_sample_files, plot_mix_samples, plot_qualitative, plot_training_curves

__all__ = ["make_run_figures"]


def _method(run: Path, evaluation: str) -> str:
    """The run's method name from its evaluation summary (a run folder) or its exported summary (a study record)."""
    for summary in (run / evaluation / "summary.json", run / f"test-{evaluation.rsplit('-', 1)[-1]}-summary.json"):
        if summary.is_file():
            return str(json.loads(summary.read_text()).get("method") or run.name)
    return run.name


def _best_slice(label: np.ndarray) -> int:
    """The slice (first axis) with the most foreground, for a 3D case."""
    return int(np.argmax((label > 0).reshape(label.shape[0], -1).sum(1)))


def make_run_figures(
    runs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    evaluation: str = "eval-test-best",
    cases: int = 3,
    class_names: Sequence[str] | None = None,
) -> list[Path]:
    """Write the figures of bundle runs (folders ``<bundle>/runs/<run name>``, or the study's exported records, which
    hold the curves' files but no samples or kept cases).

    - ``curves_<run>.png`` per run: L_s, L_u, validation Dice, lambda and mean n over iterations (from
      ``history.csv`` and ``validation.csv``);
    - ``mix_samples_<run>.png`` per run with AdaMix samples (``mix_samples/iter_*.png``, the paper's Fig. 5);
    - ``qualitative.png``: the first ``cases`` test cases kept by the evaluation (``<evaluation>/cases/*.npz``)
      common to all runs, on the slice with the most foreground: image, ground truth and every run's prediction.

    Args:
        runs: run folders.
        output_dir: where the PNG files go.
        evaluation: the evaluation sub-folder whose kept cases and method names are used.
        cases: cases in the qualitative figure.
        class_names: foreground class names for the legend.

    Returns:
        The files written.

    Raises:
        FileNotFoundError: when a run folder does not exist.
    """
    out = Path(output_dir)
    written: list[Path] = []
    run_dirs = [Path(r) for r in runs]
    for run in run_dirs:
        if not run.is_dir():
            raise FileNotFoundError(f"make_run_figures: run folder '{run}' does not exist.")
    for run in run_dirs:
        method = _method(run, evaluation)
        written.append(
            plot_training_curves(
                run / "history.csv",
                run / "validation.csv",
                out / f"curves_{run.name}.png",
                title=f"{method}: {run.name}",
            )
        )
        samples = mix_sample_files(run / "mix_samples")
        if samples:
            written.append(
                plot_mix_samples(samples, out / f"mix_samples_{run.name}.png", title=f"{method}: {run.name}")
            )
    kept = [sorted(p.stem for p in (run / evaluation / "cases").glob("*.npz")) for run in run_dirs]
    common = [c for c in (kept[0] if kept else []) if all(c in k for k in kept)][:cases]
    if common:
        images, labels, predictions = [], [], []
        for case in common:
            per_method = {}
            for run in run_dirs:
                data = np.load(run / evaluation / "cases" / f"{case}.npz")
                label, image, pred = data["label"], data["image"].astype(np.float32), data["prediction"]
                index = _best_slice(label) if label.ndim == 3 else None
                take = (lambda a: a[index]) if index is not None else (lambda a: a)
                per_method[f"{_method(run, evaluation)} ({run.name.rsplit('-', 1)[-1]})"] = take(pred)
            images.append(take(image))
            labels.append(take(label))
            predictions.append(per_method)
        written.append(
            plot_qualitative(
                images, labels, predictions, out / "qualitative.png", names=common, class_names=class_names
            )
        )
    return written
