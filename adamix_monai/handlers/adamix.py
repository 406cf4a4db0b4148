# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Ignite handlers of adamix-monai."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.schedule import ramp_length, self_paced_age
from adamix_monai.utils import numpy_state_from_dict, numpy_state_to_dict

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["AdaMixHandler"]


class _AgedMix(Protocol):
    """What the handler needs of a transform: :class:`~adamix_monai.transforms.AdaMix` or ``AdaMixd``."""

    R: np.random.RandomState
    last_stats: Any

    def set_age(self, age: float) -> None: ...


class AdaMixHandler:
    """Drives the self-paced age of AdaMix transforms from the engine's iteration, and logs their statistics.

    At ``ITERATION_STARTED`` it sets ``λ`` on every transform; at ``ITERATION_COMPLETED`` it writes to
    ``engine.state``:

    * ``adamix_lambda``: the age used in this iteration;
    * ``adamix_mean_n``: mean number of patches replaced per image, over every image of every transform that
      ran in this iteration (0 for images left unmixed);
    * ``adamix_hard_fraction``: fraction of those images mixed in the hard direction;
    * ``adamix_mixed_fraction``: mean fraction of the image area taken from auxiliary images.

    so that ``StatsHandler(state_attributes=[...])`` or ``TensorBoardStatsHandler(state_attributes=[...])``
    logs them (the attribute names use ``state_prefix``).

    The age at the engine's (1-based) iteration ``i`` is ``λ(i - 1 - lag)``, with ``λ`` from
    :func:`~adamix_monai.schedule.self_paced_age`, and ``initial_age`` before the schedule starts. The default
    ``lag=1`` reproduces the released code, which updates the age at the end of each call: step ``t`` (0-based)
    mixes with ``λ(t - 1)``, and the very first step with the initial age 1.

    ``state_dict()`` holds the schedule and the transforms' random states, so a run resumed with
    ``CheckpointLoader`` (put the handler in the ``save_dict``/``load_dict``) continues the schedule and the
    mixing draws exactly.

    Args:
        transforms: one AdaMix/AdaMixd transform or several (e.g. the labeled and unlabeled streams).
        total_iterations: the run length; by default ``engine.state.max_epochs * engine.state.epoch_length``.
        ramp_fraction: fraction of the run over which λ rises to 1 (0.25 in the paper's code).
        lag: iterations by which λ trails the step (1 as the reference code, 0 for none).
        initial_age: the age before the schedule starts (steps ``t < lag``).
        state_prefix: prefix of the ``engine.state`` attributes written.
        name: logger name; None uses the engine's logger.

    Raises:
        ValueError: when no transform is given, one lacks ``set_age``, or ``lag < 0``.
    """

    def __init__(
        self,
        transforms: _AgedMix | Iterable[_AgedMix],
        total_iterations: int | None = None,
        ramp_fraction: float = 0.25,
        lag: int = 1,
        initial_age: float = 1.0,
        state_prefix: str = "adamix",
        name: str | None = None,
    ) -> None:
        items = [transforms] if hasattr(transforms, "set_age") else list(transforms)  # type: ignore[arg-type]
        if not items:
            raise ValueError("AdaMixHandler: give at least one AdaMix/AdaMixd transform.")
        for i, t in enumerate(items):
            if not callable(getattr(t, "set_age", None)):
                raise ValueError(f"AdaMixHandler: transforms[{i}] ({type(t).__name__}) has no set_age(age) method.")
        if lag < 0:
            raise ValueError(f"AdaMixHandler: lag must be >= 0, got {lag}.")
        if total_iterations is not None:
            ramp_length(total_iterations, ramp_fraction)  # validates both
        self.transforms: list[_AgedMix] = items
        self.total_iterations = total_iterations
        self.ramp_fraction = ramp_fraction
        self.lag = int(lag)
        self.initial_age = float(initial_age)
        self.state_prefix = state_prefix
        self.age = float(initial_age)
        self.iteration = 0
        self.logger = logging.getLogger(name)
        self._name = name

    def attach(self, engine: Engine, collect: bool = True) -> None:
        """Register the handler on ``engine`` (``ITERATION_STARTED``, and ``ITERATION_COMPLETED`` for statistics).

        Args:
            engine: the engine.
            collect: gather the statistics at ``ITERATION_COMPLETED``; an engine that calls :meth:`collect` itself
                inside its step (as :class:`~adamix_monai.engines.SemiSupervisedTrainer` does, to put them in its
                output) passes False.
        """
        if self._name is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self, Events.ITERATION_STARTED):
            engine.add_event_handler(Events.ITERATION_STARTED, self)
        if collect and not engine.has_event_handler(self.collect, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        self._publish(engine, mean_n=0.0, hard=0.0, mixed=0.0)

    def run_length(self, engine: Engine) -> int:
        """Total iterations of the run: ``total_iterations`` or ``max_epochs * epoch_length``."""
        if self.total_iterations is not None:
            return int(self.total_iterations)
        state = engine.state
        if getattr(state, "max_iters", None):
            return int(state.max_iters)
        if not state.epoch_length or not state.max_epochs:
            raise ValueError(
                "AdaMixHandler: the run length is unknown (engine.state.epoch_length or max_epochs is unset); "
                "pass total_iterations."
            )
        return int(state.max_epochs) * int(state.epoch_length)

    def age_at(self, iteration: int, total_iterations: int) -> float:
        """The age used at the engine's 1-based ``iteration``."""
        t = iteration - 1 - self.lag
        if t < 0:
            return self.initial_age
        return self_paced_age(t, total_iterations, self.ramp_fraction)

    def __call__(self, engine: Engine) -> None:
        """Set the age of every transform for the iteration that starts."""
        self.iteration = int(engine.state.iteration)
        self.age = self.age_at(self.iteration, self.run_length(engine))
        for t in self.transforms:
            t.set_age(self.age)
            if hasattr(t, "last_stats"):
                t.last_stats = None
        setattr(engine.state, f"{self.state_prefix}_lambda", self.age)

    def collect(self, engine: Engine) -> None:
        """Gather the statistics of the transforms that ran in this iteration into ``engine.state``.

        Mean n, the hard fraction and the mixed fraction stay 0-d tensors on the transforms' device (no host
        synchronisation in the step); ``float()`` them where they are logged.
        """
        stats = [s for s in (getattr(t, "last_stats", None) for t in self.transforms) if s is not None]
        if not stats:
            self._publish(engine, mean_n=0.0, hard=0.0, mixed=0.0)
            return
        n = torch.cat([s.n.reshape(-1).float() for s in stats])
        hard = torch.cat([(s.hard.reshape(-1) & (s.n.reshape(-1) > 0)).float() for s in stats])
        mixed = torch.cat([s.mixed_fraction.reshape(-1).float() for s in stats])
        self._publish(engine, mean_n=n.mean(), hard=hard.mean(), mixed=mixed.mean())

    def _publish(self, engine: Engine, mean_n: Any, hard: Any, mixed: Any) -> None:
        p = self.state_prefix
        setattr(engine.state, f"{p}_lambda", self.age)
        setattr(engine.state, f"{p}_mean_n", mean_n)
        setattr(engine.state, f"{p}_hard_fraction", hard)
        setattr(engine.state, f"{p}_mixed_fraction", mixed)

    def state_dict(self) -> dict[str, Any]:
        """The schedule and the random states of the transforms (tensors and plain values only)."""
        return {
            "iteration": self.iteration,
            "age": self.age,
            "total_iterations": self.total_iterations,
            "ramp_fraction": self.ramp_fraction,
            "lag": self.lag,
            "initial_age": self.initial_age,
            "rng_states": [numpy_state_to_dict(t.R.get_state(legacy=True)) for t in self.transforms],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved and set the restored age on the transforms.

        Raises:
            ValueError: when the saved state belongs to a different number of transforms.
        """
        rng_states = list(state_dict.get("rng_states", []))
        if rng_states and len(rng_states) != len(self.transforms):
            raise ValueError(
                f"AdaMixHandler: the checkpoint holds {len(rng_states)} transform states but the handler drives "
                f"{len(self.transforms)} transforms."
            )
        self.iteration = int(state_dict.get("iteration", 0))
        self.age = float(state_dict.get("age", self.initial_age))
        if state_dict.get("total_iterations") is not None:
            self.total_iterations = int(state_dict["total_iterations"])
        self.ramp_fraction = float(state_dict.get("ramp_fraction", self.ramp_fraction))
        self.lag = int(state_dict.get("lag", self.lag))
        self.initial_age = float(state_dict.get("initial_age", self.initial_age))
        for t, rng in zip(self.transforms, rng_states):
            t.R.set_state(numpy_state_from_dict(rng))
        for t in self.transforms:
            t.set_age(self.age)
        if not math.isfinite(self.age):
            raise ValueError(f"AdaMixHandler: the checkpoint holds a non-finite age {self.age}.")
