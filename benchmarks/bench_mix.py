# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Time AdaMixd against a per-image unfold/fold loop (as the reference code) and a CutMix-style blend.

Usage::

    python benchmarks/bench_mix.py [--repeats 20] [--device cpu|cuda] [--threads N]

Each case mixes three tensors (image float32, label int64, confidence float32) of one batch with an auxiliary
batch. Rows:

* ``adamixd``: :class:`adamix_monai.transforms.AdaMixd` (``prob=1``), self-paced plan included (patch scores,
  ranks, n per image), with per-image proxy losses that make most images mix close to K patches;
* ``adamixd_k``: the same with n = K for every image (mode ``iumix``), the most copying AdaMix can do;
* ``loop``: the reference's algorithm, a Python loop over images: unfold the three tensors, copy the ranked
  patches one by one, fold back;
* ``blend``: ``torch.where`` with a precomputed full mask over the three tensors (what a CutMix mix costs, mask
  generation excluded).

The last line reports the 2D figures: ``speedup_vs_loop=<loop / adamixd> blend_ratio=<adamixd / blend>``.

Allocator: every row allocates fresh outputs of 4-32 MB. Whether glibc serves them from memory it kept or from
fresh pages (a page fault per 4 KiB on first touch) depends on the process's allocation history, which moved
single rows by up to 2x between otherwise identical runs. The benchmark therefore re-runs itself with
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<large>`` (freed memory is reused, as PyTorch's CUDA caching
allocator does on a GPU), the same for every row; ``--raw-malloc`` keeps the default allocator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from adamix_monai.transforms import AdaMixd

CASES = {
    "2D": dict(batch=16, spatial=(256, 256), grid=(8, 8)),
    "3D": dict(batch=4, spatial=(80, 112, 112), grid=(4, 4, 4)),
}
TOPK = 16


def make_inputs(batch: int, spatial: tuple[int, ...], device: torch.device) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    d = {}
    for suffix in ("", "_aux"):
        d["image" + suffix] = torch.rand(batch, 1, *spatial, generator=gen).to(device)
        d["label" + suffix] = torch.randint(0, 4, (batch, 1, *spatial), generator=gen).to(device)
        d["confidence" + suffix] = torch.rand(batch, 1, *spatial, generator=gen).to(device)
    d["proxy_loss"] = torch.linspace(0.0, 0.1, batch).to(device)  # at age 1: n = 14..16, hard
    return d


