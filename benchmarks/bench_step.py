# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-iteration time and peak memory of SemiSupervisedTrainer, for each paradigm x mix.

Usage::

    python benchmarks/bench_step.py [--size 128] [--batch 4] [--iters 6] [--device cpu|cuda] [--amp]
        [--paradigms self_training,...] [--mixes none,cutmix,adamix]

Each (paradigm, mix) runs in its own subprocess (so its peak memory is its own): the paper's U-Net (channels
16..256, encoder dropout), B labeled + B unlabeled images of 1 x size x size (synthetic cardiac phantoms with a
weak and a strong view), the mix fired with probability ``--prob`` per batch (0.5 as the paper; ``--prob 1``
pays the mix every time), AdamW. After 2 warm-up iterations, ``--iters`` iterations are timed; the table gives the
mean seconds per iteration (a mean, since with ``prob < 1`` iterations with and without a mix alternate)
and the peak memory (CPU: the process's peak resident set minus its size before training; CUDA: peak allocated).
Then ``adamix_over_cutmix=<AdaMix-ST time / CutMix-ST time>``; when the ACDC data is present
(``$ADAMIX_DATA_DIR/ACDC``), ``bench_acdc_step.py`` runs for the real AdaMix-ST step at ``--real-sizes`` (default
128,256; ``--real-sizes ""`` skips them), first the reference-exact default, then the same step with the speed
options (``--views device --channels_last --fast_dropout``), so the last lines are ``size=<S> seconds=<median step>
peak_gib=<process peak RSS>`` of the latter: the numbers compared with the reference code's throughput and memory.

3D (LA) rows::

    python benchmarks/bench_step.py --dims 3 --shape 64,112,112 --batch 2 [--grid 4] [--warmup 1] [--iters 2]
        [--paradigms self_training] [--mixes adamix] [--prob 1]

use the paper's V-Net (:class:`~adamix_monai.networks.vnet.AdaMixVNet`, 16..256 channels), 2 classes, the Dice-only
loss of LA, AdaMix with a ``grid`` of 4 patches per side, and B labeled + B unlabeled synthetic volumes (a noisy
ellipsoid in a larger volume) through the LA views (:func:`~adamix_monai.data.views_3d.weak_strong_views_3d`:
rot/flip, crop to ``--shape``, gamma, blur).
"""

from __future__ import annotations

import argparse
import inspect
import json
import resource
import statistics
import subprocess
import sys
import time

PARADIGMS = ["supervised", "self_training", "mean_teacher", "co_training"]
MIXES = ["none", "cutmix", "adamix"]


def _mix_arguments(trainer_class: type, mode: str, **settings: object) -> dict[str, object]:
    """The trainer's mix arguments: one configured AdaMix, or (trainers before it took one, for same-run
    comparisons with an older checkout on PYTHONPATH) the mode and the settings as separate arguments."""
    if "grid" in inspect.signature(trainer_class).parameters:
        return dict(mix=mode, **settings)
    from adamix_monai.transforms import AdaMix

    return dict(mix=AdaMix(mode=mode, **settings))


def _volumes(count: int, shape: tuple[int, ...], seed: int):
    """Synthetic LA-like volumes, a little larger than ``shape``: a noisy z-scored ellipsoid and its label."""
    import torch

    g = torch.Generator().manual_seed(seed)
    size = (shape[0] + 8, shape[1] + 16, shape[2] + 16)
    axes = torch.meshgrid(*[torch.linspace(-1, 1, s) for s in size], indexing="ij")
    items = []
    for _ in range(count):
        centre = (torch.rand(3, generator=g) - 0.5) * 0.4
        radii = 0.3 + 0.3 * torch.rand(3, generator=g)
        inside = sum(((a - c) / r) ** 2 for a, c, r in zip(axes, centre, radii)) <= 1
        image = inside.float() + 0.3 * torch.randn(size, generator=g)
        image = (image - image.mean()) / image.std()
        items.append((image[None], inside.long()[None]))
    return items


def child(args: argparse.Namespace) -> None:
    import torch
    from ignite.engine import Events
    from monai.data import Dataset
    from monai.transforms import Compose, CopyItemsd, RandFlipd, RandScaleIntensityd

    from adamix_monai.data import make_loader
    from adamix_monai.engines import SemiSupervisedTrainer
    from adamix_monai.losses import MaskedDiceCELoss
    from adamix_monai.networks import AdaMixUNet
    from adamix_monai.synthetic import cardiac_phantom

    torch.manual_seed(0)
    device = torch.device(args.device)
    three_d = args.dims == 3
    if three_d:
        from adamix_monai.data.views_3d import weak_strong_views_3d
        from adamix_monai.networks.vnet import AdaMixVNet

        shape = tuple(int(s) for s in args.shape.split(","))
        volumes = _volumes(4 * args.batch, shape, seed=0)
        image, label = [v[0] for v in volumes], [v[1] for v in volumes]
    else:
        image, label = cardiac_phantom(4 * args.batch, args.size, seed=0)

    def dataset(labeled: bool) -> Dataset:
        keys = ["image", "image_strong", "label"] if labeled else ["image", "image_strong"]
        items = [{"image": image[i], "label": label[i]} if labeled else {"image": image[i]} for i in range(len(image))]
        if three_d:
            return Dataset(
                items, transform=weak_strong_views_3d(label_key="label" if labeled else None, roi_size=shape)
            )
        views = Compose(
            [
                CopyItemsd(keys="image", names="image_strong"),
                RandFlipd(keys=keys, prob=0.5, spatial_axis=-1),
                RandScaleIntensityd(keys="image_strong", factors=0.3, prob=0.8),
            ]
        )
        return Dataset(items, transform=views)

    def net() -> torch.nn.Module:
        return (AdaMixVNet(1, 2) if three_d else AdaMixUNet(2, 1, 4)).to(device)

    network = net()
    extra = {}
    if args.paradigm == "co_training":
        network2 = net()
        extra = dict(network2=network2, optimizer2=torch.optim.AdamW(network2.parameters(), 1e-4))
    total = args.warmup + args.iters
    trainer = SemiSupervisedTrainer(
        device=device,
        max_epochs=1,
        epoch_length=total,
        train_data_loader=make_loader(dataset(True), args.batch, seed=0, num_samples=total * args.batch),
        network=network,
        optimizer=torch.optim.AdamW(network.parameters(), 1e-4),
        loss_function=MaskedDiceCELoss(1.0 if three_d else 0.5),  # LA: Dice only
        num_classes=2 if three_d else 4,
        paradigm=args.paradigm,
        **_mix_arguments(SemiSupervisedTrainer, args.mix, prob=args.prob, grid=args.grid or (4 if three_d else 8), topk=16),
        amp=args.amp,
        channels_last=args.channels_last,
        fast_dropout=args.fast_dropout,
        fuse_forwards=args.fuse_forwards,
        skip_unused_passes=args.skip_unused_passes,
        unlabeled_data_loader=None
        if args.paradigm == "supervised"
        else make_loader(dataset(False), args.batch, seed=0, stream=2),
        **extra,
    )
    times: list[float] = []
    start = [0.0]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    trainer.add_event_handler(Events.ITERATION_STARTED, lambda e: (sync(), start.__setitem__(0, time.perf_counter())))
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: (sync(), times.append(time.perf_counter() - start[0]))
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.run()
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    timed = times[args.warmup :]
    print(json.dumps({"seconds": statistics.mean(timed), "max_seconds": max(timed), "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--dims", type=int, default=2, choices=(2, 3), help="2: U-Net on phantoms; 3: V-Net (LA)")
    parser.add_argument("--shape", default="80,112,112", help="3D crop D,H,W (sides divisible by 16 and --grid)")
    parser.add_argument("--grid", type=int, default=0, help="AdaMix patches per side (default 8 in 2D, 4 in 3D)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--prob", type=float, default=0.5, help="mix probability per batch (0.5 as the paper)")
    parser.add_argument("--channels-last", action="store_true", help="SemiSupervisedTrainer(channels_last=True)")
    parser.add_argument("--fast-dropout", action="store_true", help="SemiSupervisedTrainer(fast_dropout=True)")
    parser.add_argument("--fuse-forwards", action="store_true", help="speed option: one no-grad forward per model")
    parser.add_argument(
        "--skip-unused-passes", action="store_true", help="speed option: skip no-grad views nothing reads"
    )
    parser.add_argument("--real-sizes", default="128,256", help="real ACDC AdaMix-ST rows last ('' to skip)")
    parser.add_argument("--paradigms", default=",".join(PARADIGMS))
    parser.add_argument("--mixes", default=",".join(MIXES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paradigm", help=argparse.SUPPRESS)
    parser.add_argument("--mix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import torch

    if args.dims == 3:
        model = f"AdaMixVNet 16..256, grid {args.grid or 4}, 1x{args.shape.replace(',', 'x')}"
    else:
        model = f"AdaMixUNet 16..256, grid {args.grid or 8}, 1x{args.size}x{args.size}"
    print(
        f"# bench_step: torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
        f"{model}, B={args.batch} labeled + {args.batch} unlabeled, "
        f"amp={args.amp}, channels_last={args.channels_last}, fast_dropout={args.fast_dropout}, prob={args.prob}, "
        f"fuse_forwards={args.fuse_forwards}, skip_unused_passes={args.skip_unused_passes}, "
        f"mean of {args.iters} iterations after {args.warmup} warm-up"
    )
    slowest = args.dims == 3  # 3D: few, long iterations; also show the slowest
    print("| paradigm | mix | s / iteration |" + (" max s |" if slowest else "") + " peak memory MB |")
    print("|---|---|---|" + ("---|" if slowest else "") + "---|")
    results = {}
    for paradigm in args.paradigms.split(","):
        for mix in args.mixes.split(","):
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--paradigm",
                paradigm,
                "--mix",
                mix,
                "--size",
                str(args.size),
                "--dims",
                str(args.dims),
                "--shape",
                args.shape,
                "--grid",
                str(args.grid),
                "--batch",
                str(args.batch),
                "--warmup",
                str(args.warmup),
                "--iters",
                str(args.iters),
                "--device",
                args.device,
                "--prob",
                str(args.prob),
            ]
            if args.amp:
                cmd.append("--amp")
            if args.channels_last:
                cmd.append("--channels-last")
            if args.fast_dropout:
                cmd.append("--fast-dropout")
            if args.fuse_forwards:
                cmd.append("--fuse-forwards")
            if args.skip_unused_passes:
                cmd.append("--skip-unused-passes")
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {paradigm} | {mix} | failed: {done.stderr.strip().splitlines()[-1]} | |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            results[(paradigm, mix)] = r
            extra = f" {r['max_seconds']:.3f} |" if slowest else ""
            print(f"| {paradigm} | {mix} | {r['seconds']:.3f} |{extra} {r['peak_mb']:.0f} |", flush=True)
    if ("self_training", "adamix") in results and ("self_training", "cutmix") in results:
        ratio = results[("self_training", "adamix")]["seconds"] / results[("self_training", "cutmix")]["seconds"]
        print(f"adamix_over_cutmix={ratio:.2f}")
    _real_rows(args)


#: The speed options of the real rows' second run (the reference-exact step, made faster where users train).
SPEED_OPTIONS = ("--views", "device", "--channels_last", "--fast_dropout")


def _real_rows(args: argparse.Namespace) -> None:
    """The real ACDC AdaMix-ST step (``bench_acdc_step.py``) at ``--real-sizes``: the reference-exact default, then
    the same step with :data:`SPEED_OPTIONS`, whose ``size=<S> seconds=... peak_gib=...`` lines come last."""
    import os
    from pathlib import Path

    data = Path(os.environ.get("ADAMIX_DATA_DIR", "")) / "ACDC"
    if not args.real_sizes or args.dims != 2 or args.device != "cpu":
        return
    if not os.environ.get("ADAMIX_DATA_DIR") or not data.is_dir():
        print("# real ACDC rows skipped: set ADAMIX_DATA_DIR to the folder holding ACDC/")
        return
    script = str(Path(__file__).with_name("bench_acdc_step.py"))
    for title, options in (("the default step", ()), ("with " + " ".join(SPEED_OPTIONS), SPEED_OPTIONS)):
        print(f"# real ACDC AdaMix-ST, {title}")
        done = subprocess.run([sys.executable, script, "--sizes", args.real_sizes, *options], capture_output=True, text=True)
        print(done.stdout.strip() if done.returncode == 0 else f"# bench_acdc_step failed: {done.stderr[-500:]}")


if __name__ == "__main__":
    main()
