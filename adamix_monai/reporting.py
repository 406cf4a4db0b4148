# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-case metric files and paper-style summary tables.

A run's evaluation writes one CSV row per (case, class) and a Markdown summary laid out like the paper's
Tables 1-3 (DSC %, Jaccard %, 95HD, ASD: mean over classes, then mean +- std over cases). Several runs (seeds)
are gathered into one table with mean +- std over runs by :func:`collect_table`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adamix_monai.utils import write_csv

__all__ = [
    "CSV_COLUMNS",
    "METRICS",
    "collect_table",
    "describe_run",
    "method_name",
    "read_case_rows",
    "summarise",
    "summary_markdown",
    "write_case_rows",
]

METRICS = ("dice", "jaccard", "hd95", "asd")
CSV_COLUMNS = ("case", "class", "class_name", *METRICS, "empty_prediction", "empty_reference")
_PERTURBATION = {
    "none": "-",
    "cutmix": "CutMix",
    "umix": "UMix",
    "iumix": "I-UMix",
    "adamix_v1": "AdaMix V1",
    "adamix_v2": "AdaMix V2",
    "adamix": "Adaptive Mix",
}
_FRAMEWORK = {
    "supervised": "Supervised",
    "self_training": "Self-Training",
    "mean_teacher": "Mean-Teacher",
    "co_training": "Co-Training",
}
_BASELINES = {"self_training": "FixMatch", "mean_teacher": "MT", "co_training": "CPS"}
_SUFFIX = {"self_training": "ST", "mean_teacher": "MT", "co_training": "CT"}


def method_name(paradigm: str, mix: str) -> str:
    """The paper's name of a (paradigm, mix) pair: ``AdaMix-ST``, ``FixMatch`` (ST + CutMix), ``MT``, ``CPS``,
    ``Supervised``, ``UMix-CT``, ..."""
    if paradigm == "supervised":
        return "Supervised" if mix == "none" else f"Supervised + {_PERTURBATION.get(mix, mix)}"
    suffix = _SUFFIX.get(paradigm, paradigm)
    if mix == "cutmix":
        return _BASELINES.get(paradigm, f"CutMix-{suffix}")
    if mix == "adamix":
        return f"AdaMix-{suffix}"
    if mix == "none":
        return f"{_FRAMEWORK.get(paradigm, paradigm)} (no mix)"
    return f"{_PERTURBATION.get(mix, mix)}-{suffix}"


def describe_run(
    paradigm: str,
    mix: str,
    fuse_forwards: bool = False,
    skip_unused_passes: bool = False,
    views: str = "workers",
    fast_dropout: bool = False,
) -> dict[str, str]:
    """The summary columns of a run, as the paper's tables: ``method``, ``perturbation`` and ``framework``.

    The trainer's speed options, which change the step from the reference's, are named in the method
    (``AdaMix-ST (fused, skip)``; views made on the device: ``device views``; ``fast dropout``), so that tables
    never pool their runs with the reference step's.
    """
    flags = (
        ("fused", fuse_forwards),
        ("skip", skip_unused_passes),
        ("device views", views == "device"),
        ("fast dropout", fast_dropout),
    )
    options = [name for name, on in flags if on]
    return {
        "method": method_name(paradigm, mix) + (f" ({', '.join(options)})" if options else ""),
        "perturbation": _PERTURBATION.get(mix, mix),
        "framework": _FRAMEWORK.get(paradigm, paradigm),
    }


