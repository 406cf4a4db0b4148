# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Element-wise dropout with a cheap mask: the same layer as ``nn.Dropout``, drawn from 16 random bits per element.

On a CPU, ``nn.Dropout`` draws its mask with ``bernoulli_`` (a Mersenne-Twister draw and a float comparison per
element, then a float mask divided by ``1 - p``): in the AdaMix U-Net's training step that was 13-22% of the whole
step on a 2-core Xeon (``benchmarks/README.md``). :class:`FastDropout` fills ``ceil(n / 4)`` 64-bit integers with
``random_`` (one call, a quarter of the generator's 64-bit draws of ``bernoulli_``), reads them as ``n`` uniform
16-bit integers and keeps an element when its integer falls under ``round((1 - p) * 2**16)``: each element is kept
independently with probability ``round((1 - p) * 2**16) / 2**16``, within ``2**-17`` (7.6e-6) of ``1 - p`` (for the
U-Net's 0.05, 0.1, 0.2, 0.3 and 0.5: within 6.1e-6, and 0.5 exactly). Kept elements are scaled by ``1 / (1 - p)``
computed in the input's dtype, exactly as ``nn.Dropout`` scales them; the backward keeps the boolean mask (1 byte
per element instead of ``nn.Dropout``'s float mask).

It is another draw of the same layer, not the same numbers: a run with it is not bit-equal to a run with
``nn.Dropout`` (the masks come from other random bits), which is why the trainer offers it as the speed option
``fast_dropout`` and keeps ``nn.Dropout`` by default.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn

__all__ = ["FastDropout", "keep_mask", "use_fast_dropout"]

#: The channels-last memory format of 4D and 5D tensors.
CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def _dense_strides(x: torch.Tensor) -> bool:
    """True when ``x`` covers its elements exactly once, contiguous or channels-last."""
    return x.is_contiguous() or (x.ndim in CHANNELS_LAST and x.is_contiguous(memory_format=CHANNELS_LAST[x.ndim]))


def _keep(uniform16: torch.Tensor, keep_prob: float) -> torch.Tensor:
    """True where a uniform int16 falls among the lowest ``round(keep_prob * 2**16)`` of the 2**16 values."""
    threshold = round(min(max(keep_prob, 0.0), 1.0) * 2**16) - 2**15
    if threshold > 2**15 - 1:
        return torch.ones_like(uniform16, dtype=torch.bool)
    return uniform16 < threshold


def keep_mask(x: torch.Tensor, keep_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A boolean mask shaped (and strided) like ``x``, each element True with probability ``keep_prob``.

    Args:
        x: the tensor to mask (its shape, memory format and device are used, not its values).
        keep_prob: probability that an element is kept, in [0, 1].
        generator: random generator; the default generator of ``x``'s device when None.

    Returns:
        A ``torch.bool`` tensor with ``x``'s shape; for a contiguous or channels-last ``x``, also its strides.
    """
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device)
    bits.random_(-(2**63), None, generator=generator)  # every 64-bit pattern, uniformly
    keep = _keep(bits.view(torch.int16)[:n], keep_prob)  # n independent uniform integers in [-2**15, 2**15)
    if _dense_strides(x):
        return keep.as_strided(x.shape, x.stride())
    return keep.view(x.shape)


class _MaskedScale(torch.autograd.Function):
    """``x * keep * scale`` whose backward keeps only the boolean ``keep``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


class FastDropout(nn.Dropout):
    """``nn.Dropout`` (element-wise, scaled by ``1 / (1 - p)`` in training) with a mask from 16 random bits.

    Args:
        p: probability of an element to be zeroed, in [0, 1].
        inplace: accepted for ``nn.Dropout`` compatibility; the output is always a new tensor.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (nn.Dropout's signature)
        if not self.training or self.p == 0.0:
            return input
        if self.p == 1.0:
            return input.mul(0.0)
        return _MaskedScale.apply(input, keep_mask(input, 1.0 - self.p), _scale(self.p, input.dtype))


@lru_cache(maxsize=None)
def _scale(p: float, dtype: torch.dtype) -> float:
    """The scale nn.Dropout applies to kept elements: ``1 / (1 - p)`` computed in ``dtype``."""
    return float(torch.ones((), dtype=dtype) / torch.tensor(1.0 - p, dtype=dtype))


def use_fast_dropout(module: nn.Module) -> int:
    """Replace every ``nn.Dropout`` in ``module`` (``nn.Dropout`` itself, not its 2D/3D/alpha variants) by a
    :class:`FastDropout` with the same ``p``, in place.

    Args:
        module: the network to change.

    Returns:
        How many layers were replaced.
    """
    replaced = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                fast = FastDropout(child.p, child.inplace)
                fast.train(child.training)
                setattr(parent, name, fast)
                replaced += 1
    return replaced

