# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A learning-rate decay over the last part of a run, as a stateless Ignite handler."""

from __future__ import annotations

from typing import Any

from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["TailLrDecay", "tail_decay_factor"]


def tail_decay_factor(iteration: int, total: int, fraction: float, final: float = 0.0) -> float:
    """The learning-rate factor at 1-based ``iteration`` of ``total``: 1, then linear down to ``final``.

    The rate is constant for the first ``1 - fraction`` of the run and falls linearly over the last ``fraction``,
    reaching ``final`` at the last iteration.
    """
    if fraction <= 0.0 or total <= 0:
        return 1.0
    start = total * (1.0 - fraction)  # iterations before the decay
    if iteration <= start:
        return 1.0
    span = max(total - start, 1.0)
    return 1.0 - (1.0 - final) * min((iteration - start) / span, 1.0)


class TailLrDecay:
    """Constant learning rate, then a linear decay to ``final_factor`` over the last ``decay_fraction`` of the run.

    The paper trains at a constant rate, which makes the last checkpoint jitter from one validation to the next;
    a decay at the end makes the last model a meaningful one (used by the ACDC CPU study). The rate is computed
    from the engine's iteration alone (``max_epochs * epoch_length`` is the run's length), so a resumed run gets
    exactly the rates of an uninterrupted one and there is no state to checkpoint. ``decay_fraction=0`` (the
    default) leaves the optimizers alone. Every optimizer of the engine is set (``engine.optimizers`` of the
    co-training trainer, else ``engine.optimizer``).

    Args:
        base_lr: the rate before the decay.
        decay_fraction: share of the run over which the rate decays, in ``[0, 1]``.
        final_factor: the factor reached at the last iteration, in ``[0, 1]``.

    Raises:
        ValueError: on a fraction or factor outside ``[0, 1]`` or a non-positive ``base_lr``.
    """

    def __init__(self, base_lr: float, decay_fraction: float = 0.0, final_factor: float = 0.0) -> None:
        if not float(base_lr) > 0.0:
            raise ValueError(f"TailLrDecay: base_lr must be > 0, got {base_lr}.")
        for name, value in (("decay_fraction", decay_fraction), ("final_factor", final_factor)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"TailLrDecay: {name} must be in [0, 1], got {value}.")
        self.base_lr, self.decay_fraction, self.final_factor = float(base_lr), float(decay_fraction), float(final_factor)

    def attach(self, engine: Any) -> None:
        """Set the rate before every iteration of ``engine`` (no-op when ``decay_fraction`` is 0)."""
        if self.decay_fraction > 0.0:
            engine.add_event_handler(Events.ITERATION_STARTED, self)

    def lr(self, iteration: int, total: int) -> float:
        """The rate of 1-based ``iteration`` in a run of ``total`` iterations."""
        return self.base_lr * tail_decay_factor(iteration, total, self.decay_fraction, self.final_factor)

    def __call__(self, engine: Any) -> None:
        total = int(engine.state.max_epochs) * int(engine.state.epoch_length)
        rate = self.lr(int(engine.state.iteration), total)
        optimizers = getattr(engine, "optimizers", None) or [engine.optimizer]
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = rate
        engine.state.lr = rate
