# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""AdaMix as MONAI transforms: the array transform :class:`AdaMix` and the dictionary transform :class:`AdaMixd`.

Both are *batch-level*: they take collated batches ``(B, C, *spatial)`` (plain tensors or ``MetaTensor``; 2D or
3D; any batch size) and mix each image of a batch with an auxiliary image. One family covers every mix
strategy of the paper by its ``mode``:

============== =============================== ======================================================
mode           direction per image             patches per image
============== =============================== ======================================================
``adamix``     self-paced mask: hard if L < λ  self-paced weight: ``min(K, |trunc(K (1 - L/(λ+1e-5)))|)``
``adamix_v1``  self-paced mask (ablation V1)   ``K``
``adamix_v2``  easy (ablation V2)              self-paced weight
``umix``       easy (low <- high confidence)   ``K``
``iumix``      hard (high <- low confidence)   ``K``
``cutmix``     random boxes, in place          3 boxes, 25-50% of the area
``none``       identity                        0
============== =============================== ======================================================

The mix fires with probability ``prob`` per call (per batch), as in the released code. The age λ is set from
outside, by :class:`adamix_monai.handlers.AdaMixHandler` or :meth:`AdaMix.set_age`. After each plan,
:attr:`AdaMix.last_stats` holds per-image statistics (direction, n, mixed area) for logging.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import TransformBackends
from monai.utils.enums import StrEnum

from adamix_monai.mixing import BOX_RULES, apply_plan, box_mask, ensure_grid, patch_scores, plan_patch_mix
from adamix_monai.schedule import proxy_dice_loss, self_paced_plan

__all__ = ["AdaMix", "AdaMixD", "AdaMixDict", "AdaMixd", "MixMode", "MixStats"]


class MixMode(StrEnum):
    """The mix strategies of the AdaMix family (names as used in configs)."""

    NONE = "none"
    CUTMIX = "cutmix"
    UMIX = "umix"
    IUMIX = "iumix"
    ADAMIX_V1 = "adamix_v1"
    ADAMIX_V2 = "adamix_v2"
    ADAMIX = "adamix"


# mode -> (self-paced mask decides the direction, self-paced weight decides n, direction when no mask)
_PATCH_RULES: dict[MixMode, tuple[bool, bool, bool]] = {
    MixMode.ADAMIX: (True, True, False),
    MixMode.ADAMIX_V1: (True, False, False),
    MixMode.ADAMIX_V2: (False, True, False),
    MixMode.UMIX: (False, False, False),
    MixMode.IUMIX: (False, False, True),
}


@dataclass
class MixStats:
    """Per-image statistics of the last call.

    Attributes:
        mode: the mix strategy.
        applied: whether the mix fired (the ``prob`` draw succeeded and the mode is not ``none``).
        age: the age λ used for this call.
        n: ``(B,)`` patches replaced per image (0 for images left alone, and for ``cutmix``).
        hard: ``(B,)`` True where the image was mixed in the hard direction.
        mixed_fraction: ``(B,)`` fraction of each image's area taken from the auxiliary image.
        proxy_loss: ``(B,)`` proxy losses when the mode used them, else None.
        plan: the :class:`~adamix_monai.mixing.PatchPlan` (patch modes) or the boolean box mask (``cutmix``)
            applied, None when the batch was left alone; for figures and debugging.
    """

    mode: str
    applied: bool
    age: float
    n: torch.Tensor
    hard: torch.Tensor
    mixed_fraction: torch.Tensor
    proxy_loss: torch.Tensor | None = field(default=None)
    plan: Any = field(default=None, repr=False)

    @classmethod
    def unmixed(cls, mode: str, age: float, batch_size: int, device: torch.device | None = None) -> MixStats:
        """Statistics of a batch left as it was."""
        return cls(
            mode=mode,
            applied=False,
            age=age,
            n=torch.zeros(batch_size, dtype=torch.long, device=device),
            hard=torch.zeros(batch_size, dtype=torch.bool, device=device),
            mixed_fraction=torch.zeros(batch_size, device=device),
        )


def _plain(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, MetaTensor):
        return x.as_tensor()
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.as_tensor(x)
    raise TypeError(f"AdaMix: '{name}' must be a torch.Tensor, MetaTensor or numpy array, got {type(x).__name__}.")


