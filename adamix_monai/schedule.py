# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The self-paced plan of AdaMix, as pure functions.

* :func:`self_paced_age`: the age ``lambda(t) = exp(-5 (1 - min(t, t_m) / t_m)^2)``, ``t_m = ramp_fraction *
  total_iterations`` (0.25 in the released code, where ``t_m = total_iters // 4``).
* :func:`proxy_dice_loss`: the per-image proxy loss, a soft Dice over all classes including background.
* :func:`self_paced_plan`: per image, the mask ``m = L < lambda`` (the mix direction: hard when true) and the
  number of patches ``n = min(K, |trunc(K v)|)`` with the weight ``v = 1 - L / (lambda + 1e-5)``.

The arithmetic follows the released reference code exactly (``docs/algorithm.md`` section 2): no clamp
on ``v``, truncation toward zero, the absolute value, then the cap at ``K``. A negative ``v`` therefore mixes
``|trunc(K v)|`` patches in the easy direction.
"""

from __future__ import annotations

import math

import torch

__all__ = ["AGE_EPSILON", "proxy_dice_loss", "ramp_length", "self_paced_age", "self_paced_plan"]

AGE_EPSILON = 1e-5
"""Added to the age in the weight ``v = 1 - L / (lambda + AGE_EPSILON)``, as the reference code does."""


def ramp_length(total_iterations: int, ramp_fraction: float = 0.25) -> int:
    """``t_m``, the iteration at which the age reaches 1: ``floor(ramp_fraction * total_iterations)``, at least 1.

    Args:
        total_iterations: the run length in iterations.
        ramp_fraction: fraction of the run spent ramping the age up.

    Returns:
        ``t_m`` as an int.

    Raises:
        ValueError: when ``total_iterations < 1`` or ``ramp_fraction`` is not in ``(0, 1]``.
    """
    if total_iterations < 1:
        raise ValueError(f"total_iterations must be >= 1, got {total_iterations}.")
    if not 0.0 < ramp_fraction <= 1.0:
        raise ValueError(f"ramp_fraction must be in (0, 1], got {ramp_fraction}.")
    return max(1, int(ramp_fraction * total_iterations))


def self_paced_age(iteration: float, total_iterations: int, ramp_fraction: float = 0.25) -> float:
    """The age ``lambda(t)`` of the self-paced curriculum (the reference's gaussian "sigmoid ramp-up").

    Args:
        iteration: the 0-based global iteration ``t``; values below 0 count as 0, above ``t_m`` as ``t_m``.
        total_iterations: the run length in iterations.
        ramp_fraction: fraction of the run over which lambda rises from ``exp(-5)`` to 1.

    Returns:
        ``exp(-5 (1 - min(max(t, 0), t_m) / t_m)^2)``.
    """
    t_m = ramp_length(total_iterations, ramp_fraction)
    phase = 1.0 - min(max(float(iteration), 0.0), float(t_m)) / t_m
    return float(math.exp(-5.0 * phase * phase))


def proxy_dice_loss(logits: torch.Tensor, target: torch.Tensor, check: bool = True) -> torch.Tensor:
    """Per-image proxy loss: ``1 - mean_c dice_c`` of the softmax against the target, background included.

    ``dice_c = 2 sum(p_c y_c) / (sum(p_c + y_c) + 1e-5)`` with sums over the spatial axes of one image, as in
    the reference code (no smoothing in the numerator, no confidence mask).

    Args:
        logits: ``(B, C, *spatial)`` network output before softmax.
        target: the target as an index map ``(B, 1, *spatial)`` or ``(B, *spatial)`` with values in
            ``[0, C)``, or as a one-hot / soft map ``(B, C, *spatial)``.
        check: check the index map's values (reads them back from the device: a trainer checks its first
            step only).

    Returns:
        ``(B,)`` float tensor of proxy losses in ``[0, 1]``.

    Raises:
        ValueError: when the shapes do not match or an index map holds a value outside ``[0, C)``.
    """
    if logits.ndim < 3:
        raise ValueError(f"logits must be (B, C, *spatial), got shape {tuple(logits.shape)}.")
    b, c = logits.shape[:2]
    spatial = tuple(logits.shape[2:])
    if target.shape == logits.shape and target.is_floating_point():
        onehot = target.float()
    else:
        index = target
        if index.ndim == logits.ndim and index.shape[1] == 1:
            index = index[:, 0]
        if tuple(index.shape) != (b, *spatial):
            raise ValueError(
                f"proxy target has shape {tuple(target.shape)}; expected an index map {(b, 1, *spatial)} or "
                f"{(b, *spatial)}, or a one-hot float map {tuple(logits.shape)} matching the logits."
            )
        index = index.long()
        if check and index.numel() and (int(index.min()) < 0 or int(index.max()) >= c):
            raise ValueError(
                f"proxy target holds labels in [{int(index.min())}, {int(index.max())}] but the logits have {c} "
                f"classes; expected labels in [0, {c})."
            )
        onehot = torch.zeros_like(logits, dtype=torch.float32).scatter_(1, index.unsqueeze(1), 1.0)
    prob = torch.softmax(logits.float(), dim=1)
    dims = tuple(range(2, logits.ndim))
    intersection = (prob * onehot).sum(dim=dims)
    total = (prob + onehot).sum(dim=dims)
    dice = 2.0 * intersection / (total + 1e-5)
    return 1.0 - dice.mean(dim=1)


def self_paced_plan(
    loss: torch.Tensor,
    age: float,
    topk: int,
    use_mask: bool = True,
    use_weight: bool = True,
    fixed_hard: bool = False,
    check: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Direction and number of patches per image.

    Args:
        loss: ``(B,)`` proxy losses (only read when ``use_mask`` or ``use_weight``).
        age: the current age ``lambda``.
        topk: ``K``, the most patches replaced in one image.
        use_mask: the self-paced mask decides the direction (``hard = loss < age``); otherwise every image
            takes ``fixed_hard``.
        use_weight: the self-paced weight decides the count (``n = min(K, |trunc(K v)|)``, ``v = 1 - loss /
            (age + 1e-5)``); otherwise ``n = K``.
        fixed_hard: the direction when ``use_mask`` is off.
        check: check that the losses are finite (reads them back from the device).

    Returns:
        ``(n, hard)``: ``(B,)`` long and ``(B,)`` bool tensors on the device of ``loss``.

    Raises:
        ValueError: when ``loss`` is not 1D or holds NaN or infinite values.
    """
    if loss.ndim != 1:
        raise ValueError(f"the proxy loss must be one value per image, shape (B,), got {tuple(loss.shape)}.")
    if check and (use_mask or use_weight) and not bool(torch.isfinite(loss).all()):
        raise ValueError("the proxy loss holds NaN or infinite values; AdaMix cannot rank such images.")
    loss64 = loss.detach().double()
    if use_mask:
        hard = loss64 < age
    else:
        hard = torch.full_like(loss64, bool(fixed_hard), dtype=torch.bool)
    if use_weight:
        weight = 1.0 - loss64 / (age + AGE_EPSILON)
        n = torch.clamp(torch.trunc(topk * weight).abs(), max=topk).long()
    else:
        n = torch.full_like(loss64, topk, dtype=torch.long)
    return n, hard
