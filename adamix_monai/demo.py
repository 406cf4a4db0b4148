# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A self-contained training demo: supervised vs AdaMix self-training on synthetic cardiac slices (no download).

It makes a small synthetic short-axis dataset (:func:`~adamix_monai.synthetic.cardiac_phantom`, with extra
variety in gamma, contrast, blur and noise), splits it into a few labeled images, many unlabeled ones, a validation
set and a test set, and trains:

1. a shared **warm-up**: ``warmup`` supervised iterations on the labeled images, from random weights;
2. from the warm-up weights, two models for ``iterations`` iterations each, with the same data order,
   augmentation and learning-rate schedule:

   * **Supervised**: the labeled images only (paradigm ``supervised``, no mix);
   * **AdaMix-ST**: AdaMix self-training (paradigm ``self_training``, mix ``adamix``) on the labeled and unlabeled
     images.

Why a warm-up: self-training learns from its own pseudo-labels, which are poor early on. The paper trains for 200
epochs; in a CPU budget of minutes, AdaMix-ST started from random weights (``warmup=0``) ended below the supervised
model in our runs, and so did one started from a half-trained model. After the 600-iteration warm-up the model
fits its labeled images far better than the test images (seed 0: Dice about 0.97 against 0.82), and the unlabeled
images can help, but not reliably: with the reference-exact training step and one thread, AdaMix-ST ended at
+0.010 (seed 0), +0.053 (seed 1) and -0.015 (seed 2) mean Dice against the supervised model, always raising the
RV Dice and lowering the myocardium's. It is a demo of the pipeline, not evidence for the method. The thread count
changes floating-point sums and so the numbers; the default (one thread) makes them the same on every machine.

