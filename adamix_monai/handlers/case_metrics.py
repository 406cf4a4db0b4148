# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""An evaluator handler that scores every case with the paper's metrics and writes the per-case CSV and summary."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.metrics import case_metrics
from adamix_monai.reporting import METRICS, summarise, summary_markdown, write_case_rows
from adamix_monai.utils import atomic_open

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["CaseMetricsWriter"]


def _label_map(x: Any) -> np.ndarray:
    """A (1, ...) or (...) label map, or (K, ...) probabilities/one-hot, as an integer array without channel."""
    t = x.as_tensor() if isinstance(x, MetaTensor) else torch.as_tensor(x)
    t = t.detach().cpu()
    if t.ndim >= 3 and t.shape[0] > 1:
        t = t.argmax(0)
    elif t.ndim >= 3 and t.shape[0] == 1:
        t = t[0]
    return t.round().long().numpy() if t.is_floating_point() else t.long().numpy()


def _spacing(x: Any, ndim: int) -> list[float] | None:
    if isinstance(x, MetaTensor) and x.affine is not None:
        affine = x.affine.detach().cpu().double()
        spacing = torch.linalg.norm(affine[:ndim, :ndim], dim=0).tolist()
        return [float(s) for s in spacing]
    return None


class CaseMetricsWriter:
    """Scores each evaluated case with :func:`~adamix_monai.metrics.case_metrics` and writes the results.

    On every iteration of the evaluator (batch size 1 is usual for volumes) each decollated item's ``pred``
    (after post-processing: a label map, or probabilities that get an argmax) is compared with its ``label``;
    when the evaluator completes it writes, atomically:

    - ``<output_dir>/metrics.csv``: one row per (case, class): Dice, Jaccard, HD95, ASD and the empty flags;
    - ``<output_dir>/summary.md``: the paper's Table 1 layout, honest and paper scoring, per-class means;
    - ``<output_dir>/summary.json``: the same numbers for :func:`~adamix_monai.reporting.collect_table`;
    - ``<output_dir>/cases/<case>.npz`` for the first ``keep_cases`` cases (image, label, prediction), for
      qualitative figures.

    It also puts ``test_mean_dice`` (and the other means, honest scoring) into ``evaluator.state.metrics``.

    Args:
        output_dir: folder of the outputs.
        num_classes: classes including background.
        class_names: names of the foreground classes (default ``class1``, ...).
        method, labeled, perturbation, framework: the summary row's descriptive columns.
        details: extra facts for the summary (checkpoint, seed, ...).
        spacing: ``None`` (voxel units, as the paper), ``"meta"`` (from the label's affine, for mm), or the
            voxel size.
        keep_cases: cases kept as ``.npz`` for figures.
        pred_key, label_key, image_key, id_key: keys of the items; the case id is ``id_key`` of the batch item,
            else the image file name.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        method: str = "",
        labeled: str = "",
        perturbation: str = "",
        framework: str = "",
        details: Mapping[str, Any] | None = None,
        spacing: str | Sequence[float] | None = None,
        keep_cases: int = 4,
        pred_key: str = "pred",
        label_key: str = "label",
        image_key: str = "image",
        id_key: str = "id",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.num_classes = int(num_classes)
        names = list(class_names) if class_names is not None else [f"class{c}" for c in range(1, num_classes)]
        if len(names) != self.num_classes - 1:
            raise ValueError(
                f"CaseMetricsWriter: class_names has {len(names)} names for {self.num_classes - 1} foreground classes."
            )
        self.class_names = names
        self.method, self.labeled, self.perturbation, self.framework = method, labeled, perturbation, framework
        self.details = dict(details or {})
        self.spacing = spacing
        self.keep_cases = int(keep_cases)
        self.pred_key, self.label_key, self.image_key, self.id_key = pred_key, label_key, image_key, id_key
        self.rows: list[dict[str, Any]] = []
        self._kept = 0

    def attach(self, evaluator: Any) -> None:
        """Register on the evaluator."""
        evaluator.add_event_handler(Events.STARTED, self._reset)
        evaluator.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        evaluator.add_event_handler(Events.COMPLETED, self.write)

    def _reset(self, engine: Any = None) -> None:
        self.rows, self._kept = [], 0

    def _case_id(self, batch_item: Mapping[str, Any], output_item: Mapping[str, Any], index: int) -> str:
        if self.id_key in batch_item:
            return str(batch_item[self.id_key])
        if f"{self.image_key}_path" in batch_item:  # set by LoadH5d
            return Path(str(batch_item[f"{self.image_key}_path"])).name.split(".")[0]
        image = output_item.get(self.image_key, batch_item.get(self.image_key))
        if isinstance(image, MetaTensor) and "filename_or_obj" in image.meta:
            return Path(str(image.meta["filename_or_obj"])).name.split(".")[0]
        return f"case{len({r['case'] for r in self.rows}) + index:04d}"

    def add_case(self, case: str, prediction: Any, label: Any, image: Any = None) -> list[dict[str, Any]]:
        """Score one case and record its rows (usable without an engine).

        Args:
            case: case id.
            prediction: label map or probabilities (channel first), or a map without channel.
            label: reference label map.
            image: the image, kept for figures when given.

        Returns:
            The rows added.
        """
        pred, ref = _label_map(prediction), _label_map(label)
        if self.spacing == "meta":
            spacing = _spacing(label, ref.ndim) or _spacing(prediction, ref.ndim)
        else:
            spacing = self.spacing  # type: ignore[assignment]
        scores = case_metrics(pred, ref, self.num_classes, spacing=spacing)
        rows = [
            {"case": case, "class": c, "class_name": self.class_names[c - 1], **values} for c, values in scores.items()
        ]
        self.rows.extend(rows)
        if self._kept < self.keep_cases and image is not None:
            self._keep(case, image, ref, pred)
        return rows

    def _keep(self, case: str, image: Any, label: np.ndarray, pred: np.ndarray) -> None:
        img = image.as_tensor() if isinstance(image, MetaTensor) else torch.as_tensor(image)
        img = img.detach().cpu().float().numpy()
        if img.ndim == label.ndim + 1:  # channel first: RGB (ISIC) kept channel-last in colour, else channel 0
            img = np.moveaxis(img, 0, -1) if img.shape[0] == 3 else img[0]
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, image=img.astype(np.float16), label=label.astype(np.uint8), prediction=pred.astype(np.uint8)
        )
        with atomic_open(self.output_dir / "cases" / f"{case}.npz") as f:
            f.write(buffer.getvalue())
        self._kept += 1

    def _collect(self, engine: Any) -> None:
        outputs = engine.state.output
        batches = engine.state.batch
        if isinstance(outputs, Mapping):  # not decollated: split the batch
            outputs = [{k: v[i] for k, v in outputs.items()} for i in range(len(outputs[self.pred_key]))]
        if not isinstance(batches, Sequence) or len(batches) != len(outputs):
            batches = [{}] * len(outputs)
        for i, (out, item) in enumerate(zip(outputs, batches)):
            case = self._case_id(item if isinstance(item, Mapping) else {}, out, i)
            image = out.get(self.image_key) if isinstance(out, Mapping) else None
            self.add_case(case, out[self.pred_key], out[self.label_key], image)

    def means(self) -> dict[str, float]:
        """Honest-scoring means over cases of the class-averaged metrics (Dice and Jaccard in percent)."""
        return summarise(self.rows, "honest")["mean"] if self.rows else {m: math.nan for m in METRICS}

    def write(self, engine: Any = None) -> None:
        """Write the CSV, the summaries and put the means into the evaluator's metrics."""
        if not self.rows:
            raise RuntimeError("CaseMetricsWriter: no case was evaluated (is the test datalist empty?).")
        write_case_rows(self.output_dir / "metrics.csv", self.rows)
        text = summary_markdown(
            self.rows,
            self.method,
            self.labeled,
            self.perturbation,
            self.framework,
            title=f"{self.method} on {len({r['case'] for r in self.rows})} cases",
            details=self.details,
        )
        with atomic_open(self.output_dir / "summary.md") as f:
            f.write(text.encode())
        info = {
            "method": self.method,
            "labeled": self.labeled,
            "perturbation": self.perturbation,
            "framework": self.framework,
            "details": {k: str(v) for k, v in self.details.items()},
            "honest": summarise(self.rows, "honest"),
            "paper": summarise(self.rows, "paper"),
        }
        with atomic_open(self.output_dir / "summary.json") as f:
            f.write(json.dumps(info, indent=2, allow_nan=True).encode())
        if engine is not None:
            for metric, value in self.means().items():
                engine.state.metrics[f"test_mean_{metric}"] = value
