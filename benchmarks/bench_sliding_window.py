# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Sliding-window evaluation of one real LA volume with the paper's V-Net: windows, seconds, peak memory.

Usage::

    python benchmarks/bench_sliding_window.py [--data ../shared/data/LA] [--first 5]
        [--strides 4,18,18 40,56,56] [--sw-batch 1,4] [--device cpu|cuda]

The case is the largest (by voxels) of the first ``--first`` ids of ``test.list``, read as the bundle reads it
(``LoadH5d`` then ``Transposed`` to (D, H, W)). An untrained :class:`~adamix_monai.networks.vnet.AdaMixVNet` (seed
0, eval mode) runs under MONAI's ``SlidingWindowInferer(roi_size=(80, 112, 112), mode="constant")`` on the softmax,
with the overlap from :func:`~adamix_monai.sliding_window.sliding_window_overlap` so that the window moves by the
given strides (the paper: 4 along D, 18 along H and W). Each (strides, sw_batch_size) runs in its own subprocess;
the table gives the windows MONAI ran (counted at the network) and the reference's count
``prod(ceil((size - roi) / stride) + 1)``, the seconds of one inference, and the process's peak resident set
(CPU) or peak allocated memory (CUDA). When the LA folder is absent it says so and exits without error.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROI = (80, 112, 112)
DEFAULT_DATA = Path(os.environ.get("ADAMIX_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "LA"


def pick_case(root: Path, first: int) -> tuple[str, str, tuple[int, ...]]:
    """The largest of the first ``first`` test cases: ``(id, path, (D, H, W))``."""
    import h5py

    from adamix_monai.data.sources import LA

    la = LA(root)
    best = None
    for case in la.test_cases()[:first]:
        path = la.case_path(case)
        with h5py.File(path, "r") as f:
            w, h, d = f["image"].shape
        if best is None or d * h * w > best[2][0] * best[2][1] * best[2][2]:
            best = (case, path, (d, h, w))
    assert best is not None
    return best


def child(args: argparse.Namespace) -> None:
    import torch
    from monai.inferers import SlidingWindowInferer
    from monai.transforms import Compose, Transposed

    from adamix_monai.data.io import LoadH5d
    from adamix_monai.networks.vnet import AdaMixVNet
    from adamix_monai.sliding_window import sliding_window_overlap

    device = torch.device(args.device)
    reader = Compose([LoadH5d(keys=["image"]), Transposed(keys=["image"], indices=(0, 3, 2, 1))])
    image = torch.as_tensor(reader({"image": args.case_path})["image"]).as_subclass(torch.Tensor)[None].to(device)
    torch.manual_seed(0)
    net = AdaMixVNet().to(device).eval()
    calls = [0]

    def softmax_net(x: torch.Tensor) -> torch.Tensor:
        calls[0] += x.shape[0]
        return torch.softmax(net(x), dim=1)

    strides = tuple(int(s) for s in args.stride.split(","))
    inferer = SlidingWindowInferer(
        roi_size=ROI, sw_batch_size=args.sw, overlap=sliding_window_overlap(ROI, strides), mode="constant"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        start = time.perf_counter()
        out = inferer(image, softmax_net)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    assert out.shape == (1, 2, *image.shape[2:])
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(json.dumps({"windows": calls[0], "seconds": seconds, "peak_mb": peak_mb, "growth_mb": growth}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the LA folder (UA-MT layout)")
    parser.add_argument("--first", type=int, default=5, help="pick the largest of the first N test cases")
    parser.add_argument("--strides", nargs="+", default=["4,18,18", "40,56,56"], help="D,H,W steps, one per row")
    parser.add_argument("--sw-batch", default="1,4", help="sw_batch_size values")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case-path", help=argparse.SUPPRESS)
    parser.add_argument("--stride", help=argparse.SUPPRESS)
    parser.add_argument("--sw", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not (args.data / "2018LA_Seg_Training Set").is_dir():
        print(f"bench_sliding_window: no LA data at {args.data} (give --data or set ADAMIX_DATA_DIR); skipped.")
        return
    import torch

    from adamix_monai.sliding_window import sliding_window_count, sliding_window_overlap

    case, path, shape = pick_case(args.data, args.first)
    print(
        f"# bench_sliding_window: torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
        f"untrained AdaMixVNet (9.45M parameters), roi {'x'.join(map(str, ROI))}, mode constant, softmax averaged; "
        f"case {case} = largest of the first {args.first} test cases"
    )
    print("| case | shape (D,H,W) | strides | overlap | windows (reference) | sw_batch_size | seconds | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for stride in args.strides:
        steps = tuple(int(s) for s in stride.split(","))
        overlap = ", ".join(f"{o:.4f}" for o in sliding_window_overlap(ROI, steps))
        expected = sliding_window_count(shape, ROI, steps)
        for sw in args.sw_batch.split(","):
            cmd = [sys.executable, __file__, "--child", "--case-path", path]
            cmd += ["--stride", stride, "--sw", sw, "--device", args.device]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {case} | {shape} | {stride} | {overlap} | | {sw} | failed: {done.stderr.strip()[-200:]} | |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"| {case} | {'x'.join(map(str, shape))} | {stride.replace(',', ', ')} | {overlap} | "
                f"{r['windows']} ({expected}) | {sw} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
