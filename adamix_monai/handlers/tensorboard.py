# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Validation in TensorBoard, on the training curves' axis: the validation metrics and one case's prediction."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.utils import is_rank0
from adamix_monai.visualize.palette import CLASS_COLORS

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["TensorBoardValidation", "prediction_panel"]


def _index_map(x: torch.Tensor) -> np.ndarray:
    """A channel-first label or prediction (one-hot, or one channel of indices) as an index map."""
    x = torch.as_tensor(x).detach().float().cpu()
    return (x.argmax(0) if x.shape[0] > 1 else x[0]).round().to(torch.int64).numpy()


def prediction_panel(image: Any, label: Any, prediction: Any) -> np.ndarray:
    """One case as an ``(H, 3W, 3)`` uint8 panel: the image, the ground truth over it, the prediction over it.

    A volume is shown at the slice (along its shortest axis, the slice axis of ACDC's volumes) with the most
    ground-truth foreground.

    Args:
        image: ``(C, *spatial)``, 2D or 3D, any range; the first channel is shown (in colour for 3 channels).
        label: ``(1, *spatial)`` class indices or ``(K, *spatial)`` one-hot.
        prediction: the same forms as ``label``.
    """
    img = torch.as_tensor(image).detach().float().cpu()
    lab, pred = _index_map(label), _index_map(prediction)
    if lab.ndim == 3:
        axis = int(np.argmin(lab.shape))
        k = int(np.argmax(np.moveaxis(lab > 0, axis, 0).reshape(lab.shape[axis], -1).sum(1)))
        lab, pred = np.take(lab, k, axis=axis), np.take(pred, k, axis=axis)
        img = img.select(axis + 1, k)
    pixels = img.permute(1, 2, 0).numpy() if img.shape[0] == 3 else np.repeat(img[0].numpy()[..., None], 3, axis=2)
    lo, hi = float(pixels.min()), float(pixels.max())
    gray = (pixels - lo) / max(hi - lo, 1e-8)
    palette = np.array([(0.0, 0.0, 0.0), *CLASS_COLORS])

    def overlay(classes: np.ndarray) -> np.ndarray:
        mask = (classes > 0)[..., None]
        colour = palette[np.clip(classes, 0, len(palette) - 1)]
        return np.where(mask, 0.55 * gray + 0.45 * colour, gray)

    panel = np.concatenate([gray, overlay(lab), overlay(pred)], axis=1)
    return (panel * 255).round().astype(np.uint8)


class TensorBoardValidation:
    """A declared handler for ``train#handlers``: after each validation, the evaluator's metrics (e.g.
    ``val_mean_dice``) and the first validation case's image, ground truth and prediction
    (:func:`prediction_panel`) go to TensorBoard at the trainer's iteration, the step of the training scalars
    (:class:`~adamix_monai.handlers.TrainingLogs`), so curves and validation share one axis. Rank 0 only.

    Args:
        log_dir: the TensorBoard folder (the run's output folder).
        evaluator: the validation engine.
        images: also write the case panel.
    """

    def __init__(self, log_dir: str | os.PathLike, evaluator: Any, images: bool = True) -> None:
        self.log_dir, self.evaluator, self.images = str(log_dir), evaluator, bool(images)
        self._writer: Any = None
        self._trainer: Any = None
        self._panel: np.ndarray | None = None

    def attach(self, trainer: Any) -> None:
        """Register on the evaluator: its first iteration keeps a case, its epoch end writes."""
        if not is_rank0():
            return
        self._trainer = trainer
        # MONAI's evaluator counts its iterations from 0 in every run: iteration 1 is each validation's first case
        self.evaluator.add_event_handler(Events.ITERATION_COMPLETED(event_filter=lambda e, i: i == 1), self._keep_case)
        self.evaluator.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _keep_case(self, engine: Any) -> None:
        if not self.images:
            return
        batch, output = engine.state.batch, engine.state.output
        first_in = batch[0] if isinstance(batch, list) else {k: v[0] for k, v in batch.items() if hasattr(v, "shape")}
        first_out = output[0] if isinstance(output, list) else {k: v[0] for k, v in output.items()}
        if all(k in first_in for k in ("image",)) and "pred" in first_out:
            label = first_out.get("label", first_in.get("label"))
            if label is not None:
                self._panel = prediction_panel(first_in["image"], label, first_out["pred"])

    def _write(self, engine: Any) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=self.log_dir)
        step = int(self._trainer.state.iteration)
        for name, value in engine.state.metrics.items():
            if isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.numel() == 1):
                self._writer.add_scalar(name, float(value), step)
        if self._panel is not None:
            self._writer.add_image("validation_case", self._panel, step, dataformats="HWC")
            self._panel = None
        self._writer.flush()
