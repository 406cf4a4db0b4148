# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Study records: export a finished run's small result files, and tabulate a set of runs over seeds.

A *record* is what a reproduction study commits for each run (never weights, never machine paths):
``history.csv``, ``validation.csv``, ``test-<ckpt>-metrics.csv`` (per case and class), ``test-<ckpt>-summary.json``
for the last (``final``) and the best-on-validation (``best``) model, and ``provenance.json`` (the commit, the
command, the device, the threads, the iterations, the wall time).

``study_table`` reads a folder of records and prints mean ± std over seeds per method, the last checkpoint first
(the primary number) and best-on-validation second, and a paired per-case comparison of two methods with a
Wilcoxon signed-rank test. Used by ``bundles/adamix_acdc/docs/study_cpu.sh``::

    python -m adamix_monai.study export <run_dir> <record_dir> --command "..." --seconds 1234
    python -m adamix_monai.study table <records folder>
    python -m adamix_monai.study figure1 <records folder> --output fig1.png   # the paper's Fig. 1 (f-g)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adamix_monai.reporting import read_case_rows
from adamix_monai.utils import atomic_open

__all__ = ["case_dice", "export_run", "figure1", "paired_comparison", "study_table"]

CHECKPOINTS = ("final", "best")
_METRICS = ("dice", "jaccard", "hd95", "asd")


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() + ("+uncommitted-changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def export_run(
    run_dir: str | os.PathLike,
    record_dir: str | os.PathLike,
    command: str = "",
    seconds: float | None = None,
    commit: str | None = None,
) -> Path:
    """Copy a finished run's small result files into ``record_dir``, with machine paths removed.

    Args:
        run_dir: the run folder (``bundles/<b>/runs/<run>``) with ``eval-test-final`` and ``eval-test-best``.
        record_dir: where the record goes (created).
        command: the command that made the run (recorded in ``provenance.json``).
        seconds: wall time of training and evaluation.
        commit: the commit the run was trained on (recorded when it started); default: the checkout's now.

    Returns:
        ``record_dir``.

    Raises:
        FileNotFoundError: when the run lacks its history or an evaluation.
    """
    run, out = Path(run_dir), Path(record_dir)
    needed = [run / "history.csv", run / "validation.csv"] + [
        run / f"eval-test-{c}" / n for c in CHECKPOINTS for n in ("metrics.csv", "summary.json")
    ]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"export_run: '{run}' is not a finished, evaluated run; missing {', '.join(missing)}.")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("history.csv", "validation.csv"):
        shutil.copyfile(run / name, out / name)
    iterations = 0
    for ckpt in CHECKPOINTS:
        shutil.copyfile(run / f"eval-test-{ckpt}" / "metrics.csv", out / f"test-{ckpt}-metrics.csv")
        summary = json.loads((run / f"eval-test-{ckpt}" / "summary.json").read_text())
        details = summary.get("details", {})
        if "checkpoint" in details:
            details["checkpoint"] = Path(str(details["checkpoint"])).name
        with atomic_open(out / f"test-{ckpt}-summary.json") as f:
            f.write((json.dumps(summary, indent=2) + "\n").encode())
    for name in ("history.csv", "validation.csv"):  # the last iteration either file recorded
        rows = (run / name).read_text().splitlines()
        if len(rows) > 1:
            iterations = max(iterations, int(float(rows[-1].split(",")[0])))
    provenance = {
        "run": run.name,
        "commit": commit or _git_commit(),
        "command": command,
        "device": f"CPU: {_cpu_name()}, {os.cpu_count()} cores",
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "iterations": iterations,
        "wall_seconds": None if seconds is None else round(float(seconds)),
    }
    with atomic_open(out / "provenance.json") as f:
        f.write((json.dumps(provenance, indent=2) + "\n").encode())
    return out


def case_dice(metrics_csv: str | os.PathLike) -> dict[str, float]:
    """Per-case Dice (mean over the foreground classes, honest scoring) from a ``metrics.csv``."""
    per_case: dict[str, list[float]] = defaultdict(list)
    for row in read_case_rows(metrics_csv):
        per_case[row["case"]].append(float(row["dice"]))
    return {case: float(np.mean(values)) for case, values in per_case.items()}


def _records(folder: Path) -> dict[str, dict[int, Path]]:
    """method name -> seed -> record folder."""
    out: dict[str, dict[int, Path]] = defaultdict(dict)
    for summary in sorted(folder.glob("*/test-final-summary.json")):
        info = json.loads(summary.read_text())
        seed = int(info.get("details", {}).get("seed", 0))
        out[str(info["method"])][seed] = summary.parent
    return out


def paired_comparison(
    folder: str | os.PathLike, method: str, baseline: str, checkpoint: str = "final"
) -> dict[str, Any] | None:
    """Paired per-case comparison of two methods over the seeds both have.

    Each test case's Dice is averaged over those seeds for each method; the two are compared case by case with
    a two-sided Wilcoxon signed-rank test (scipy).

    Returns:
        ``{"seeds", "cases", "mean_difference", "wins", "p_value"}`` (Dice in %), or None when the two share no
        seed.
    """
    from scipy.stats import wilcoxon

    records = _records(Path(folder))
    seeds = sorted(set(records.get(method, {})) & set(records.get(baseline, {})))
    if not seeds:
        return None
    a = [case_dice(records[method][s] / f"test-{checkpoint}-metrics.csv") for s in seeds]
    b = [case_dice(records[baseline][s] / f"test-{checkpoint}-metrics.csv") for s in seeds]
    cases = sorted(set.intersection(*(set(d) for d in a + b)))
    x = np.array([np.mean([d[c] for d in a]) for c in cases]) * 100
    y = np.array([np.mean([d[c] for d in b]) for c in cases]) * 100
    diff = x - y
    p = float(wilcoxon(x, y).pvalue) if np.any(diff != 0) else 1.0
    return {
        "seeds": seeds,
        "cases": len(cases),
        "mean_difference": float(diff.mean()),
        "wins": int((diff > 0).sum()),
        "p_value": p,
    }


