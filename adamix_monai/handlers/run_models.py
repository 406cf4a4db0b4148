# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The model files of a training run, as a declared handler: ``model.json`` at the start, ``model_final.pt`` and the
published best model at the end."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["RunModels"]


class RunModels:
    """Writes a run's model files (rank 0 only, atomically).

    * ``STARTED``: ``<output_dir>/model.json`` from ``model_info`` (e.g. the ``image_size`` the models are trained
      at; never over the record of a run that has a checkpoint, see
      :func:`~adamix_monai.workflows.write_model_info`).
    * ``COMPLETED``: the last weights as ``<output_dir>/model_final.pt``, and, with ``publish``, the run's best
      model (``<output_dir>/model.pt``) copied to ``<publish_dir>/model.pt`` with its ``model.json`` (what
      ``inference.json`` and MONAI Label load).

    Args:
        output_dir: the run folder.
        network: the network whose last weights are saved.
        publish_dir: where the best model is published (a bundle's ``models/``).
        publish: publish at the end.
        model_info: what ``model.json`` records.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        network: torch.nn.Module,
        publish_dir: str | os.PathLike | None = None,
        publish: bool = True,
        model_info: Mapping[str, Any] | None = None,
    ) -> None:
        self.output_dir, self.network = str(output_dir), network
        self.publish_dir, self.publish = publish_dir, bool(publish)
        self.model_info = dict(model_info or {})

    def attach(self, engine: Any) -> None:
        """Register at ``STARTED`` and ``COMPLETED``."""
        engine.add_event_handler(Events.STARTED, self.started)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def started(self, engine: Any = None) -> None:
        """Write ``model.json``."""
        from adamix_monai.workflows.bundle import write_model_info

        write_model_info(self.output_dir, **self.model_info)

    def completed(self, engine: Any = None) -> None:
        """Save the last weights and publish the best model."""
        from adamix_monai.workflows.bundle import publish_model, save_model

        save_model(self.network, os.path.join(self.output_dir, "model_final.pt"))
        if self.publish and self.publish_dir is not None:
            publish_model(os.path.join(self.output_dir, "model.pt"), os.path.join(self.publish_dir, "model.pt"))
