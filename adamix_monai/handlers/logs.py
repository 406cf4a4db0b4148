# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Standard training logs: console, TensorBoard, progress bar."""

from __future__ import annotations

import logging
import sys
from typing import Any

from monai.handlers import StatsHandler, TensorBoardStatsHandler
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.utils import is_rank0

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["TRAINING_SCALARS", "TrainingLogs", "attach_training_logs", "step_scalars"]

TRAINING_SCALARS = (
    "loss", "loss_s", "loss_u", "mask_ratio", "adamix_lambda", "adamix_mean_n", "adamix_hard_fraction", "lr"
)


def step_scalars(output: Any) -> dict[str, float]:
    """The training scalars of a step's output: the trainer's one-item list (MONAI's decollated form) or a dict.

    The trainer leaves its scalars on the device (0-d tensors), so that a step never waits for the device; this
    conversion to Python floats is the one host synchronisation, made only by the loggers at their interval.
    """
    if isinstance(output, list) and output:
        output = output[0]
    return {key: float(output[key]) for key in TRAINING_SCALARS if isinstance(output, dict) and key in output}


def attach_training_logs(
    trainer: Any, log_dir: str | None = None, progress: bool | None = None, log_every: int = 1
) -> list[Any]:
    """Attach console logging, TensorBoard event files and a progress bar to a trainer (rank 0 only).

    Logged every ``log_every`` iterations (console, TensorBoard, progress bar): L (``loss``), L_s, L_u, the
    pseudo-label mask ratio, λ, mean n and the fraction of hard images and the learning rate, from
    ``trainer.state.output``. Reading them waits for the device, so nothing reads them in between.

    Args:
        trainer: a :class:`~adamix_monai.engines.SemiSupervisedTrainer`.
        log_dir: TensorBoard folder; None for no event files.
        progress: show a tqdm progress bar; None shows it when stdout is a terminal.
        log_every: iterations between console lines.

    Returns:
        The handlers attached.
    """
    if not is_rank0():
        return []
    handlers: list[Any] = [
        # MONAI's default logger name: it prints to stdout even when nothing configured logging
        StatsHandler(output_transform=step_scalars, iteration_log=lambda e, i: i % log_every == 0)
    ]
    if log_dir is not None:
        handlers.append(
            TensorBoardStatsHandler(log_dir=log_dir, output_transform=step_scalars, iteration_log=max(log_every, 1))
        )
    for handler in handlers:
        handler.attach(trainer)
    if progress is None:
        progress = sys.stdout.isatty()
    ProgressBar, has_bar = optional_import("ignite.handlers.tqdm_logger", name="ProgressBar")
    if progress and has_bar:
        bar = ProgressBar(persist=True)
        bar.attach(
            trainer,
            output_transform=lambda out: {
                k: round(v, 4) for k, v in step_scalars(out).items() if k in ("loss", "loss_s", "loss_u")
            },
            event_name=Events.ITERATION_COMPLETED(every=max(log_every, 1)),
        )
        handlers.append(bar)
        _print_logs_above(bar, trainer)
    return handlers


def _print_logs_above(bar: Any, trainer: Any) -> None:
    """While the bar runs, console log lines go through ``tqdm.write`` (which clears the bar, prints the line, then
    redraws the bar): written plainly they would land after the bar's text on its line, and the bar's next redraw
    (a carriage return) would overwrite their start on a terminal."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    active: list[Any] = []

    def start(_: Any) -> None:
        loggers = [logging.root] + [
            lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger) and lg.handlers
        ]
        context = logging_redirect_tqdm(loggers=loggers)
        context.__enter__()
        active.append(context)

    def stop(_: Any) -> None:
        while active:
            active.pop().__exit__(None, None, None)

    trainer.add_event_handler(Events.STARTED, start)
    trainer.add_event_handler(Events.COMPLETED, stop)
    trainer.add_event_handler(Events.TERMINATE, stop)


class TrainingLogs:
    """A declared handler for ``train#handlers``: :func:`attach_training_logs` (MONAI's ``StatsHandler`` and
    ``TensorBoardStatsHandler``, and a progress bar) when attached; nothing on ranks other than 0.

    Args:
        log_dir: TensorBoard folder; None for no event files.
        progress: show a tqdm progress bar; None shows it when stdout is a terminal.
        log_every: iterations between console lines.
    """

    def __init__(self, log_dir: str | None = None, progress: bool | None = None, log_every: int = 1) -> None:
        self.log_dir, self.progress, self.log_every = log_dir, progress, int(log_every)
        self.handlers: list[Any] = []

    def attach(self, engine: Any) -> None:
        """Attach the loggers to ``engine``."""
        self.handlers = attach_training_logs(engine, self.log_dir, self.progress, self.log_every)
