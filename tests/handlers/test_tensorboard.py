# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""TensorBoard gets the validation metrics, the learning rate, mixed samples and a validation prediction, on the
training curves' axis (a real bundle run), and the prediction panel shows the right slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adamix_monai.handlers.tensorboard import prediction_panel
from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.bundle_runs import bundle_run, check


def _events(folder: Path) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Scalar and image tags of every event file under ``folder``, with their steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, list[int]] = {}
    images: dict[str, list[int]] = {}
    for file in folder.glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(file), size_guidance={"images": 0, "scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(e.step for e in acc.Scalars(tag))
        for tag in acc.Tags()["images"]:
            images.setdefault(tag, []).extend(e.step for e in acc.Images(tag))
    return scalars, images


def test_a_bundle_run_writes_validation_lr_and_images_to_tensorboard(tmp_path):
    data = make_mini_acdc(tmp_path / "acdc")
    check(bundle_run("adamix_acdc", ["train.json", "cpu.json"], "--dataset_dir", str(data), "--bundle_root",
                     str(tmp_path), "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "2",
                     "--epoch_samples", "4", "--cache_rate", "0", "--progress", "False", "--mix_prob", "1",
                     "--log_every", "2"))  # fmt: skip
    scalars, images = _events(tmp_path / "runs" / "self_training-adamix-10pct-seed1")
    assert sorted(scalars["val_mean_dice"]) == [2, 4]  # after each epoch, at the trainer's iteration
    # training scalars every --log_every iterations (reading them waits for the device, so not at every step)
    assert sorted(scalars["lr"]) == [2, 4] and sorted(scalars["loss"]) == [2, 4] and "loss_u" in scalars
    assert sorted(images["validation_case"]) == [2, 4]
    assert images.get("mix_samples"), images  # AdaMix's mixed images, outlined


def test_the_prediction_panel_shows_the_slice_with_the_most_foreground():
    image = torch.rand(1, 16, 16, 5)
    label = torch.zeros(1, 16, 16, 5, dtype=torch.long)
    label[0, 4:12, 4:12, 3] = 2  # the slice axis is the shortest: slice 3 has the foreground
    pred = torch.nn.functional.one_hot(label[0], 4).permute(3, 0, 1, 2).float()  # one-hot, as the evaluator's
    panel = prediction_panel(image, label, pred)
    assert panel.shape == (16, 48, 3) and panel.dtype == np.uint8
    gray, truth, predicted = panel[:, :16], panel[:, 16:32], panel[:, 32:]
    assert np.array_equal(truth, predicted)  # a perfect prediction looks like the ground truth
    assert (truth[8, 8] != gray[8, 8]).any() and np.array_equal(truth[0, 0], gray[0, 0])  # class 2 tinted only
    assert truth[8, 8, 1] > truth[8, 8, 0]  # class 2 (Myo) is green