# ---------------------------------------------------------------------------------------------------------
# baseline (a): per-image loop with unfold/fold, the way the released code mixes (written here for timing)
def _unfold(x: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """(C, *spatial) -> (C * prod(patch), L) columns, like nn.Unfold with kernel = stride = patch."""
    if len(grid) == 2:
        size = tuple(s // g for s, g in zip(x.shape[1:], grid))
        return F.unfold(x.unsqueeze(0).float(), kernel_size=size, stride=size)[0]
    c = x.shape[0]
    size = [s // g for s, g in zip(x.shape[1:], grid)]
    cols = x.float().unfold(1, size[0], size[0]).unfold(2, size[1], size[1]).unfold(3, size[2], size[2])
    return cols.permute(0, 4, 5, 6, 1, 2, 3).reshape(c * size[0] * size[1] * size[2], -1)


def _fold(cols: torch.Tensor, c: int, spatial: tuple[int, ...], grid: tuple[int, ...]) -> torch.Tensor:
    size = tuple(s // g for s, g in zip(spatial, grid))
    if len(grid) == 2:
        return F.fold(cols.unsqueeze(0), output_size=spatial, kernel_size=size, stride=size)[0]
    x = cols.reshape(c, *size, *grid).permute(0, 4, 1, 5, 2, 6, 3)
    return x.reshape(c, *spatial)


def loop_mix(d: dict[str, torch.Tensor], grid: tuple[int, ...], age: float = 1.0) -> list[torch.Tensor]:
    outs = [d[k].clone() for k in ("image", "label", "confidence")]
    spatial = tuple(d["image"].shape[2:])
    for i in range(d["image"].shape[0]):
        loss = float(d["proxy_loss"][i])
        hard = loss < age
        n = min(TOPK, abs(int(TOPK * (1 - loss / (age + 1e-5)))))
        so = _unfold(d["confidence"][i], grid).mean(0)
        sa = _unfold(d["confidence_aux"][i], grid).mean(0)
        o_idx = torch.argsort(so, descending=hard)
        a_idx = torch.argsort(sa, descending=not hard)
        for j, key in enumerate(("image", "label", "confidence")):
            cols = _unfold(d[key][i], grid)
            aux_cols = _unfold(d[key + "_aux"][i], grid)
            for k in range(n):
                cols[:, o_idx[k]] = aux_cols[:, a_idx[k]]
            outs[j][i] = _fold(cols, d[key].shape[1], spatial, grid).to(outs[j].dtype)
    return outs


# baseline (b): a CutMix-style blend over the same three tensors
def blend_mix(d: dict[str, torch.Tensor], mask: torch.Tensor) -> list[torch.Tensor]:
    return [torch.where(mask, d[k + "_aux"], d[k]) for k in ("image", "label", "confidence")]


# ---------------------------------------------------------------------------------------------------------
def timeit_many(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 5
) -> dict[str, float]:
    """Median wall time in milliseconds of each function, measured round-robin so drift hits all alike."""

    def once(fn: Callable[[], object]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1e3

    for fn in fns.values():
        for _ in range(warmup):
            once(fn)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(once(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def check_equal(d: dict[str, torch.Tensor], grid: tuple[int, ...]) -> bool:
    """The loop baseline and AdaMixd agree (sanity check of the benchmark itself)."""
    mix = AdaMixd(keys=["image", "label"], grid=grid, topk=TOPK, prob=1.0)
    mix.set_age(1.0)
    out = mix(d)
    ref = loop_mix(d, grid)
    return all(torch.equal(out[k], r) for k, r in zip(("image", "label", "confidence"), ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--raw-malloc", action="store_true", help="keep glibc's default allocator settings")
    args = parser.parse_args()
    if not args.raw_malloc and os.environ.get("MALLOC_MMAP_MAX_") != "0":
        env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(1 << 40))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# bench_mix: torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"median of {args.repeats} calls, 3 tensors mixed (image f32, label i64, confidence f32), K={TOPK}, "
        f"malloc {'default' if args.raw_malloc else 'MALLOC_MMAP_MAX_=0'}"
    )
    print(
        "| case | shape | grid | adamixd ms | adamixd_k ms | loop ms | blend ms "
        "| speedup_vs_loop | blend_ratio | equal |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    figures = {}
    for name, case in CASES.items():
        d = make_inputs(case["batch"], case["spatial"], device)
        grid = case["grid"]
        ada = AdaMixd(keys=["image", "label"], grid=grid, topk=TOPK, prob=1.0)
        ada.set_age(1.0)
        ada_k = AdaMixd(keys=["image", "label"], mode="iumix", grid=grid, topk=TOPK, prob=1.0)
        gen = torch.Generator().manual_seed(1)
        mask = (torch.rand(case["batch"], 1, *case["spatial"], generator=gen) < 0.3).to(device)
        t = timeit_many(
            {"ada": lambda: ada(d), "ada_k": lambda: ada_k(d), "blend": lambda: blend_mix(d, mask)},
            args.repeats,
            device,
        )
        t_ada, t_ada_k, t_blend = t["ada"], t["ada_k"], t["blend"]
        t_loop = timeit_many({"loop": lambda: loop_mix(d, grid)}, max(3, args.repeats // 4), device, warmup=1)["loop"]
        equal = check_equal(d, grid)
        shape = f"{case['batch']}x1x{'x'.join(map(str, case['spatial']))}"
        speedup, ratio = t_loop / t_ada, t_ada / t_blend
        figures[name] = (speedup, ratio)
        print(
            f"| {name} | {shape} | {'x'.join(map(str, grid))} | {t_ada:.2f} | {t_ada_k:.2f} | {t_loop:.2f} | "
            f"{t_blend:.2f} | {speedup:.1f}x | {ratio:.2f} | {equal} |"
        )
    speedup, ratio = figures["2D"]
    print(f"speedup_vs_loop={speedup:.1f} blend_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
