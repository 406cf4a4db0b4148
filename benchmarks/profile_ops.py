# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Where the time of the AdaMix-ST step's network work goes, operator by operator (``torch.profiler``).

Usage (from the repository root)::

    python benchmarks/profile_ops.py [--size 128] [--batch 4] [--threads 2] [--rows 12]

The step's network work as the trainer runs it (the paper's U-Net in train mode, the reference's three no-grad
groups over 2B, 2B and B images, two gradient passes over B images, backpropagated pass by pass, AdamW), profiled
once after three warm-up steps, in two configurations:

* ``nn.Dropout, contiguous``: the default's layers and memory format;
* ``FastDropout, channels_last``: the trainer's ``fast_dropout`` and ``channels_last`` options.

For each it prints the median step time over ``--iters`` steps and the operators with the most self CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

from adamix_monai.networks import AdaMixUNet, use_fast_dropout


def make_step(size: int, batch: int, fast: bool):
    fmt = torch.channels_last if fast else torch.contiguous_format
    torch.manual_seed(0)
    net = AdaMixUNet(2, 1, 4).train().to(memory_format=fmt)
    if fast:
        use_fast_dropout(net)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, foreach=True)
    gen = torch.Generator().manual_seed(0)
    xs = [torch.rand(n, 1, size, size, generator=gen).contiguous(memory_format=fmt) for n in (2 * batch, 2 * batch,
          batch, batch, batch)]  # fmt: skip

    def step() -> None:
        with torch.no_grad():
            for x in xs[:3]:
                net(x)
        opt.zero_grad(set_to_none=True)
        for x in xs[3:]:
            (net(x).logsumexp(1).mean() / 2).backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# profile_ops: torch {torch.__version__}, {args.threads} threads, {args.size}x{args.size}, "
          f"batch {args.batch} + {args.batch}")  # fmt: skip
    for title, fast in (("nn.Dropout, contiguous", False), ("FastDropout, channels_last", True)):
        step = make_step(args.size, args.batch, fast)
        for _ in range(3):
            step()
        times = []
        for _ in range(args.iters):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        print(f"\n## {title}: median step {statistics.median(times):.3f} s; profiled step {total / 1e6:.3f} s")
        print("| operator | calls | self ms | share |")
        print("|---|---|---|---|")
        for e in events[: args.rows]:
            print(f"| {e.key} | {e.count} | {e.self_cpu_time_total / 1e3:.1f} | {e.self_cpu_time_total / total:.1%} |")


if __name__ == "__main__":
    main()