Every model is then evaluated (final weights, no model selection) on the test set with
:func:`~adamix_monai.metrics.case_metrics` (Dice, Jaccard, HD95, ASD per class); a Markdown table is printed and
written to ``results.md``, and figures are written: the training curves of both models, AdaMix's mixed samples over
the run (the paper's Fig. 5) and predictions on test cases.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.handlers import MeanDice, ValidationHandler, from_engine
from monai.networks import eval_mode
from monai.transforms import AsDiscreted
from monai.utils import set_determinism

from adamix_monai.data import make_loader
from adamix_monai.data.views import weak_strong_views_2d
from adamix_monai.engines import SemiSupervisedTrainer
from adamix_monai.handlers import attach_training_logs
from adamix_monai.handlers.history import TrainingHistory
from adamix_monai.handlers.mix_samples import MixSampleSaver
from adamix_monai.losses import MaskedDiceCELoss
from adamix_monai.metrics import case_metrics
from adamix_monai.networks import AdaMixUNet
from adamix_monai.visualize.palette import ACDC_CLASS_NAMES
from adamix_monai.visualize.plots import mix_sample_files, plot_mix_samples, plot_qualitative, plot_training_curves
from adamix_monai.synthetic import cardiac_phantom
from adamix_monai.transforms import AdaMix
from adamix_monai.utils import atomic_open

__all__ = ["METHODS", "make_demo_data", "run_demo"]

NUM_CLASSES = 4
CLASS_NAMES = ACDC_CLASS_NAMES  # the phantom has ACDC's three foreground classes
LEARNING_RATE = 3e-3
THRESHOLD = 0.9
#: output folder -> (name, paradigm, mix)
METHODS: dict[str, tuple[str, str, str]] = {
    "warmup": ("Warm-up only", "supervised", "none"),
    "supervised": ("Supervised", "supervised", "none"),
    "adamix_st": ("AdaMix-ST", "self_training", "adamix"),
}


def _vary(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Per-image acquisition variety on top of the phantom: gamma, contrast, extra noise and blur.

    A few labeled images cannot cover it all; the unlabeled ones do, which is where semi-supervised training
    can help.

    Args:
        images: ``(N, 1, S, S)`` images in ``[0, 1]``.
        seed: random seed.

    Returns:
        The varied images, in ``[0, 1]``.
    """
    rng = np.random.RandomState(seed)
    out = images.clone()
    for i in range(out.shape[0]):
        x = out[i, 0]
        gamma = float(np.exp(rng.uniform(-0.6, 0.6)))
        x = x.clamp(0, 1) ** gamma
        contrast, offset = rng.uniform(0.6, 1.2), rng.uniform(-0.1, 0.15)
        x = (x - x.mean()) * contrast + x.mean() + offset
        sigma = rng.uniform(0.0, 1.2)
        if sigma > 0.3:
            radius = int(math.ceil(2 * sigma))
            grid = torch.arange(-radius, radius + 1, dtype=torch.float32)
            kernel = torch.exp(-(grid**2) / (2 * sigma**2))
            kernel = (kernel / kernel.sum()).view(1, 1, -1)
            x = x[None, None]
            x = torch.nn.functional.conv2d(x, kernel[..., None], padding=(radius, 0))
            x = torch.nn.functional.conv2d(x, kernel[:, :, None, :], padding=(0, radius))[0, 0]
        noise = torch.from_numpy(rng.normal(0, rng.uniform(0.0, 0.08), size=tuple(x.shape)).astype(np.float32))
        out[i, 0] = (x + noise).clamp(0, 1)
    return out


def make_demo_data(
    size: int = 64, labeled: int = 4, unlabeled: int = 96, validation: int = 8, test: int = 24, seed: int = 0
) -> dict[str, list[dict[str, torch.Tensor]]]:
    """The demo's synthetic dataset, split into labeled, unlabeled, validation and test items.

    Args:
        size: image side in pixels.
        labeled: labeled training images.
        unlabeled: unlabeled training images (their labels are dropped).
        validation: labeled images for the validation curve.
        test: labeled images for the final evaluation.
        seed: random seed.

    Returns:
        ``{"labeled", "unlabeled", "validation", "test"}``: lists of ``{"image": (1, S, S)[, "label": (1, S, S)]}``.
    """
    counts = {"labeled": labeled, "unlabeled": unlabeled, "validation": validation, "test": test}
    images, labels = cardiac_phantom(sum(counts.values()), size, seed)
    images = _vary(images, seed + 1)
    splits: dict[str, list[dict[str, torch.Tensor]]] = {}
    start = 0
    for name, count in counts.items():
        items = []
        for i in range(start, start + count):
            item = {"image": images[i]}
            if name != "unlabeled":
                item["label"] = labels[i]
            items.append(item)
        splits[name] = items
        start += count
    return splits


def _network(size: int) -> AdaMixUNet:
    """The demo's U-Net: channels 8 to 64 over 4 levels (3 when ``size`` is not a multiple of 8).

    Args:
        size: image side.

    Returns:
        The network.
    """
    levels = 4 if size % 8 == 0 else 3
    return AdaMixUNet(2, 1, NUM_CLASSES, channels=(8, 16, 32, 64)[:levels], dropout=(0.05, 0.1, 0.2, 0.3)[:levels])


def _train(
    method: str,
    data: dict[str, list[dict[str, torch.Tensor]]],
    out_dir: Path,
    iterations: int,
    size: int,
    batch: int,
    seed: int,
    progress: bool | None,
    init_state: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.nn.Module, SemiSupervisedTrainer, float]:
    """Train one model of the demo (one epoch of ``iterations`` iterations, validated 16 times).

    Args:
        method: a key of :data:`METHODS`.
        data: the splits from :func:`make_demo_data`.
        out_dir: the run's folder (``history.csv``, ``validation.csv``, ``mix_samples/``).
        iterations: training iterations.
        size: image side.
        batch: batch size of each stream.
        seed: random seed (initial weights, data order, augmentation, mixing).
        progress: show a progress bar.
        init_state: initial weights (default: a fresh network, the same for a given seed).

    Returns:
        ``(network, trainer, seconds)``.
    """
    _, paradigm, mix = METHODS[method]
    set_determinism(seed=seed)
    views_l = weak_strong_views_2d("image", "label", "image_strong", (size, size), rotate_prob=0.5)
    views_u = weak_strong_views_2d("image", None, "image_strong", (size, size), rotate_prob=0.5)
    labeled = Dataset(data["labeled"], transform=views_l)
    lab_loader = make_loader(labeled, batch, seed=seed, stream=0, num_samples=iterations * batch)
    unl_loader = make_loader(Dataset(data["unlabeled"], transform=views_u), batch, seed=seed, stream=2)
    network = _network(size)
    if init_state is not None:
        network.load_state_dict(init_state)
    optimizer = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    grid = 8 if size % 8 == 0 else 4
    trainer = SemiSupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=lab_loader,
        network=network,
        optimizer=optimizer,
        loss_function=MaskedDiceCELoss(0.5),
        num_classes=NUM_CLASSES,
        unlabeled_data_loader=unl_loader if paradigm != "supervised" else None,
        paradigm=paradigm,
        mix=AdaMix(mode=mix, grid=grid, topk=grid * grid // 4, prob=0.5),
        mix_seed=seed,
        threshold=THRESHOLD,
    )
    dice = MeanDice(include_background=False, num_classes=NUM_CLASSES, output_transform=from_engine(["pred", "label"]))
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(data["validation"], batch_size=len(data["validation"]), shuffle=False),
        network=network,
        postprocessing=AsDiscreted(keys="pred", argmax=True),
        key_val_metric={"val_mean_dice": dice},
    )
    ValidationHandler(interval=max(1, iterations // 16), validator=evaluator, epoch_level=False).attach(trainer)
    TrainingHistory(out_dir, every=max(1, iterations // 200)).attach(trainer, evaluator)
    if mix != "none":
        for _, stale in mix_sample_files(out_dir / "mix_samples"):  # of an earlier run into the same folder
            stale.unlink()
        MixSampleSaver(out_dir / "mix_samples", fractions=(0.02, 0.1, 0.25, 0.5, 0.95), count=4).attach(trainer)
    attach_training_logs(trainer, log_dir=None, progress=progress, log_every=max(1, iterations // 4))

    @trainer.on(Events.ITERATION_STARTED)
    def _poly_lr(engine: Any) -> None:  # the paper's schedule: lr (1 - t / T)^0.9
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * (1.0 - (engine.state.iteration - 1) / iterations) ** 0.9

    start = time.perf_counter()
    trainer.run()
    return network, trainer, time.perf_counter() - start


def _predict(network: torch.nn.Module, items: list[dict[str, torch.Tensor]], batch: int = 16) -> np.ndarray:
    """Arg-max predictions of ``network`` (in eval mode) for the items' images.

    Args:
        network: the trained network.
        items: items with an ``image`` of shape ``(1, S, S)``.
        batch: images per forward pass.

    Returns:
        ``(N, S, S)`` int64 label maps.
    """
    images = torch.stack([torch.as_tensor(item["image"]) for item in items])
    out = []
    with eval_mode(network):
        for k in range(0, len(images), batch):
            out.append(network(images[k : k + batch]).argmax(1))
    return torch.cat(out).numpy().astype(np.int64)


def _summarise(predictions: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Test-set metrics: per class and over classes, averaged over cases.

    Distances of a class that a prediction misses are NaN (``case_metrics``'s ``empty="honest"``): the distance
    means skip them and ``missed`` counts them.

    Args:
        predictions: ``(N, S, S)`` predictions.
        labels: ``(N, S, S)`` ground truths.

    Returns:
        ``{"dice", "jaccard", "hd95", "asd", "missed", "class_dice": {name: value}}``.
    """
    per_case = [case_metrics(p, g, NUM_CLASSES) for p, g in zip(predictions, labels)]
    table: dict[str, Any] = {}
    for key in ("dice", "jaccard", "hd95", "asd"):
        values = np.array([[case[c][key] for c in range(1, NUM_CLASSES)] for case in per_case], dtype=float)
        table[key] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        if key == "dice":
            table["class_dice"] = {
                name: float(np.nanmean(values[:, c])) if np.isfinite(values[:, c]).any() else math.nan
                for c, name in enumerate(CLASS_NAMES)
            }
    table["missed"] = sum(bool(case[c]["empty_prediction"]) for case in per_case for c in range(1, NUM_CLASSES))
    return table


def _markdown(results: dict[str, dict[str, Any]]) -> str:
    """The comparison table in Markdown.

    Args:
        results: method name -> summary from :func:`_summarise`.

    Returns:
        The table.
    """
    head = ["method", "Dice", "Jaccard", "HD95 (px)", "ASD (px)", *(f"Dice {n}" for n in CLASS_NAMES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, r in results.items():
        cells = [method, f"{r['dice']:.3f}", f"{r['jaccard']:.3f}", f"{r['hd95']:.2f}", f"{r['asd']:.2f}"]
        cells += [f"{r['class_dice'][n]:.3f}" for n in CLASS_NAMES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_demo(
    output_dir: str = "outputs/demo",
    iterations: int = 200,
    warmup: int = 600,
    size: int = 64,
    batch: int = 4,
    labeled: int = 4,
    unlabeled: int = 96,
    test: int = 24,
    seed: int = 0,
    threads: int = 1,
    progress: bool | None = None,
) -> Path:
    """Train a supervised and an AdaMix-ST model on synthetic cardiac slices, compare them, and write figures.

    Both models start from the same supervised warm-up and then train for ``iterations`` iterations each (see the
    module docstring). With the defaults it takes about 3 minutes on 2 CPU cores.

    Args:
        output_dir: output folder: ``results.md``, the figures (``curves_supervised.png``,
            ``curves_adamix_st.png``, ``mix_samples.png``, ``predictions.png``), and per run ``warmup/``,
            ``supervised/``, ``adamix_st/`` with ``history.csv``, ``validation.csv`` (and ``mix_samples/``).
        iterations: training iterations of each model after the warm-up (e.g. 2 for a quick check).
        warmup: shared supervised warm-up iterations (0: both models start from random weights).
        size: image side in pixels, a multiple of 4 (e.g. 32 for a quick check).
        batch: batch size of each stream (at most ``labeled`` and ``unlabeled``).
        labeled: labeled training images.
        unlabeled: unlabeled training images.
        test: test images.
        seed: random seed (data, initial weights, data order, augmentation, mixing).
        threads: CPU threads for PyTorch. The default 1 makes the printed numbers the same on any machine (the
            thread count changes floating-point sums, and with them the results: on the 2-core machine of this
            project 2 threads gave other numbers) and keeps the demo fast on a busy machine; more threads are
            faster on an idle one.
        progress: show a progress bar while training; None (default): only when the output is a terminal, so a
            log file gets plain periodic lines and no bar redraws.

    Returns:
        The output folder.

    Raises:
        SettingsError: (a ``ValueError``) on a value that is not a whole number, a size that is not a multiple of
            4, a batch larger than the labeled or unlabeled set, or fewer than one iteration.
    """
    from adamix_monai.workflows.settings import SettingsError

    counts = dict(iterations=iterations, warmup=warmup, size=size, batch=batch, labeled=labeled, unlabeled=unlabeled,
                  test=test, seed=seed, threads=threads)  # fmt: skip
    wrong = [f"--{k} {v!r}" for k, v in counts.items() if not isinstance(v, int) or isinstance(v, bool)]
    if wrong:
        raise SettingsError(f"demo: {', '.join(wrong)}: expected whole numbers.")
    if threads < 1 or seed < 0:
        raise SettingsError(f"demo: need --threads >= 1 and --seed >= 0; got threads {threads}, seed {seed}.")
    if size % 4 or size < 16:
        raise SettingsError(f"demo: --size must be a multiple of 4 and at least 16, got {size}.")
    if not 1 <= batch <= min(labeled, unlabeled) or test < 1 or iterations < 1 or warmup < 0:
        raise SettingsError(
            "demo: need 1 <= batch <= labeled and unlabeled, test >= 1, iterations >= 1 and warmup >= 0; got "
            f"batch {batch}, labeled {labeled}, unlabeled {unlabeled}, test {test}, iterations {iterations}, "
            f"warmup {warmup}."
        )
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(Path(output_dir), iterations, warmup, size, batch, labeled, unlabeled, test, seed, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _run(
    out_dir: Path,
    iterations: int,
    warmup: int,
    size: int,
    batch: int,
    labeled: int,
    unlabeled: int,
    test: int,
    seed: int,
    progress: bool | None,
) -> Path:
    """The body of :func:`run_demo` (same arguments, validated).

    Args:
        out_dir: output folder.
        iterations: training iterations of each model after the warm-up.
        warmup: shared supervised warm-up iterations.
        size: image side.
        batch: batch size.
        labeled: labeled images.
        unlabeled: unlabeled images.
        test: test images.
        seed: random seed.
        progress: show progress bars.

    Returns:
        The output folder.
    """
    data = make_demo_data(size, labeled, unlabeled, validation=8, test=test, seed=seed)
    print(
        f"AdaMix demo on synthetic cardiac slices ({size}x{size}; background, RV, Myo, LV): {labeled} labeled, "
        f"{unlabeled} unlabeled, 8 validation and {test} test images; batch {batch}."
    )
    models: dict[str, torch.nn.Module] = {}
    seconds: dict[str, float] = {}
    start_state = None
    if warmup:
        print(f"\n== Warm-up (shared): {warmup} supervised iterations on the {labeled} labeled images ==", flush=True)
        models["warmup"], _, seconds["warmup"] = _train(
            "supervised", data, out_dir / "warmup", warmup, size, batch, seed, progress
        )
        start_state = copy.deepcopy(models["warmup"].state_dict())
    origin = "from the warm-up weights" if warmup else "from random weights"
    print(f"\n== Supervised: {iterations} iterations on the {labeled} labeled images, {origin} ==", flush=True)
    models["supervised"], _, seconds["supervised"] = _train(
        "supervised", data, out_dir / "supervised", iterations, size, batch, seed, progress, init_state=start_state
    )
    print(
        f"\n== AdaMix-ST: {iterations} iterations of AdaMix self-training on the {labeled} labeled and {unlabeled} "
        f"unlabeled images, {origin} ==",
        flush=True,
    )
    models["adamix_st"], st_trainer, seconds["adamix_st"] = _train(
        "adamix_st", data, out_dir / "adamix_st", iterations, size, batch, seed, progress, init_state=start_state
    )

    labels = np.stack([item["label"][0].numpy() for item in data["test"]])
    predictions = {name: _predict(network, data["test"]) for name, network in models.items()}
    results = {METHODS[name][0]: _summarise(predictions[name], labels) for name in models}
    missed = ", ".join(f"{name} {r['missed']}" for name, r in results.items())
    start = f"a shared supervised warm-up of {warmup} iterations ({seconds['warmup']:.0f} s), then " if warmup else ""
    notes = (
        f"Test set: {len(labels)} synthetic images, final weights (no model selection). Means over the "
        f"{len(CLASS_NAMES)} foreground classes and the images; HD95 and ASD in pixels, over the classes a prediction "
        f"did not miss (classes missed: {missed}).\n"
        f"Training: {start}{iterations} iterations each with the same learning-rate schedule: Supervised "
        f"({seconds['supervised']:.0f} s), AdaMix-ST ({seconds['adamix_st']:.0f} s)."
    )
    table = _markdown(results)
    with atomic_open(out_dir / "results.md") as f:
        f.write(f"{table}\n\n{notes}\n".encode())
    print(f"\n{table}\n\n{notes}")

    after = f" (after a {warmup}-iteration warm-up)" if warmup else ""
    titles = {
        "supervised": f"Supervised, {labeled} labeled images{after}",
        "adamix_st": f"AdaMix-ST, {labeled} labeled + {unlabeled} unlabeled images{after}",
    }
    figures = [
        plot_training_curves(
            out_dir / run / "history.csv", out_dir / run / "validation.csv", out_dir / f"curves_{run}.png", title=title
        )
        for run, title in titles.items()
    ]
    total = int(st_trainer.state.max_epochs) * int(st_trainer.state.epoch_length)
    samples = [
        (it, path, st_trainer.adamix_handler.age_at(it, total))
        for it, path in mix_sample_files(out_dir / "adamix_st" / "mix_samples")
    ]
    figures.append(
        plot_mix_samples(samples, out_dir / "mix_samples.png", title="AdaMix-ST: mixed unlabeled images over the run")
    )
    shown = list(range(min(4, len(labels))))
    figures.append(
        plot_qualitative(
            [data["test"][i]["image"][0].numpy() for i in shown],
            [labels[i] for i in shown],
            [{METHODS[m][0]: predictions[m][i] for m in predictions} for i in shown],
            out_dir / "predictions.png",
            names=[f"test {i}" for i in shown],
            class_names=CLASS_NAMES,
        )
    )
    print(f"\nResults: {out_dir / 'results.md'}\nFigures (predictions: the first {len(shown)} test images):")
    for path in figures:
        print(f"  {path}")
    return out_dir
