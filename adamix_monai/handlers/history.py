# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A resumable record of a training run's curves, written as CSV files for plots and tables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.handlers.logs import TRAINING_SCALARS, step_scalars
from adamix_monai.utils import is_rank0, write_csv
from adamix_monai.utils import read_csv_columns as read_history  # the reader of the files written here

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["TrainingHistory", "read_history"]


class TrainingHistory:
    """Records the training scalars every ``every`` iterations and the validation metrics after each validation.

    Files (replaced atomically at every epoch end and when the run completes):

    - ``<output_dir>/history.csv``: ``iteration, epoch`` and :data:`~adamix_monai.handlers.TRAINING_SCALARS`
      (``loss, loss_s, loss_u, mask_ratio, adamix_lambda, adamix_mean_n, adamix_hard_fraction``);
    - ``<output_dir>/validation.csv``: ``iteration, epoch`` and every metric of the evaluator
      (e.g. ``val_mean_dice``).

    Add it to the run's :class:`~adamix_monai.handlers.ResumableCheckpoint` objects: its ``state_dict`` holds
    the rows, so a resumed run continues the same files without gaps or duplicates.

    Args:
        output_dir: folder of the CSV files.
        every: iterations between training rows.
        evaluator: the validation evaluator whose metrics are recorded (or give it to :meth:`attach`).
    """

    def __init__(self, output_dir: str | os.PathLike, every: int = 10, evaluator: Any = None) -> None:
        if every < 1:
            raise ValueError(f"TrainingHistory: every must be >= 1, got {every}.")
        self.output_dir = Path(output_dir)
        self.every = int(every)
        self.train_rows: list[dict[str, Any]] = []
        self.val_rows: list[dict[str, Any]] = []
        self._trainer: Any = None
        self.evaluator = evaluator

    def attach(self, trainer: Any, evaluator: Any = None) -> None:
        """Register on the trainer (and on the validation evaluator, when given here or at construction)."""
        from adamix_monai.handlers.checkpoint import register_checkpoint_object

        evaluator = evaluator if evaluator is not None else self.evaluator
        self._trainer = trainer
        register_checkpoint_object(trainer, "history", self)
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=self.every), self._record_train)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self.write)
        trainer.add_event_handler(Events.COMPLETED, self.write)
        if evaluator is not None:
            evaluator.add_event_handler(Events.EPOCH_COMPLETED, self._record_validation)

    def _record_train(self, engine: Any) -> None:
        row: dict[str, Any] = {"iteration": int(engine.state.iteration), "epoch": int(engine.state.epoch)}
        row.update(step_scalars(engine.state.output))
        self.train_rows.append(row)

    def _record_validation(self, evaluator: Any) -> None:
        state = self._trainer.state if self._trainer is not None else None
        row: dict[str, Any] = {
            "iteration": int(state.iteration) if state is not None else 0,
            "epoch": int(state.epoch) if state is not None else int(evaluator.state.epoch),
        }
        for key, value in evaluator.state.metrics.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                continue
        self.val_rows.append(row)

    def write(self, engine: Any = None) -> None:
        """Write both CSV files (rank 0 only)."""
        if not is_rank0():
            return
        train_cols = ["iteration", "epoch", *TRAINING_SCALARS]
        write_csv(self.output_dir / "history.csv", train_cols, self.train_rows)
        val_cols = ["iteration", "epoch"]
        for row in self.val_rows:
            val_cols += [k for k in row if k not in val_cols]
        write_csv(self.output_dir / "validation.csv", val_cols, self.val_rows)

    def state_dict(self) -> dict[str, Any]:
        """The rows recorded so far."""
        return {"train_rows": list(self.train_rows), "val_rows": list(self.val_rows)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the rows (of a resumed run)."""
        self.train_rows = [dict(r) for r in state["train_rows"]]
        self.val_rows = [dict(r) for r in state["val_rows"]]
