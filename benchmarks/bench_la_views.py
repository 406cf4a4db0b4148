# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""LA training views on real volumes: per volume in the loader (``views="workers"``) against the device path.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_la_views.py [--data ../shared/data/LA] [--cases 8] [--batch 4]
    python benchmarks/bench_la_views.py --device cuda            # the device rows on a GPU

Both paths start from volumes already read (the bundle's ``load_la_case``: z-scored, ``(1, D, H, W)``), so the
table times the views only. ``workers``: the whole :func:`~adamix_monai.data.views_3d.weak_strong_views_3d` per
volume (the bundle's settings: rotation and flip, pad, 80 x 112 x 112 crop, then the strong view's gamma and blur). ``device``: the
loader's part (``views="device"``: the geometry only, per volume, on the CPU) and then
:class:`~adamix_monai.data.device_views.BatchViews3d` on batches of ``--batch`` cropped volumes on ``--device``
(gamma and blur), with the time of the batch's transfer included. Each path runs every case twice (one warm-up
pass) and reports samples per second; the device path also reports its loader share and its device share. When
the LA folder is absent it says so and exits without error.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("ADAMIX_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "LA"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not (args.data / "train.list").is_file():
        print(f"LA data not found at {args.data}: nothing to measure.")
        return

    import torch

    from adamix_monai.data.device_views import BatchViews3d
    from adamix_monai.data.io import load_la_case
    from adamix_monai.data.sources import LA
    from adamix_monai.data.views_3d import weak_strong_views_3d

    la = LA(args.data)
    load = load_la_case(keys=["image", "label"])
    cases = la.training_cases()[: args.cases]
    volumes = [load({"image": la.case_path(c), "label": la.case_path(c)}) for c in cases]
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    workers = weak_strong_views_3d(label_values=None)  # as the bundle: the labels were checked when read
    loader_part = weak_strong_views_3d(label_values=None, views="device")
    on_device = BatchViews3d(seed=0)
    workers.set_random_state(seed=0)
    loader_part.set_random_state(seed=0)

    def copy(v: dict) -> dict:
        return {"image": v["image"].clone(), "label": v["label"].clone()}

    rows = []
    for repeat in range(args.repeats):
        t0 = time.perf_counter()
        for v in volumes:
            workers(copy(v))
        t_workers = time.perf_counter() - t0

        t_loader = t_device = 0.0
        for start in range(0, len(volumes), args.batch):
            t0 = time.perf_counter()
            items = [loader_part(copy(v)) for v in volumes[start : start + args.batch]]
            batch = torch.stack([torch.as_tensor(i["image"]).as_subclass(torch.Tensor) for i in items])
            t_loader += time.perf_counter() - t0
            t0 = time.perf_counter()
            on_device({"image": batch.to(device)}, stream=0, position=start)
            sync()
            t_device += time.perf_counter() - t0
        if repeat:  # the first pass warms up allocators and kernels
            rows.append((t_workers, t_loader, t_device))

    n = len(volumes)
    threads = torch.get_num_threads()
    print(f"LA views, {n} real training cases, batch {args.batch}, device {device}, {threads} thread(s)")
    print("| path | s / sample | samples/s | loader s / sample | device s / sample |")
    print("|---|---|---|---|---|")
    for t_workers, t_loader, t_device in rows:
        print(f"| workers | {t_workers / n:.3f} | {n / t_workers:.1f} | {t_workers / n:.3f} | - |")
        total = t_loader + t_device
        print(f"| device | {total / n:.3f} | {n / total:.1f} | {t_loader / n:.3f} | {t_device / n:.3f} |")


if __name__ == "__main__":
    main()