def write_case_rows(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write per-(case, class) rows as CSV, atomically.

    Args:
        path: destination.
        rows: dictionaries with :data:`CSV_COLUMNS`.

    Returns:
        The path.
    """
    return write_csv(path, CSV_COLUMNS, rows)


def read_case_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a CSV written by :func:`write_case_rows` (metrics as floats, flags as bools)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        item: dict[str, Any] = {"case": row["case"], "class": int(row["class"]), "class_name": row["class_name"]}
        item.update({m: float(row[m]) if row[m] not in ("", "nan") else math.nan for m in METRICS})
        item.update({k: row[k] in ("True", "true", "1") for k in ("empty_prediction", "empty_reference")})
        out.append(item)
    return out


def _paper_mode(row: Mapping[str, Any]) -> dict[str, Any]:
    """The reference evaluation's scores of a row: a missed class counts 0 for every metric."""
    row = dict(row)
    if row["empty_prediction"]:
        row.update({m: 0.0 for m in METRICS})
    return row


def summarise(rows: Sequence[Mapping[str, Any]], mode: str = "honest") -> dict[str, Any]:
    """Summary statistics of per-(case, class) rows.

    Per case, each metric is averaged over the classes (NaN distances of missed classes are left out of the
    case mean in ``honest`` mode; ``paper`` mode scores them 0 as the reference code). Then mean and std
    (ddof 1, as the reference) over cases, and per class the mean over cases.

    Args:
        rows: per-(case, class) rows.
        mode: ``honest`` or ``paper``.

    Returns:
        ``{"cases": n, "mean": {metric: v}, "std": {metric: v}, "per_class": {name: {metric: v}},
        "missed": number of (case, class) pairs with an empty prediction but a non-empty reference}``.
        Dice and Jaccard are in percent.
    """
    if mode not in ("honest", "paper"):
        raise ValueError(f"summarise: mode must be 'honest' or 'paper', got '{mode}'.")
    rows = [_paper_mode(r) if mode == "paper" else dict(r) for r in rows]
    cases: dict[str, list[Mapping[str, Any]]] = {}
    classes: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        cases.setdefault(r["case"], []).append(r)
        classes.setdefault(r["class_name"], []).append(r)
    scale = {"dice": 100.0, "jaccard": 100.0, "hd95": 1.0, "asd": 1.0}

    def nanmean(values: Sequence[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        return float(np.mean(finite)) if finite else math.nan

    per_case = {m: [nanmean([r[m] for r in rs]) * scale[m] for rs in cases.values()] for m in METRICS}
    mean = {m: nanmean(v) for m, v in per_case.items()}
    std = {}
    for m, v in per_case.items():
        finite = [x for x in v if not math.isnan(x)]
        std[m] = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    per_class = {name: {m: nanmean([r[m] for r in rs]) * scale[m] for m in METRICS} for name, rs in classes.items()}
    missed = sum(1 for r in rows if r["empty_prediction"] and not r["empty_reference"])
    return {"cases": len(cases), "mean": mean, "std": std, "per_class": per_class, "missed": missed}


def _fmt(value: float, std: float | None = None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if std is None or math.isnan(std) else f"{value:.2f} ± {std:.2f}"


def summary_markdown(
    rows: Sequence[Mapping[str, Any]],
    method: str,
    labeled: str,
    perturbation: str = "",
    framework: str = "",
    title: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """A Markdown summary of one evaluation, laid out like the paper's Table 1.

    Args:
        rows: per-(case, class) rows.
        method: method name (e.g. ``AdaMix-ST``).
        labeled: labeled share (e.g. ``10%``).
        perturbation, framework: the paper's last two columns.
        title: heading.
        details: extra facts listed under the tables (checkpoint, iterations, seed, ...).

    Returns:
        The Markdown text.
    """
    honest, paper = summarise(rows, "honest"), summarise(rows, "paper")
    lines = [f"# {title or 'Evaluation summary'}", ""]
    lines += [
        "| Method | Labeled | DSC (%) | Jaccard (%) | 95HD | ASD | Perturbation | Framework |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in ((method, honest), (f"{method} (paper scoring)", paper)):
        cells = [_fmt(s["mean"][m], s["std"][m]) for m in METRICS]
        lines.append(f"| {name} | {labeled} | " + " | ".join(cells) + f" | {perturbation} | {framework} |")
    lines += ["", "Per class (mean over cases, honest scoring):", ""]
    lines += ["| Class | DSC (%) | Jaccard (%) | 95HD | ASD |", "|---|---|---|---|---|"]
    for name, values in honest["per_class"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(values[m]) for m in METRICS) + " |")
    lines += [
        "",
        f"Cases: {honest['cases']}. Missed classes (empty prediction, non-empty reference): {honest['missed']}.",
        "Mean ± std over cases (std with ddof 1) of the class-averaged metrics. Honest scoring leaves a missed "
        "class's distances out (Dice 0); paper scoring counts it 0 on every metric, as the reference code does.",
    ]
    if details:
        lines += ["", *[f"- {k}: {v}" for k, v in details.items()]]
    return "\n".join(lines) + "\n"


def collect_table(summaries: Sequence[str | os.PathLike], mode: str = "honest", title: str | None = None) -> str:
    """One paper-style table from several runs' ``summary.json`` files: runs of the same method and labeled
    share (e.g. seeds) are merged into mean ± std over runs of the case-mean metrics.

    Args:
        summaries: ``summary.json`` files written next to the per-case CSV by an evaluation.
        mode: ``honest`` or ``paper`` scoring.
        title: heading.

    Returns:
        The Markdown table.

    Raises:
        InputError: naming a file that is not an evaluation summary (not JSON, or without the metrics).
    """
    from adamix_monai.errors import InputError

    if mode not in ("honest", "paper"):
        raise InputError(f"table: --mode must be honest or paper, got '{mode}'.")
    groups: dict[tuple[str, str, str, str], list[dict[str, float]]] = {}
    for path in summaries:
        try:
            info = json.loads(Path(path).read_text())
            key = (info["method"], info["labeled"], info.get("perturbation", ""), info.get("framework", ""))
            mean = {m: info[mode]["mean"][m] for m in METRICS}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(
                f"table: '{path}' is not an evaluation summary.json ({type(e).__name__}: {str(e)[:80]}); give the "
                "summary.json files that evaluate writes, or run folders."
            ) from None
        groups.setdefault(key, []).append(mean)
    lines = [f"# {title}", ""] if title else []
    lines += [
        "| Method | Labeled | Runs | DSC (%) | Jaccard (%) | 95HD | ASD | Perturbation | Framework |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (method, labeled, perturbation, framework), runs in groups.items():
        cells = []
        for m in METRICS:
            values = [r[m] for r in runs if r[m] is not None and not math.isnan(r[m])]
            mean = float(np.mean(values)) if values else math.nan
            std = float(np.std(values, ddof=1)) if len(values) > 1 else None
            cells.append(_fmt(mean, std))
        lines.append(
            f"| {method} | {labeled} | {len(runs)} | " + " | ".join(cells) + f" | {perturbation} | {framework} |"
        )
    return "\n".join(lines) + "\n"
