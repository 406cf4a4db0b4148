# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Atomic checkpoints that resume a run exactly, and the best-model saver MONAI Label loads from.

MONAI's ``CheckpointSaver`` writes in place (``atomic=False``), so a run killed while saving can leave a
truncated file. These handlers write to a temporary file in the same folder, flush it to disk, then rename it
over the target: a reader sees the old file or the new one, never half of one. Loading uses
``torch.load(weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.utils import IgniteInfo, min_version, optional_import

from adamix_monai.utils import atomic_open, is_rank0, numpy_state_from_dict, numpy_state_to_dict

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["BestModelSaver", "RNGState", "ResumableCheckpoint", "atomic_save"]


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over ``path``.

    Args:
        obj: what to save (tensors, dicts, lists and plain values, for ``weights_only`` loading).
        path: the destination.

    Returns:
        The destination path.
    """
    with atomic_open(path) as f:
        torch.save(obj, f)
    return Path(path)


class RNGState:
    """The global random states (python, numpy, torch CPU and CUDA) as a ``state_dict``-able object."""

    def state_dict(self) -> dict[str, Any]:
        """Current states, as tensors and plain values."""
        state = {
            "python": random.getstate(),
            "numpy": numpy_state_to_dict(np.random.get_state(legacy=True)),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the states saved by :meth:`state_dict`."""
        py = state["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))
        np.random.set_state(numpy_state_from_dict(state["numpy"]))
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def register_checkpoint_object(engine: Any, name: str, obj: Any) -> None:
    """Offer a stateful handler's state to the engine's :class:`ResumableCheckpoint` (one with ``engine_objects``):
    what a handler declared in a bundle's ``train#handlers`` does when attached, so the checkpoint need not name it.

    Args:
        engine: the engine the handler attaches to.
        name: the object's key in the checkpoint (``history``, ``mix_samples``).
        obj: an object with ``state_dict()``/``load_state_dict()``.
    """
    engine.__dict__.setdefault("checkpoint_extras", {})[name] = obj


class ResumableCheckpoint:
    """Saves everything a run needs to continue exactly, atomically; resumes from it when the run restarts.

    Attach it to the trainer with the trainer's ``checkpoint_objects()`` (engine, networks, optimizers, AdaMix
    schedule and random states, AMP scaler) and any other stateful objects (e.g. a :class:`BestModelSaver`); it
    adds the global random states itself. Every ``save_every`` iterations and at the end of the run it writes
    ``<save_dir>/<filename>`` (one file, replaced atomically). With ``resume=True``, an existing file is loaded
    when the trainer starts, so running the same command again after a crash continues where it stopped.

    Args:
        save_dir: folder of the checkpoint.
        objects: name -> object with ``state_dict()``/``load_state_dict()``.
        save_every: iterations between saves.
        engine_objects: also save the engine's own ``checkpoint_objects()`` (first) and the objects its handlers
            registered (:func:`register_checkpoint_object`), taken when the run starts: what lets a bundle declare
            the checkpoint in ``train#handlers``, which a trainer attaches while it is being built.
        filename: the checkpoint's file name.
        resume: load an existing checkpoint at ``STARTED``.
        name: logger name; None uses the engine's logger.

    Raises:
        ValueError: on ``save_every < 1`` or an object without ``state_dict``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        objects: Mapping[str, Any] | None = None,
        save_every: int = 100,
        filename: str = "checkpoint.pt",
        resume: bool = True,
        name: str | None = None,
        engine_objects: bool = False,
    ) -> None:
        objects = dict(objects or {})
        if save_every < 1:
            raise ValueError(f"ResumableCheckpoint: save_every must be >= 1, got {save_every}.")
        for key, obj in objects.items():
            if not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
                raise ValueError(f"ResumableCheckpoint: object '{key}' ({type(obj).__name__}) has no state_dict.")
        self.path = Path(save_dir) / filename
        self.objects = dict(objects)
        self.objects.setdefault("rng", RNGState())
        self.save_every, self.resume = int(save_every), bool(resume)
        self.logger = logging.getLogger(name)
        self._name = name
        self.engine_objects, self._merged = bool(engine_objects), False
        self.resumed_from: int | None = None

    def attach(self, engine: Any) -> None:
        """Register the resume at ``STARTED`` and the saves.

        Mid-epoch saves come every ``save_every`` iterations. The last iteration of an epoch is never saved on
        its own: the epoch's save comes at ``EPOCH_COMPLETED``, registered when the run starts, so after every
        other epoch-end handler (the validation, the best-model saver, the history). A kill at any point then
        resumes exactly: before that save, the run replays from the previous checkpoint, validation included;
        after it, the epoch's validation and its effects (the best model, the random states it consumed) are in
        the checkpoint.
        """
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.save_every), self._save_mid_epoch)
        engine.add_event_handler(Events.COMPLETED, self.save)

    def _start(self, engine: Any) -> None:
        if self.engine_objects and not self._merged:  # taken now: a trainer attaches its handlers before it is built
            own = engine.checkpoint_objects() if hasattr(engine, "checkpoint_objects") else {}
            self.objects = {**own, **getattr(engine, "checkpoint_extras", {}), **self.objects}
            self._merged = True
        self.remove_stale_temporaries()
        if self.resume:
            self.load(engine)
        if not engine.has_event_handler(self.save, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)  # last: after the validation

    def _save_mid_epoch(self, engine: Any) -> None:
        length = getattr(engine.state, "epoch_length", None)
        if length and engine.state.iteration % length == 0:
            return  # saved at EPOCH_COMPLETED, after the epoch's validation
        self.save(engine)

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete temporary files a write killed half-way left beside the checkpoint; returns them."""
        if not is_rank0() or not self.path.parent.is_dir():
            return []
        stale = sorted(self.path.parent.glob(f".{self.path.name}.*.tmp"))
        for tmp in stale:
            tmp.unlink(missing_ok=True)
            self.logger.info(f"removed {tmp}, left by a checkpoint write that did not finish")
        return stale

    def save(self, engine: Any = None) -> None:
        """Write the checkpoint (rank 0 only)."""
        if not is_rank0():
            return
        payload = {key: obj.state_dict() for key, obj in self.objects.items()}
        atomic_save(payload, self.path)
        iteration = getattr(getattr(engine, "state", None), "iteration", None)
        self.logger.info(f"checkpoint written: {self.path} (iteration {iteration})")

    def load(self, engine: Any = None) -> bool:
        """Load the checkpoint if it exists; returns whether it did.

        An engine's ``max_epochs`` above the checkpoint's is kept: that is a run continued for more epochs (the
        bundles' ``record_run`` allows ``--epochs`` to grow and nothing else to change).

        Raises:
            CheckpointError: when the file is damaged (truncated, empty, not a PyTorch file).
            ValueError: when the file holds no entry for one of the objects.
        """
        if not self.path.is_file():
            return False
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a damaged file (truncated, empty, not PyTorch) is one user error
            from adamix_monai.errors import CheckpointError

            raise CheckpointError(
                f"checkpoint '{self.path}' is damaged ({type(e).__name__}); delete it to start the run again from "
                "the beginning (or restore it from a backup)."
            ) from None
        missing = [key for key in self.objects if key not in state]
        if missing:
            raise ValueError(f"ResumableCheckpoint: {self.path} has no entry for {missing}; it belongs to another run.")
        requested = getattr(getattr(engine, "state", None), "max_epochs", None)
        for key, obj in self.objects.items():
            obj.load_state_dict(state[key])
        if requested is not None and (engine.state.max_epochs or 0) < requested:
            engine.state.max_epochs = requested  # a run continued for more epochs (``--epochs`` raised)
        trainer_state = state.get("trainer", {})
        self.resumed_from = int(trainer_state.get("iteration", 0)) if isinstance(trainer_state, Mapping) else None
        self.logger.info(f"resumed from {self.path} at iteration {self.resumed_from}")
        return True


class BestModelSaver:
    """Saves the network whenever the evaluator's key metric improves, atomically, as a plain state dict.

    The file (``models/model.pt`` in a bundle) is what ``inference.json`` and MONAI Label load. Attach it to
    the *validation* evaluator; never select on the test set.

    Args:
        save_dir: folder of the model file.
        network: the network to save (a DDP wrapper is unwrapped).
        metric_name: the metric in ``evaluator.state.metrics``; default the evaluator's key metric.
        filename: the file name.
        mode: ``"max"`` (Dice) or ``"min"`` (a loss).

    Raises:
        ValueError: on an unknown mode.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        network: torch.nn.Module,
        metric_name: str | None = None,
        filename: str = "model.pt",
        mode: str = "max",
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"BestModelSaver: mode must be 'max' or 'min', got '{mode}'.")
        self.path = Path(save_dir) / filename
        self.network = network.module if hasattr(network, "module") else network
        self.metric_name, self.mode = metric_name, mode
        self.best = -math.inf if mode == "max" else math.inf
        self.best_epoch = -1

    def attach(self, evaluator: Any) -> None:
        """Register on the evaluator's ``EPOCH_COMPLETED``."""
        evaluator.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, evaluator: Any) -> None:
        name = self.metric_name or getattr(evaluator.state, "key_metric_name", None)
        if name is None or name not in evaluator.state.metrics:
            raise ValueError(
                f"BestModelSaver: metric '{name}' is not among the evaluator's metrics {list(evaluator.state.metrics)}."
            )
        value = float(evaluator.state.metrics[name])
        better = value > self.best if self.mode == "max" else value < self.best
        if better and math.isfinite(value):
            self.best, self.best_epoch = value, int(evaluator.state.epoch)
            if is_rank0():
                atomic_save(self.network.state_dict(), self.path)

    def state_dict(self) -> dict[str, Any]:
        """The best value so far (so a resumed run does not overwrite a better model)."""
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the best value."""
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
