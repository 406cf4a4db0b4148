# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The MONAI Label app class and its active-learning strategy (needs ``monailabel``; package docstring)."""

from __future__ import annotations

import logging
from typing import Any

import monailabel
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.strategy import Strategy
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleTrainTask
from monailabel.utils.others.generic import get_bundle_models, strtobool

from adamix_monai.active_learning import BundleUncertainty

__all__ = ["AdaMixLabelApp", "AdaMixUncertainty"]

logger = logging.getLogger(__name__)


class AdaMixUncertainty(Strategy):
    """The unlabeled study whose ``topk`` least confident patches are the least confident
    (:class:`~adamix_monai.active_learning.BundleUncertainty`).

    Args:
        bundle_root: the served bundle whose model ranks the studies.
        device: where the model runs.
    """

    def __init__(self, bundle_root: str, device: str | None = None) -> None:
        super().__init__("AdaMix uncertainty: the study the model is least sure of (its least confident patches)")
        self.scorer = BundleUncertainty(bundle_root, device=device)

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any] | None:
        """``{"id": <study>, "weight": <its uncertainty>}`` (MONAI Label 0.8.5's answer), or None when every study is
        labeled."""
        images = list(datastore.get_unlabeled_images(request.get("label_tag"), request.get("labels")))
        if not images:
            return None
        paths = {image: datastore.get_image_uri(image) for image in images}
        ranked = self.scorer.rank(paths.values())
        by_path = {path: image for image, path in paths.items()}
        best, score = ranked[0]
        logger.info(
            "AdaMix uncertainty: %s (%.4f) of %d unlabeled studies; next: %s",
            by_path[best],
            score,
            len(images),
            ", ".join(f"{by_path[p]} {s:.4f}" for p, s in ranked[1:4]) or "none",
        )
        return {"id": by_path[best], "weight": score}


class AdaMixLabelApp(MONAILabelApp):
    """MONAI's ``monaibundle`` app for the AdaMix bundles, with the ``adamix_uncertainty`` strategy."""

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        self.models = get_bundle_models(app_dir, conf)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"adamix-monai on MONAI Label {monailabel.__version__}",
            description="AdaMix semi-supervised segmentation bundles, with active learning by AdaMix confidence",
            version=monailabel.__version__,
        )

    def init_infers(self) -> dict[str, Any]:
        return {name: BundleInferTask(path, self.conf) for name, path in self.models.items()}

    def init_trainers(self) -> dict[str, Any]:
        if strtobool(self.conf.get("skip_trainers", "false")):
            return {}
        trainers = {}
        for name, path in self.models.items():
            task = BundleTrainTask(path, self.conf)
            if task and task.is_valid():
                trainers[name] = task
        return trainers

    def init_strategies(self) -> dict[str, Strategy]:
        strategies: dict[str, Strategy] = {"random": Random(), "first": First()}
        if self.models:
            name = self.conf.get("uncertainty_model") or next(iter(self.models))
            if name not in self.models:
                raise ValueError(f"--conf uncertainty_model {name}: not a served model ({', '.join(self.models)}).")
            strategies["adamix_uncertainty"] = AdaMixUncertainty(self.models[name], self.conf.get("uncertainty_device"))
            logger.info("active learning: adamix_uncertainty ranks with %s", name)
        return strategies
