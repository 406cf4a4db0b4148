# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""``torch.compile`` of the paper's U-Net measured against eager execution, in the shape of one AdaMix-ST step.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_compile.py [--size 128] [--iters 6] [--device cpu]

Per variant (eager, compiled, each in the default and the channels-last memory format): a fresh
:class:`~adamix_monai.networks.AdaMixUNet` (1 input channel, 4 classes, train mode: dropout and BatchNorm batch
statistics as in the step), then ``--iters + 1`` iterations of a no-grad forward over 2B = 8 images (the step's
grouped no-grad passes) and a forward, backward and AdamW step over B = 4 images. The first iteration includes
the compilation and is reported apart; the median of the others is the steady state. ``nn.Module.compile`` is
used (in place: the state dict keeps its keys, so checkpoints are unchanged).
"""

from __future__ import annotations

import argparse
import time


def measure(net, size: int, iters: int, device, memory_format) -> tuple[float, float]:
    import torch

    opt = torch.optim.AdamW(net.parameters(), 1e-4)
    x = torch.randn(4, 1, size, size, device=device).contiguous(memory_format=memory_format)
    times = []
    for _ in range(iters + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            net(torch.randn(8, 1, size, size, device=device).contiguous(memory_format=memory_format))
        net(x).float().mean().backward()
        opt.step()
        opt.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    steady = sorted(times[1:])
    return times[0], steady[len(steady) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from adamix_monai.networks import AdaMixUNet

    device = torch.device(args.device)
    print(f"AdaMixUNet, {args.size}x{args.size}, device {device}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}")  # fmt: skip
    print("| variant | first iteration s | median s / iteration | vs eager |")
    print("|---|---|---|---|")
    eager = None
    for name, compiled, fmt in (
        ("eager", False, torch.contiguous_format),
        ("compiled", True, torch.contiguous_format),
        ("eager, channels_last", False, torch.channels_last),
        ("compiled, channels_last", True, torch.channels_last),
    ):
        torch.manual_seed(0)
        net = AdaMixUNet(in_channels=1, out_channels=4).to(device=device, memory_format=fmt).train()
        if compiled:
            net.compile()
        first, median = measure(net, args.size, args.iters, device, fmt)
        eager = median if eager is None else eager
        print(f"| {name} | {first:.1f} | {median:.3f} | {eager / median:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