def _like(out: torch.Tensor, original: Any) -> Any:
    """Give ``out`` the type (and metadata) of ``original``."""
    if isinstance(original, MetaTensor):
        wrapped = MetaTensor(out, meta=original.meta, applied_operations=original.applied_operations)
        wrapped.is_batch = original.is_batch
        return wrapped
    if isinstance(original, np.ndarray):
        return out.cpu().numpy()
    return out


class AdaMix(RandomizableTransform):
    """Adaptive patch mix-up of a batch with an auxiliary batch (array transform).

    Per image ``i`` the original and the auxiliary image are cut into a grid of patches, each patch scored by
    its mean confidence; ``n_i`` patches of the original are replaced by ``n_i`` patches of the auxiliary
    image, paired by confidence rank, each auxiliary patch moved to the position of the patch it replaces.
    The same replacement is applied to every tensor given, so labels and confidence stay aligned with pixels.

    MONAI's randomize-then-apply pattern (as ``MixUp``/``CutMix``): :meth:`randomize` draws the ``prob`` decision
    and makes the plan once per batch, from the image batch, the confidence maps and the proxy losses; each
    tensor is then mixed under that plan with ``randomize=False``. Example::

        mix = AdaMix(mode="adamix", grid=8, topk=16, prob=0.5)
        mix.set_random_state(seed=0)
        mix.set_age(0.3)
        mix.randomize(image, confidence=conf, aux_confidence=aux_conf, proxy_loss=loss)
        image = mix(image, aux_image, randomize=False)
        label = mix(label, aux_label, randomize=False)
        conf = mix(conf, aux_conf, randomize=False)

    ``mix([image, label], [aux_image, aux_label], confidence=..., ...)`` does the same in one call.

    Args:
        mode: one of :class:`MixMode` (``"adamix"``, ``"adamix_v1"``, ``"adamix_v2"``, ``"umix"``, ``"iumix"``,
            ``"cutmix"``, ``"none"``).
        grid: patches per side, one int or one per spatial axis (8 -> 8x8 grid of 32x32 patches at 256x256;
            ``(4, 4, 4)`` -> 20x28x28 blocks at 80x112x112). The reference code calls it ``patch_size``.
        topk: ``K``, the most patches replaced in one image (16 in the paper).
        prob: probability that a call mixes the batch (0.5 in the paper).
        age: initial age λ (the reference starts at 1).
        n_boxes: CutMix boxes per image.
        box_area: CutMix area proportion range (per box with ``box_rule="toggle"``, per image with ``"union"``).
        box_rule: how CutMix boxes combine: ``"toggle"`` (default: the reference's generator, one area per box,
            overlapping boxes toggle each other off) or ``"union"`` (one area per image, union of the boxes); see
            :func:`~adamix_monai.mixing.box_mask`.

    Raises:
        ValueError: on an unknown mode, ``topk < 1``, or a ``topk`` larger than the number of patches.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        mode: str = MixMode.ADAMIX,
        grid: int | Sequence[int] = 8,
        topk: int = 16,
        prob: float = 0.5,
        age: float = 1.0,
        n_boxes: int = 3,
        box_area: tuple[float, float] = (0.25, 0.5),
        box_rule: str = "toggle",
    ) -> None:
        RandomizableTransform.__init__(self, prob=prob)
        try:
            self.mode = MixMode(mode)
        except ValueError:
            raise ValueError(f"AdaMix: unknown mode '{mode}'; expected one of {[m.value for m in MixMode]}.") from None
        self.grid = grid
        self.topk = int(topk)
        if self.topk < 1:
            raise ValueError(f"AdaMix: topk must be >= 1, got {topk}.")
        if not isinstance(grid, (int, np.integer)) and math.prod(int(g) for g in grid) < self.topk:
            raise ValueError(
                f"AdaMix: topk={topk} exceeds the {math.prod(int(g) for g in grid)} patches of grid={tuple(grid)}."
            )
        if not 0.0 < box_area[0] <= box_area[1] <= 1.0:
            raise ValueError(f"AdaMix: box_area must satisfy 0 < low <= high <= 1, got {tuple(box_area)}.")
        self.set_age(age)
        if box_rule not in BOX_RULES:
            raise ValueError(f"AdaMix: box_rule must be one of {BOX_RULES}, got '{box_rule}'.")
        self.box_rule = box_rule
        self.n_boxes = int(n_boxes)
        self.box_area = (float(box_area[0]), float(box_area[1]))
        self.last_stats: MixStats | None = None
        #: check the values of confidences and proxy losses (NaN, infinity) when planning; each check waits for
        #: the device, so :class:`~adamix_monai.engines.SemiSupervisedTrainer` checks its first step only
        self.check_values = True
        self._plan: Any = None
        self._planned = False
        self._shape: tuple[int, tuple[int, ...]] = (0, ())
        self._device: torch.device | None = None

    @property
    def needs_confidence(self) -> bool:
        """Whether the mode ranks patches by confidence (every patch mode)."""
        return self.mode in _PATCH_RULES

    @property
    def needs_proxy_loss(self) -> bool:
        """Whether the mode reads the per-image proxy loss (the self-paced modes)."""
        rules = _PATCH_RULES.get(self.mode)
        return bool(rules and (rules[0] or rules[1]))

    @property
    def will_mix(self) -> bool:
        """Whether the current draw mixes (the last :meth:`draw` succeeded, and the mode mixes)."""
        return self.mode != MixMode.NONE and bool(self._do_transform)

    def set_age(self, age: float) -> None:
        """Set the age λ used by the self-paced modes.

        Raises:
            ValueError: when ``age`` is not a finite number >= 0 (NaN would make ``n`` meaningless).
        """
        value = float(age)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"AdaMix: the age must be a finite number >= 0, got {age}.")
        self.age = value

    # ---- randomize: draw the decision, then make the plan ---------------------------------------------------------
    def draw(self) -> bool:
        """Draw whether the next mix fires (probability ``prob``) and drop the previous plan.

        :meth:`randomize` is ``draw`` then :meth:`plan`; the trainer calls the two apart because it needs the
        decision before it runs the forward passes that give the confidence maps.

        Returns:
            :attr:`will_mix`.
        """
        RandomizableTransform.randomize(self, None)
        self._plan, self._planned = None, False
        return self.will_mix

    def randomize(  # type: ignore[override]
        self,
        data: Any = None,
        confidence: Any = None,
        aux_confidence: Any = None,
        proxy_loss: Any = None,
        names: Sequence[str] = ("img", "confidence", "aux_confidence", "proxy_loss"),
    ) -> None:
        """Draw whether this batch is mixed and, given the image batch ``data``, make and keep the plan.

        MONAI's randomize-then-apply pattern: after ``randomize(data, ...)``, each tensor of the batch is mixed with
        ``mix(x, aux, randomize=False)`` (or :meth:`apply`) under the same plan. Without ``data`` only the decision
        is drawn (MONAI's ``RandomizableTransform.randomize(None)``); :meth:`plan` then makes the plan.

        Args:
            data: the image batch ``(B, C, *spatial)``; fixes the batch size and the spatial shape.
            confidence: ``(B, 1, *spatial)`` or ``(B, *spatial)`` confidence of the originals (patch modes).
            aux_confidence: the same for the auxiliary images.
            proxy_loss: ``(B,)`` per-image proxy losses (self-paced modes), e.g. from
                :func:`adamix_monai.schedule.proxy_dice_loss`.
            names: the names of those four inputs in error messages.
        """
        self.draw()
        if data is not None:
            self.plan(data, confidence, aux_confidence, proxy_loss, names)

    def plan(
        self,
        data: Any,
        confidence: Any = None,
        aux_confidence: Any = None,
        proxy_loss: Any = None,
        names: Sequence[str] = ("img", "confidence", "aux_confidence", "proxy_loss"),
    ) -> None:
        """Make the plan of the drawn decision for the image batch ``data`` (no new ``prob`` draw).

        When the draw failed (or the mode is ``none``) the plan leaves the batch as it is, and the inputs the mix
        would read are not needed; :attr:`last_stats` says "not mixed" either way.

        Args:
            data, confidence, aux_confidence, proxy_loss: as :meth:`randomize`.
            names: the names of those four inputs in error messages (the dictionary transform passes its keys).

        Raises:
            ValueError: on a batch, confidence or proxy loss of the wrong shape, or holding NaN.
        """
        x0 = _plain(data, names[0])
        batch, spatial = self.check_image(names[0], x0)
        grid: tuple[int, ...] = ()
        if self.mode in _PATCH_RULES:
            grid = ensure_grid(self.grid, spatial)
            if math.prod(grid) < self.topk:
                raise ValueError(f"AdaMix: topk={self.topk} exceeds the {math.prod(grid)} patches of grid={grid}.")
        self._shape, self._device, self._planned = (batch, spatial), x0.device, True
        self._plan = None
        if not self.will_mix:
            self.last_stats = MixStats.unmixed(self.mode.value, self.age, batch, x0.device)
        elif self.mode == MixMode.CUTMIX:
            mask = box_mask(batch, spatial, self.R, self.n_boxes, self.box_area, device=x0.device, rule=self.box_rule)
            self.last_stats = MixStats.unmixed(self.mode.value, self.age, batch, x0.device)
            self.last_stats.applied = True
            self.last_stats.mixed_fraction = mask.reshape(batch, -1).float().mean(dim=1)
            self.last_stats.plan = self._plan = mask
        else:
            self._plan = self._patch_plan(batch, spatial, grid, (confidence, aux_confidence), proxy_loss, names[1:])

    # ---- apply ------------------------------------------------------------------------------------------------------
    def apply(self, img: Any, aux: Any, name: str = "img", aux_name: str = "aux") -> Any:
        """Mix one tensor of the batch with its auxiliary tensor under the current plan.

        Args:
            img: ``(B, C, *spatial)`` or ``(B, *spatial)``: the image, a label, a pseudo-label or a confidence map.
            aux: the auxiliary tensor, of the shape, dtype and device of ``img``.
            name, aux_name: their names in error messages.

        Returns:
            The mixed tensor, of ``img``'s type (``MetaTensor`` metadata kept); ``img`` itself when the plan leaves
            the batch as it is.

        Raises:
            RuntimeError: when no plan was made for the current draw.
            ValueError: on a tensor that does not match the planned batch, or an auxiliary tensor that does not
                match it.
        """
        if not self._planned:
            raise RuntimeError(
                "AdaMix: no plan for the current draw; call randomize(image, confidence, aux_confidence, proxy_loss) "
                "(or plan(...)) before mixing with randomize=False."
            )
        x_t, aux_t = _plain(img, name), _plain(aux, aux_name)
        batch, spatial = self._shape
        self._check_shape(name, x_t, batch, spatial)
        if tuple(aux_t.shape) != tuple(x_t.shape):
            raise ValueError(
                f"AdaMix: '{aux_name}' has shape {tuple(aux_t.shape)} but '{name}' has {tuple(x_t.shape)}; "
                "the auxiliary tensor must have the same shape as the tensor it is mixed into."
            )
        if aux_t.dtype != x_t.dtype or aux_t.device != x_t.device:
            raise ValueError(
                f"AdaMix: '{aux_name}' is {aux_t.dtype} on {aux_t.device} but '{name}' is {x_t.dtype} on "
                f"{x_t.device}; the auxiliary tensor must have the dtype and device of the tensor it is mixed "
                "into (convert it first, e.g. aux.to(x))."
            )
        if x_t.device != self._device:
            raise ValueError(f"AdaMix: '{name}' is on {x_t.device} but the image is on {self._device}.")
        if self._plan is None:
            return img
        return _like(apply_plan(x_t, aux_t, self._plan), img)

    def __call__(  # type: ignore[override]
        self,
        img: torch.Tensor | Sequence[torch.Tensor],
        aux: torch.Tensor | Sequence[torch.Tensor],
        confidence: torch.Tensor | None = None,
        aux_confidence: torch.Tensor | None = None,
        proxy_loss: torch.Tensor | None = None,
        randomize: bool = True,
    ) -> Any:
        """Mix ``img`` with ``aux``: :meth:`randomize` on the image (unless ``randomize=False``), then :meth:`apply`.

        Args:
            img: a batch ``(B, C, *spatial)``, or a sequence of tensors to mix under one plan (image first, then
                labels, pseudo-labels, confidence maps; each ``(B, C, *spatial)`` or ``(B, *spatial)``).
            aux: the auxiliary batch, with the same structure and shapes as ``img``.
            confidence, aux_confidence, proxy_loss: as :meth:`randomize` (read only when ``randomize=True``).
            randomize: draw a new decision and plan first (False applies the current plan).

        Returns:
            The mixed tensor, or a list of mixed tensors in the order given.
        """
        single = isinstance(img, (torch.Tensor, np.ndarray))
        imgs = [img] if single else list(img)  # type: ignore[list-item]
        auxs = [aux] if single else list(aux)  # type: ignore[list-item]
        if len(imgs) != len(auxs):
            raise ValueError(f"AdaMix: got {len(imgs)} tensors to mix but {len(auxs)} auxiliary tensors.")
        if not imgs:
            raise ValueError("AdaMix: nothing to mix.")
        names = ["img"] if single else [f"img[{i}]" for i in range(len(imgs))]
        aux_names = ["aux"] if single else [f"aux[{i}]" for i in range(len(auxs))]
        if randomize:
            names_in = (names[0], "confidence", "aux_confidence", "proxy_loss")
            self.randomize(imgs[0], confidence, aux_confidence, proxy_loss, names_in)
        out = [self.apply(x, a, n, an) for x, a, n, an in zip(imgs, auxs, names, aux_names)]
        return out[0] if single else out

    def check_image(self, name: str, x: torch.Tensor) -> tuple[int, tuple[int, ...]]:
        """Check that ``x`` is an image batch ``(B, C, *spatial)``; returns the batch size and spatial shape."""
        grid_len = None if isinstance(self.grid, (int, np.integer)) else len(self.grid)  # type: ignore[arg-type]
        nd = grid_len if grid_len is not None and self.mode in _PATCH_RULES else x.ndim - 2
        if nd < 1 or x.ndim != nd + 2:
            raise ValueError(
                f"AdaMix: '{name}' must be a batch (B, C, *spatial) with {nd if nd >= 1 else '2 or 3'} spatial "
                f"axes, got shape {tuple(x.shape)}."
            )
        return int(x.shape[0]), tuple(int(s) for s in x.shape[2:])

    @staticmethod
    def _check_shape(name: str, x: torch.Tensor, batch: int, spatial: tuple[int, ...]) -> None:
        nd = len(spatial)
        if x.ndim not in (nd + 1, nd + 2) or x.shape[0] != batch or tuple(x.shape[-nd:]) != spatial:
            raise ValueError(
                f"AdaMix: '{name}' has shape {tuple(x.shape)}; expected (B, C, *spatial) = ({batch}, C, "
                f"{', '.join(map(str, spatial))}) or (B, *spatial) = {(batch, *spatial)}, matching the image."
            )

    def _patch_plan(
        self,
        batch: int,
        spatial: tuple[int, ...],
        grid: tuple[int, ...],
        confidences: tuple[Any, Any],
        proxy_loss: Any,
        names: Sequence[str],
    ) -> Any:
        use_mask, use_weight, fixed_hard = _PATCH_RULES[self.mode]
        scores = []
        for name, conf in zip(names[:2], confidences):
            if conf is None:
                raise ValueError(
                    f"AdaMix: mode '{self.mode.value}' ranks patches by confidence but '{name}' was not given; "
                    f"expected a (B, 1, *spatial) = {(batch, 1, *spatial)} confidence map."
                )
            c = _plain(conf, name)
            if c.ndim not in (len(spatial) + 1, len(spatial) + 2) or (c.ndim == len(spatial) + 2 and c.shape[1] != 1):
                raise ValueError(
                    f"AdaMix: confidence '{name}' has shape {tuple(c.shape)}; expected {(batch, 1, *spatial)} or "
                    f"{(batch, *spatial)} (one value per pixel, e.g. the max softmax probability)."
                )
            self._check_shape(name, c, batch, spatial)
            s = patch_scores(c, grid)
            if self.check_values and not bool(torch.isfinite(s).all()):
                raise ValueError(f"AdaMix: confidence '{name}' holds NaN or infinite values.")
            scores.append(s)
        loss = None
        if use_mask or use_weight:
            key = names[2]
            if proxy_loss is None:
                raise ValueError(f"AdaMix: mode '{self.mode.value}' needs the per-image proxy loss '{key}', shape ({batch},).")
            loss = _plain(proxy_loss, key).reshape(-1)
            if loss.shape[0] != batch:
                raise ValueError(
                    f"AdaMix: proxy loss '{key}' has {loss.shape[0]} values; expected one per image, shape ({batch},)."
                )
            if self.check_values and not bool(torch.isfinite(loss).all()):
                raise ValueError(f"AdaMix: proxy loss '{key}' holds NaN or infinite values.")
            n, hard = self_paced_plan(loss, self.age, self.topk, use_mask, use_weight, fixed_hard, check=False)
        else:
            n = torch.full((batch,), self.topk, dtype=torch.long)
            hard = torch.full((batch,), fixed_hard, dtype=torch.bool)
        static = scores[0].device.type != "cpu"  # on accelerators: K = topk, known without reading n back
        plan = plan_patch_mix(scores[0], scores[1], n, hard, grid, max_n=self.topk if static else None)
        self.last_stats = MixStats(
            mode=self.mode.value,
            applied=True,
            age=self.age,
            n=plan.n,
            hard=plan.hard,
            mixed_fraction=plan.mixed_fraction(),
            proxy_loss=None if loss is None else loss.detach(),
            plan=plan,
        )
        return plan


class AdaMixd(RandomizableTransform, MapTransform):
    """Dictionary-based wrapper of :class:`AdaMix`, for collated batches.

    The batch dictionary holds, for every key in ``keys``, the original batch under ``key`` and the auxiliary
    batch under ``key + aux_postfix`` (``"image"`` and ``"image_aux"``). The confidence map of the originals is
    under ``confidence_key`` and that of the auxiliary images under ``confidence_key + aux_postfix``; it is mixed
    too unless ``mix_confidence=False`` (so a confidence threshold applied after the mix sees mixed values).
    The self-paced modes read the ``(B,)`` per-image proxy losses under ``proxy_loss_key``, or compute them
    with :func:`adamix_monai.schedule.proxy_dice_loss` from ``proxy_pred_key`` (logits) against
    ``proxy_target_key`` when those are given.

    With ``aux_postfix=None`` the auxiliary batch is the batch itself in a random order (as MONAI's ``MixUpd``
    and ``CutMixd`` pair samples), so the transform also works in a pipeline that has no auxiliary loader.

    Labels may be index maps ``(B, 1, *spatial)`` or ``(B, *spatial)``, or one-hot ``(B, C, *spatial)``: the
    replacement copies whole pixels across all channels, so each form stays consistent with the image.

    Args:
        keys: keys of the tensors to mix (image first).
        confidence_key: key of the originals' confidence map.
        proxy_loss_key: key of the ``(B,)`` proxy losses.
        aux_postfix: postfix of the auxiliary keys, or None to pair samples within the batch.
        mix_confidence: also mix the confidence map (the reference does).
        proxy_pred_key: key of logits to compute the proxy loss from when ``proxy_loss_key`` is absent.
        proxy_target_key: key of the target of that proxy loss.
        mode, grid, topk, prob, age, n_boxes, box_area, box_rule: as :class:`AdaMix`.
        allow_missing_keys: skip keys of ``keys`` that are absent (the image must be present).
    """

    backend = AdaMix.backend

    def __init__(
        self,
        keys: KeysCollection,
        confidence_key: str = "confidence",
        proxy_loss_key: str = "proxy_loss",
        aux_postfix: str | None = "_aux",
        mix_confidence: bool = True,
        proxy_pred_key: str | None = None,
        proxy_target_key: str | None = None,
        mode: str = MixMode.ADAMIX,
        grid: int | Sequence[int] = 8,
        topk: int = 16,
        prob: float = 0.5,
        age: float = 1.0,
        n_boxes: int = 3,
        box_area: tuple[float, float] = (0.25, 0.5),
        box_rule: str = "toggle",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=prob)
        self.mixer = AdaMix(
            mode=mode, grid=grid, topk=topk, prob=prob, age=age, n_boxes=n_boxes, box_area=box_area, box_rule=box_rule
        )
        self.R = self.mixer.R
        self.confidence_key = confidence_key
        self.proxy_loss_key = proxy_loss_key
        self.aux_postfix = aux_postfix
        self.mix_confidence = mix_confidence
        self.proxy_pred_key = proxy_pred_key
        self.proxy_target_key = proxy_target_key

    @property
    def mode(self) -> MixMode:
        """The mix strategy."""
        return self.mixer.mode

    @property
    def age(self) -> float:
        """The age λ of the wrapped :class:`AdaMix`."""
        return self.mixer.age

    @property
    def last_stats(self) -> MixStats | None:
        """Per-image statistics of the last call."""
        return self.mixer.last_stats

    @last_stats.setter
    def last_stats(self, stats: MixStats | None) -> None:
        self.mixer.last_stats = stats

    def set_age(self, age: float) -> None:
        """Set the age λ used by the self-paced modes."""
        self.mixer.set_age(age)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> AdaMixd:
        """Seed the transform (its own draws and the wrapped :class:`AdaMix` share one random state)."""
        self.mixer.set_random_state(seed, state)
        self.R = self.mixer.R
        return self

    def randomize(self, data: Any = None) -> None:
        """Draw whether the next call mixes."""
        self.mixer.draw()
        self._do_transform = self.mixer.will_mix

    def _aux(self, d: Mapping[Hashable, Any], key: Hashable, order: torch.Tensor | None) -> tuple[str, Any]:
        if order is not None:
            x = _plain(d[key], str(key))
            return f"{key}[permuted]", x[order.to(x.device)]
        aux_key = f"{key}{self.aux_postfix}"
        if aux_key not in d:
            raise KeyError(
                f"AdaMixd: the batch has '{key}' but no auxiliary batch '{aux_key}'; add it (e.g. from an auxiliary "
                f"loader) or pass aux_postfix=None to pair samples within the batch. "
                f"Keys present: {sorted(map(str, d))}."
            )
        return aux_key, d[aux_key]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:  # type: ignore[override]
        """Mix one collated batch dictionary; returns a new dictionary with the mixed tensors.

        One plan per call (:meth:`AdaMix.randomize` on the image, confidence and proxy loss), applied to every key.
        """
        d = dict(data)
        keys = [k for k in self.key_iterator(d)]
        if not keys:
            raise KeyError(f"AdaMixd: none of the keys {list(self.keys)} is in the batch ({sorted(map(str, d))}).")
        if keys[0] != self.keys[0]:
            raise KeyError(f"AdaMixd: the first key '{self.keys[0]}' (the image) is missing from the batch.")
        image_name = str(keys[0])
        batch, _ = self.mixer.check_image(image_name, _plain(d[keys[0]], image_name))
        self.randomize()
        if not self._do_transform:
            self.mixer.plan(d[keys[0]], names=(image_name, "", "", ""))  # "not mixed" statistics
            return d

        order = None
        if self.aux_postfix is None:
            order = torch.as_tensor(self.R.permutation(batch), dtype=torch.long)
        mixed_keys = list(keys)
        conf = aux_conf = None
        aux_conf_name = f"{self.confidence_key}{self.aux_postfix}"
        if self.mixer.needs_confidence or (self.mix_confidence and self.confidence_key in d):
            if self.confidence_key not in d:
                raise KeyError(
                    f"AdaMixd: mode '{self.mode.value}' ranks patches by confidence but the batch has no "
                    f"'{self.confidence_key}' key (confidence_key). Keys present: {sorted(map(str, d))}."
                )
            conf = d[self.confidence_key]
            aux_conf_name, aux_conf = self._aux(d, self.confidence_key, order)
            if self.mix_confidence and self.confidence_key not in mixed_keys:
                mixed_keys.append(self.confidence_key)
        proxy = self._proxy_loss(d) if self.mixer.needs_proxy_loss else None
        names = (image_name, self.confidence_key, aux_conf_name, self.proxy_loss_key)
        self.mixer.plan(d[keys[0]], conf, aux_conf, proxy, names=names)
        for key in mixed_keys:
            aux_name, aux = self._aux(d, key, order)
            d[key] = self.mixer.apply(d[key], aux, str(key), aux_name)
        return d

    def _proxy_loss(self, d: Mapping[Hashable, Any]) -> Any:
        if self.proxy_loss_key in d:
            return d[self.proxy_loss_key]
        if self.proxy_pred_key is not None and self.proxy_target_key is not None:
            for key in (self.proxy_pred_key, self.proxy_target_key):
                if key not in d:
                    raise KeyError(f"AdaMixd: the proxy loss needs '{key}', which is not in the batch.")
            pred = _plain(d[self.proxy_pred_key], self.proxy_pred_key)
            target = _plain(d[self.proxy_target_key], self.proxy_target_key)
            with torch.no_grad():
                return proxy_dice_loss(pred, target)
        raise KeyError(
            f"AdaMixd: mode '{self.mode.value}' needs the per-image proxy loss under '{self.proxy_loss_key}' "
            "(shape (B,)), or proxy_pred_key and proxy_target_key to compute it; the batch has neither."
        )


AdaMixD = AdaMixDict = AdaMixd