def seed_means(folder: str | os.PathLike, method: str, checkpoint: str = "final") -> dict[str, list[float]]:
    """Each recorded seed's test mean of every metric (Dice and Jaccard in %, honest scoring), in seed order, and
    the missed classes: ``{"seeds": [...], "dice": [...], "jaccard": [...], "hd95": [...], "asd": [...],
    "missed": [...]}`` (empty lists when the method has no record)."""
    by_seed = _records(Path(folder)).get(method, {})
    out: dict[str, list[float]] = {"seeds": [float(s) for s in sorted(by_seed)], "missed": []}
    for m in _METRICS:
        out[m] = []
    for seed in sorted(by_seed):
        info = json.loads((by_seed[seed] / f"test-{checkpoint}-summary.json").read_text())["honest"]
        for m in _METRICS:
            out[m].append(float(info["mean"][m]))
        out["missed"].append(float(info.get("missed", 0)))
    return out


def study_table(folder: str | os.PathLike, compare: Sequence[str] = ("AdaMix-ST", "FixMatch")) -> str:
    """A Markdown table of a folder of records: mean ± std over seeds of the per-run test means.

    Rows per method and checkpoint (``final`` first, the primary number); then the paired comparison of
    ``compare[0]`` against ``compare[1]`` for each checkpoint when both have runs.
    """
    records = _records(Path(folder))
    lines = [
        "| Method | model | seeds | DSC (%) | Jaccard (%) | 95HD | ASD | missed classes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ckpt in CHECKPOINTS:
        for method in records:
            values = seed_means(folder, method, ckpt)
            cells = []
            for m in _METRICS:
                v = np.array(values[m])
                cells.append(f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}")
            seeds = ",".join(str(int(s)) for s in values["seeds"])
            model = "last" if ckpt == "final" else "best on val"
            lines.append(f"| {method} | {model} | {seeds} | {' | '.join(cells)} | {int(sum(values['missed']))} |")
    out = "\n".join(lines)
    if len(compare) == 2:
        for ckpt in CHECKPOINTS:
            result = paired_comparison(folder, compare[0], compare[1], ckpt)
            if result is not None:
                out += (
                    f"\n\nPaired per case ({'last' if ckpt == 'final' else 'best-on-val'} model, seeds "
                    f"{','.join(map(str, result['seeds']))}, {result['cases']} test volumes, Dice averaged over "
                    f"those seeds): {compare[0]} - {compare[1]} = {result['mean_difference']:+.2f} Dice points, "
                    f"{compare[0]} higher on {result['wins']}/{result['cases']} cases, Wilcoxon signed-rank "
                    f"p = {result['p_value']:.3g}."
                )
    return out


#: The paper's Fig. 1 (f-g): self-training with each mix, legend name -> record method.
FIGURE1_METHODS = {"CutMix (FixMatch)": "FixMatch", "UMix": "UMix-ST", "I-UMix": "I-UMix-ST", "AdaMix": "AdaMix-ST"}


def figure1(folder: str | os.PathLike, output: str | os.PathLike, seed: int = 1, smooth: int = 25) -> list[str]:
    """The paper's Fig. 1 (f-g) from a folder of records: the unlabeled loss and the validation Dice over iterations
    of self-training with CutMix, UMix, I-UMix and AdaMix, one seed.

    Args:
        folder: the records folder.
        output: the PNG to write.
        seed: the seed whose runs are drawn.
        smooth: moving-average window of the unlabeled loss, in rows of ``history.csv``.

    Returns:
        The legend names drawn (methods without a record of that seed are left out).
    """
    from adamix_monai.visualize.plots import plot_method_comparison

    records = _records(Path(folder))
    runs = {name: records[m][seed] for name, m in FIGURE1_METHODS.items() if seed in records.get(m, {})}
    missing = [name for name in FIGURE1_METHODS if name not in runs]
    title = f"Self-training on ACDC 10%, seed {seed}" + (f" (no record yet: {', '.join(missing)})" if missing else "")
    plot_method_comparison(runs, output, title=title, smooth=smooth)
    return list(runs)


def main(argv: Sequence[str] | None = None) -> None:
    """``export RUN RECORD [--command C] [--seconds S] [--commit H]``, ``table RECORDS`` or ``figure1 RECORDS --output
    PNG [--seed N]``.

    Plain argparse, so that no value (a commit hash made of digits, a command) is reinterpreted.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m adamix_monai.study", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="copy a finished run's small result files into a record folder")
    export.add_argument("run_dir")
    export.add_argument("record_dir")
    export.add_argument("--command", default="")
    export.add_argument("--seconds", type=float, default=None)
    export.add_argument("--commit", default=None)
    table = sub.add_parser("table", help="mean ± std over seeds and the paired comparison of a records folder")
    table.add_argument("folder")
    fig = sub.add_parser("figure1", help="the paper's Fig. 1 (f-g): L_u and validation Dice of the four mixes")
    fig.add_argument("folder")
    fig.add_argument("--output", required=True)
    fig.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.action == "export":
        print(export_run(args.run_dir, args.record_dir, args.command, args.seconds, args.commit))
    elif args.action == "figure1":
        print(f"{args.output}: {', '.join(figure1(args.folder, args.output, args.seed))}")
    else:
        print(study_table(args.folder))


if __name__ == "__main__":
    main()
