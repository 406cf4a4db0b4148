# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""One AdaMix-ST training step as users train it: the ACDC bundle on the real data, profiled by phase.

Usage (from the repository root; the data is ``$ADAMIX_DATA_DIR/ACDC`` or ``--dataset_dir``)::

    python benchmarks/bench_acdc_step.py [--sizes 128,256] [--iters 12] [--warmup 2] [--views workers|device]
        [--cache_rate 1.0] [--prob 0.5] [--paradigm self_training] [--mix adamix] [--fuse_forwards]
        [--skip_unused_passes] [--channels_last] [--fast_dropout] [--threads 2] [--reference floor,model]

Each size runs in its own process. The trainer is the bundle's own (``configs/train.json`` + ``configs/cpu.json``:
10% labels, batch 4 labeled + 4 unlabeled, the reference's exact step unless a speed option is given, no loader
workers, so data loading is part of the step), without validation, checkpoints or logs. For the timed iterations
it prints, per phase, the median seconds and the peak resident memory reached during the phase (Linux: the peak
is reset before each phase through ``/proc/self/clear_refs``), and the peak after startup (imports, cached datasets,
networks, before the first step):

* ``data``: the four streams' batches (loading or cache reads, the views, collation, the transfer);
* ``no-grad``: the no-grad passes (the reference's three groups);
* ``mix``: the patch plans and mixes of both streams (and the pseudo-labels, confidences, proxy losses);
* ``grad+opt``: the two gradient passes, the backward and the AdamW step;
* ``after``: the EMA teacher (MT), the AdaMix statistics;
* ``log``: the step's scalars.

Its last lines are ``size=<S> seconds=<median step> peak_gib=<process peak RSS>`` for each size, the numbers
compared with the reference code's in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("data", "no-grad", "mix", "grad+opt", "after", "log")
_METHODS = {
    "no-grad": "_no_grad_logits",
    "grad+opt": "_update",
    "after": "_after_update",
    "log": "_step_log",
}


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    import torch
    from ignite.engine import Events
    from monai.bundle import ConfigParser
    from monai.utils import set_determinism

    torch.set_num_threads(args.threads)
    cfg = REPO / "bundles" / "adamix_acdc" / "configs"
    parser = ConfigParser()
    parser.read_config([str(cfg / "train.json"), str(cfg / "cpu.json")])
    overrides = {
        "image_size": [args.size, args.size],
        "labeled_fraction": 0.1,
        "paradigm": args.paradigm,
        "mix": args.mix,
        "mix_prob": args.prob,
        "views": args.views,
        "cache_rate": args.cache_rate,
        "fuse_forwards": args.fuse_forwards,
        "skip_unused_passes": args.skip_unused_passes,
        "fast_dropout": args.fast_dropout,
        "epoch_samples": (args.warmup + args.iters) * 4,
        "epochs": 1,
        "output_dir": "/tmp/bench_acdc_step",
        "train#handlers": [],
    }
    if args.dataset_dir:
        overrides["dataset_dir"] = args.dataset_dir
    for key, value in overrides.items():
        parser[key] = value
    set_determinism(seed=1)
    trainer = parser.get_parsed_content("train#trainer")
    if args.channels_last:
        trainer.channels_last = True
        for model in trainer._models():
            model.to(memory_format=torch.channels_last)
    startup_peak = _peak_mib()

    seconds: dict[str, list[float]] = {p: [] for p in PHASES}
    peaks: dict[str, float] = {p: 0.0 for p in PHASES}
    totals: list[float] = []
    current = {"phase_start": 0.0, "step_start": 0.0, "timing": False, "acc": {}}

    def timed(phase: str, fn):
        def run(*a, **k):
            _reset_peak()
            t = time.perf_counter()
            out = fn(*a, **k)
            if current["timing"]:
                current["acc"][phase] = current["acc"].get(phase, 0.0) + time.perf_counter() - t
                peaks[phase] = max(peaks[phase], _peak_mib())
            return out

        return run

    # data: the engine's own fetch of the labeled batch, then the streams' draws and the views inside the step
    trainer._draw_batches = timed("data", trainer._draw_batches)
    for phase, name in _METHODS.items():
        setattr(trainer, name, timed(phase, getattr(trainer, name)))
    mix_one = trainer._mix_for_student
    trainer._mix_for_student = timed("mix", mix_one)

    def get_batch_started(engine):
        current["timing"] = engine.state.iteration >= args.warmup
        current["acc"] = {}
        current["step_start"] = time.perf_counter()
        _reset_peak()
        current["phase_start"] = time.perf_counter()

    def get_batch_completed(engine):
        if current["timing"]:
            current["acc"]["data"] = current["acc"].get("data", 0.0) + time.perf_counter() - current["phase_start"]
            peaks["data"] = max(peaks["data"], _peak_mib())

    def iteration_completed(engine):
        if current["timing"]:
            totals.append(time.perf_counter() - current["step_start"])
            for phase in PHASES:
                seconds[phase].append(current["acc"].get(phase, 0.0))

    trainer.add_event_handler(Events.GET_BATCH_STARTED, get_batch_started)
    trainer.add_event_handler(Events.GET_BATCH_COMPLETED, get_batch_completed)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, iteration_completed)
    reference_times: dict[str, list[float]] = {}
    if args.reference:
        from reference_model import ReferenceModelStep, network_floor

        models = {"floor": lambda: network_floor(args.size), "model": lambda: ReferenceModelStep(
            Path(parser.get_parsed_content("dataset_dir")), args.size)}  # fmt: skip
        references = {name: models[name]() for name in args.reference.split(",")}
        reference_times = {name: [] for name in references}

        def references_after_step(engine):  # after iteration_completed: outside the step's timing
            for name, step in references.items():
                t = time.perf_counter()
                step()
                if current["timing"]:
                    reference_times[name].append(time.perf_counter() - t)

        trainer.add_event_handler(Events.ITERATION_COMPLETED, references_after_step)
    trainer.run()
    print(
        json.dumps(
            {
                "size": args.size,
                "seconds": statistics.median(totals),
                "phases": {p: statistics.median(v) if v else 0.0 for p, v in seconds.items()},
                "phase_peak_mib": peaks,
                "startup_peak_mib": startup_peak,
                "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                "iterations": len(totals),
                "reference_seconds": {k: statistics.median(v) for k, v in reference_times.items() if v},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--views", default="workers", choices=("workers", "device"))
    parser.add_argument("--cache_rate", type=float, default=1.0)
    parser.add_argument("--prob", type=float, default=0.5)
    parser.add_argument("--paradigm", default="self_training")
    parser.add_argument("--mix", default="adamix")
    parser.add_argument("--fuse_forwards", action="store_true")
    parser.add_argument("--skip_unused_passes", action="store_true")
    parser.add_argument("--channels_last", action="store_true")
    parser.add_argument("--fast_dropout", action="store_true")
    parser.add_argument(
        "--reference",
        default="",
        help="after each step, time models of the reference code's step (benchmarks/reference_model.py), "
        "interleaved: 'floor' (its network work alone, a lower bound), 'model' (the whole step), or both "
        "('floor,model'); the memory columns then include them",
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--dataset_dir", default=None)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import torch

    print(
        f"# bench_acdc_step: torch {torch.__version__}, {args.threads} threads, {args.paradigm} + {args.mix}, "
        f"batch 4 + 4, views={args.views}, cache_rate={args.cache_rate}, prob={args.prob}, "
        f"fuse_forwards={args.fuse_forwards}, skip_unused_passes={args.skip_unused_passes}, "
        f"channels_last={args.channels_last}, fast_dropout={args.fast_dropout}, median of {args.iters} steps after {args.warmup}"
    )
    print("| size | " + " | ".join(f"{p} s" for p in PHASES) + " | step s | " + " | ".join(
        f"{p} peak MiB" for p in PHASES) + " | after startup MiB | process peak GiB |")  # fmt: skip
    print("|---" * (2 * len(PHASES) + 4) + "|")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", "--size", str(size)]
        for name in ("iters", "warmup", "views", "cache_rate", "prob", "paradigm", "mix", "threads", "reference"):
            cmd += [f"--{name}", str(getattr(args, name))]
        for flag in ("fuse_forwards", "skip_unused_passes", "channels_last", "fast_dropout"):
            if getattr(args, flag):
                cmd.append(f"--{flag}")
        if args.dataset_dir:
            cmd += ["--dataset_dir", args.dataset_dir]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
        if done.returncode != 0:
            print(f"| {size} | failed: {done.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(r)
        times = " | ".join(f"{r['phases'][p]:.3f}" for p in PHASES)
        mems = " | ".join(f"{r['phase_peak_mib'][p]:.0f}" for p in PHASES)
        startup = r["startup_peak_mib"]
        print(f"| {size} | {times} | {r['seconds']:.3f} | {mems} | {startup:.0f} | {r['peak_gib']:.2f} |", flush=True)
    for r in results:
        extra = "".join(
            f" reference_{name}_s={t:.3f} speedup_over_{name}={t / r['seconds']:.2f}"
            for name, t in r.get("reference_seconds", {}).items()
        )
        print(f"size={r['size']} seconds={r['seconds']:.3f} peak_gib={r['peak_gib']:.2f}{extra}")


if __name__ == "__main__":
    main()
