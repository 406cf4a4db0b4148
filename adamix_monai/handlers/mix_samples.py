# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Snapshots of AdaMix's mixed training images over a run (the paper's Fig. 5)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.visualize.patches import outline_mixed_patches, save_png
from adamix_monai.utils import is_rank0

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["MixSampleSaver"]


class MixSampleSaver:
    """Writes the first student's mixed images, replaced patches outlined, at chosen points of a run.

    At each point (a fraction of the run's iterations) the next step whose mix fired is captured (points that fall
    on the same iteration of a short run count once; a point with no fired mix before the run ends is dropped, so
    keep the last point below 1.0 when ``prob < 1``): the first
    ``count`` images of the unlabeled batch (the labeled batch under the supervised paradigm), as one PNG row
    ``<output_dir>/iter_<iteration>.png``. Green outlines mark patches taken from high-confidence auxiliary
    patches (easy direction), red from low-confidence ones (hard direction), as the paper's Fig. 5. 2D
    images only (a 3D run records nothing). Only patch mixes (``umix``, ``iumix``, ``adamix*``) have outlines; other
    mixes are skipped.

    Args:
        output_dir: folder of the PNG files.
        fractions: points of the run, as fractions of the total iterations.
        count: images per row.
        stream: ``unlabeled`` or ``labeled``.
        log_dir: also put each row in TensorBoard there (tag ``mix_samples``, at its iteration); None: files only.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        fractions: Sequence[float] = (0.02, 0.1, 0.2, 0.3, 0.6, 0.95),
        count: int = 4,
        stream: str = "unlabeled",
        log_dir: str | os.PathLike | None = None,
    ) -> None:
        if stream not in ("unlabeled", "labeled"):
            raise ValueError(f"MixSampleSaver: stream must be 'unlabeled' or 'labeled', got '{stream}'.")
        self.output_dir = Path(output_dir)
        self.fractions = sorted(float(f) for f in fractions)
        self.count, self.stream = int(count), stream
        self.captured: list[int] = []
        self.files: list[str] = []
        self.log_dir = None if log_dir is None else str(log_dir)
        self._writer: Any = None

    def attach(self, trainer: Any) -> None:
        """Register on the trainer's ``ITERATION_COMPLETED`` (and offer its state to the run's checkpoint)."""
        from adamix_monai.handlers.checkpoint import register_checkpoint_object

        trainer.add_event_handler(Events.ITERATION_COMPLETED, self)
        register_checkpoint_object(trainer, "mix_samples", self)

    def _due(self, engine: Any) -> bool:
        total = int(engine.state.max_epochs) * int(engine.state.epoch_length)
        targets = sorted({max(1, int(round(f * total))) for f in self.fractions})  # short runs: no repeats
        done = len(self.captured)
        return done < len(targets) and int(engine.state.iteration) >= targets[done]

    def __call__(self, engine: Any) -> None:
        if not is_rank0() or not self._due(engine):
            return
        stream = self.stream if getattr(engine, "paradigm", "") != "supervised" else "labeled"
        mixer = getattr(engine, "mixers", {}).get(f"{stream}1")
        mixed = getattr(engine, "last_mixed", {}).get(stream)
        stats = getattr(mixer, "last_stats", None)
        plan = getattr(stats, "plan", None)
        if mixed is None or stats is None or not bool(stats.applied) or plan is None or not hasattr(plan, "dst"):
            if engine.state.iteration == engine.state.max_epochs * engine.state.epoch_length:
                self.captured.append(int(engine.state.iteration))  # the run ends: give this point up
            return
        image = mixed[0].detach().float().cpu()
        if image.ndim != 4 or len(plan.grid) != 2:  # 2D images only
            self.captured.append(int(engine.state.iteration))
            return
        tiles = [outline_mixed_patches(image[i], plan, i) for i in range(min(self.count, image.shape[0]))]
        sep = np.full((tiles[0].shape[0], 4, 3), 255, dtype=np.uint8)
        row = np.concatenate([p for t in tiles for p in (t, sep)][:-1], axis=1)
        path = save_png(self.output_dir / f"iter_{int(engine.state.iteration):06d}.png", row)
        self.captured.append(int(engine.state.iteration))
        self.files.append(str(path))
        if self.log_dir is not None:
            if self._writer is None:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=self.log_dir)
            self._writer.add_image("mix_samples", row, int(engine.state.iteration), dataformats="HWC")
            self._writer.flush()

    def state_dict(self) -> dict[str, Any]:
        """The iterations captured so far."""
        return {"captured": list(self.captured), "files": list(self.files)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the captured iterations."""
        self.captured, self.files = list(state["captured"]), list(state["files"])
