# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Active learning by AdaMix's own confidence: rank unlabeled studies by how unsure the model is of them.

AdaMix scores every patch of an image by its mean confidence (the maximum softmax probability,
:func:`~adamix_monai.mixing.patch_scores`) and replaces the least confident patches. The same score ranks studies
for annotation: a study's *uncertainty* is one minus the mean confidence of its ``topk`` least confident patches
(the patches AdaMix would treat as hard), on the bundle's patch grid. A 2D network on a volume is scored slice by
slice, every slice's patches pooled. :class:`BundleUncertainty` reads a bundle's ``configs/inference.json``
(preprocessing, inferer, network) and ``models/model.pt``, and caches each study's score until the study or the
model changes. MONAI Label serves it as the ``adamix_uncertainty`` strategy (:mod:`adamix_monai.label_app`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["BundleUncertainty", "study_uncertainty", "to_probabilities", "uncertainty_and_dice"]

logger = logging.getLogger(__name__)


def to_probabilities(output: torch.Tensor) -> torch.Tensor:
    """Class probabilities from an inferer's ``(B, C, *spatial)`` output: kept when it already is a distribution
    over ``C`` (the LA bundle's softmax sliding window), else its softmax (logits)."""
    output = output.float()
    if output.min() >= 0 and torch.allclose(output.sum(1), torch.ones((), device=output.device), atol=1e-3):
        return output
    return torch.softmax(output, dim=1)


def study_uncertainty(
    probabilities: torch.Tensor, grid: int | Sequence[int], topk: int, spatial_dims: int, slice_axis: int = -1
) -> float:
    """One minus the mean confidence of the ``topk`` least confident patches of a study.

    Args:
        probabilities: ``(1, C, *spatial)`` class probabilities of one study.
        grid: patches per side of the network's spatial axes (the bundle's ``grid``); sizes that the grid does not
            divide are pooled adaptively.
        topk: how many of the least confident patches count (the bundle's ``topk``, AdaMix's K).
        spatial_dims: the network's spatial dimensions; extra spatial axes (a 2D network on a volume) are slices.
        slice_axis: the spatial axis (0-based, or negative) that holds the slices when there is one more.

    Returns:
        The uncertainty in [0, 1 - 1/C]: 0 for a study the model is sure of everywhere.
    """
    confidence = probabilities.max(dim=1).values[0]  # (*spatial)
    if confidence.ndim == spatial_dims + 1:
        confidence = confidence.movedim(slice_axis % confidence.ndim, 0)
    else:
        confidence = confidence[None]
    if confidence.ndim != spatial_dims + 1:
        raise ValueError(f"a {spatial_dims}D network's output has {confidence.ndim - 1} spatial axes per slice.")
    size = (int(grid),) * spatial_dims if isinstance(grid, int) else tuple(int(g) for g in grid)
    size = tuple(min(g, s) for g, s in zip(size, confidence.shape[1:]))
    pool = F.adaptive_avg_pool2d if spatial_dims == 2 else F.adaptive_avg_pool3d
    patches = pool(confidence[:, None], size).flatten()
    lowest = torch.topk(patches, min(int(topk), patches.numel()), largest=False).values
    return float(1.0 - lowest.mean())


def _literal(config: dict[str, Any], key: str, default: Any) -> Any:
    value = config.get(key, default)
    return value if isinstance(value, (int, list)) and not isinstance(value, bool) else default


class BundleUncertainty:
    """Scores studies with a bundle's model (module docstring).

    Args:
        bundle_root: the bundle folder (``configs/inference.json``, ``models/model.pt``).
        device: where the model runs (default: CUDA when available).
        grid: patches per side; default: the bundle's ``grid`` in ``configs/train.json``, else 8.
        topk: least confident patches that count; default: the bundle's ``topk``, else 16.
    """

    def __init__(
        self,
        bundle_root: str | os.PathLike,
        device: str | torch.device | None = None,
        grid: int | Sequence[int] | None = None,
        topk: int | None = None,
    ) -> None:
        import json

        self.bundle_root = Path(bundle_root)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        train_file = self.bundle_root / "configs" / "train.json"
        train = json.loads(train_file.read_text()) if train_file.is_file() else {}
        self.grid = grid if grid is not None else _literal(train, "grid", 8)
        self.topk = int(topk if topk is not None else _literal(train, "topk", 16))
        self._model_key: tuple | None = None
        self._parts: tuple[torch.nn.Module, Callable, Callable, int, int] | None = None
        self._scores: dict[tuple, float] = {}

    @property
    def model_file(self) -> Path:
        return self.bundle_root / "models" / "model.pt"

    def _load(self) -> tuple[torch.nn.Module, Callable, Callable, int, int]:
        """The network, preprocessing, inferer, spatial dims and slice axis; reloaded when ``model.pt`` changes."""
        stat = self.model_file.stat() if self.model_file.is_file() else None
        key = (stat.st_mtime_ns, stat.st_size) if stat else None
        if self._parts is not None and key == self._model_key:
            return self._parts
        from monai.bundle import ConfigParser

        from adamix_monai.workflows import load_weights

        config = self.bundle_root / "configs" / "inference.json"
        if not config.is_file():
            from adamix_monai.errors import BundleInputError

            raise BundleInputError(f"uncertainty: '{self.bundle_root}' is not a bundle folder (no {config}).")
        parser = ConfigParser()
        parser.read_config(str(config))
        parser["bundle_root"] = str(self.bundle_root)
        parser["device"] = f"$torch.device('{self.device}')"
        network = parser.get_parsed_content("network_def").to(self.device)
        network.load_state_dict(load_weights(self.model_file, network, self.device))
        network.eval()
        preprocessing = parser.get_parsed_content("preprocessing")
        inferer = parser.get_parsed_content("inferer")
        spatial_dims = int(parser.get_parsed_content("spatial_dims")) if "spatial_dims" in parser else 2
        slice_axis = int(parser.get_parsed_content("slice_axis")) if "slice_axis" in parser else -1
        self._parts = (network, preprocessing, inferer, spatial_dims, slice_axis)
        self._model_key = key
        self._scores.clear()
        logger.info("uncertainty: model %s loaded (grid %s, topk %d)", self.model_file, self.grid, self.topk)
        return self._parts

    def score(self, image: str | os.PathLike) -> float:
        """The uncertainty of one study (cached until the study or the model changes)."""
        self._load()  # a new model.pt clears the cache first
        stat = os.stat(image)
        key = (os.path.realpath(image), stat.st_mtime_ns, stat.st_size)
        if key not in self._scores:
            self._scores[key] = self.uncertainty_of(self.probabilities(image))
        return self._scores[key]

    def probabilities(self, image: str | os.PathLike) -> torch.Tensor:
        """The model's ``(1, C, *spatial)`` class probabilities for one study (no cache)."""
        network, preprocessing, inferer, _, _ = self._load()
        x = torch.as_tensor(preprocessing({"image": str(image)})["image"])[None].to(self.device)
        with torch.no_grad():
            return to_probabilities(inferer(x, network))

    def uncertainty_of(self, probabilities: torch.Tensor) -> float:
        """:func:`study_uncertainty` with this bundle's grid, topk and slice layout."""
        _, _, _, spatial_dims, slice_axis = self._load()
        return study_uncertainty(probabilities, self.grid, self.topk, spatial_dims, slice_axis)

    def rank(self, images: Iterable[str | os.PathLike]) -> list[tuple[str, float]]:
        """``(image, uncertainty)`` pairs, the most uncertain first (ties by name).

        A study this bundle's preprocessing or network cannot take (another modality of a shared datastore: an RGB
        image for a grey-level model) is left out, with a warning naming it and the reason.
        """
        self._load()  # a missing or wrong model is an error, not a study to skip
        scored = []
        for path in images:
            try:
                scored.append((str(path), self.score(path)))
            except Exception as e:  # noqa: BLE001 - any reason means the same: not a study for this model
                reason = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}" if str(e) else type(e).__name__
                logger.warning("uncertainty: %s left out, this model cannot read it (%s)", path, reason)
        return sorted(scored, key=lambda t: (-t[1], t[0]))


def uncertainty_and_dice(
    scorer: BundleUncertainty, pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]], num_classes: int
) -> list[dict[str, Any]]:
    """How well the ranking finds the studies the model gets wrong: each labeled study's uncertainty beside the
    model's mean foreground Dice on it (the argmax of the same inference, no post-processing).

    Args:
        scorer: the bundle's scorer.
        pairs: ``(image, label)`` files.
        num_classes: classes including the background.

    Returns:
        ``[{"image", "uncertainty", "dice"}, ...]`` in the order of ``pairs``.
    """
    import numpy as np
    from monai.transforms import LoadImage

    load = LoadImage(image_only=True)
    rows = []
    for image, label in pairs:
        probabilities = scorer.probabilities(image)  # one inference gives both the prediction and the score
        prediction = probabilities.argmax(1)[0].cpu().numpy()
        truth = np.asarray(load(str(label)))
        dice = []
        for c in range(1, num_classes):
            total = (prediction == c).sum() + (truth == c).sum()
            dice.append(2.0 * ((prediction == c) & (truth == c)).sum() / total if total else 1.0)
        uncertainty = scorer.uncertainty_of(probabilities)
        rows.append({"image": str(image), "uncertainty": uncertainty, "dice": float(np.mean(dice))})
    return rows
