# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A self-contained demo of AdaMix's self-paced curriculum on a synthetic cardiac batch (no download needed).

It follows one batch through a run: a stand-in "model" whose predictions sharpen as training goes on gives the
confidence maps and the per-image proxy losses; :class:`~adamix_monai.handlers.AdaMixHandler`'s schedule sets
the age; :class:`~adamix_monai.transforms.AdaMixd` mixes. It prints how the direction and the number of mixed
patches evolve, and writes the mixed images with their replaced patches outlined (green: from high-confidence
patches, easy; red: from low-confidence patches, hard), as the paper's Fig. 5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adamix_monai.figures import outline_mixed_patches, write_png
from adamix_monai.handlers import AdaMixHandler
from adamix_monai.schedule import proxy_dice_loss
from adamix_monai.synthetic import cardiac_phantom
from adamix_monai.transforms import AdaMixd

__all__ = ["run_demo"]


def _stand_in_predictions(label: torch.Tensor, progress: float, gen: torch.Generator) -> torch.Tensor:
    """Logits of a model that gets better with ``progress`` in [0, 1]; the images differ in difficulty."""
    onehot = torch.nn.functional.one_hot(label[:, 0], 4).permute(0, 3, 1, 2).float()
    difficulty = torch.linspace(0.5, 2.0, label.shape[0]).view(-1, 1, 1, 1)
    skill = 0.3 + 5.0 * (1.0 - np.exp(-3.0 * progress))
    noise = torch.randn(onehot.shape, generator=gen)
    noise = torch.nn.functional.avg_pool2d(noise, 9, 1, 4) * 3.0  # spatially smooth errors
    return onehot * skill / difficulty + noise * difficulty


def run_demo(output_dir: str = "outputs/demo", iterations: int = 16400, batch: int = 6, seed: int = 0) -> Path:
    """Run the demo and return the folder holding its figure.

    Args:
        output_dir: where to write ``adamix_schedule.png``.
        iterations: run length whose schedule is shown (16400 = ACDC, 200 epochs x 82 iterations).
        batch: images in the demo batch.
        seed: random seed.

    Returns:
        The output folder.
    """
    images, labels = cardiac_phantom(2 * batch, 256, seed)
    gen = torch.Generator().manual_seed(seed)
    mix = AdaMixd(keys=["image", "label"], grid=8, topk=16, prob=1.0).set_random_state(seed)
    schedule = AdaMixHandler(mix, total_iterations=iterations)
    fractions = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0]
    rows, tiles = [], []
    print(
        f"AdaMix self-paced curriculum on a synthetic cardiac batch of {batch} (K=16 of 64 patches, "
        f"t_m = {iterations // 4} of {iterations} iterations)"
    )
    print("| iteration | lambda | proxy loss (min..max) | hard images | mean n |")
    print("|---|---|---|---|---|")
    for frac in fractions:
        iteration = max(1, int(frac * iterations))
        age = schedule.age_at(iteration, iterations)
        mix.set_age(age)
        logits = _stand_in_predictions(labels, frac, gen)
        conf = torch.softmax(logits, 1).amax(1, keepdim=True)
        pseudo = logits.argmax(1, keepdim=True)
        data = {
            "image": images[:batch],
            "label": pseudo[:batch],
            "confidence": conf[:batch],
            "image_aux": images[batch:],
            "label_aux": pseudo[batch:],
            "confidence_aux": conf[batch:],
            "proxy_loss": proxy_dice_loss(logits[:batch], labels[:batch]),
        }
        out = mix(data)
        stats = mix.last_stats
        loss = stats.proxy_loss
        rows.append(
            (iteration, age, float(loss.min()), float(loss.max()), int(stats.hard.sum()), float(stats.n.float().mean()))
        )
        print(
            f"| {iteration} | {age:.3f} | {float(loss.min()):.2f}..{float(loss.max()):.2f} | "
            f"{int(stats.hard.sum())}/{batch} | {float(stats.n.float().mean()):.1f} |"
        )
        tiles.append(np.concatenate([outline_mixed_patches(out["image"][i], stats.plan, i) for i in range(3)], axis=1))
    sep = np.full((4, tiles[0].shape[1], 3), 255, dtype=np.uint8)
    figure = np.concatenate([part for tile in tiles for part in (tile, sep)][:-1], axis=0)
    out_dir = Path(output_dir)
    path = write_png(out_dir / "adamix_schedule.png", figure)
    print(f"figure: {path} (one row per iteration above, 3 images each; green = easy, red = hard patches)")
    return out_dir
