# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The mean-teacher update."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["BUFFER_POLICIES", "ema_decay", "ema_update"]

BUFFER_POLICIES = ("own", "copy", "ema")


def ema_decay(step: int, max_decay: float = 0.99) -> float:
    """``min(1 - 1 / (step + 1), max_decay)``: 0 at step 0 (the teacher becomes a copy of the student)."""
    return min(1.0 - 1.0 / (step + 1), max_decay)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, decay: float, buffers: str = "own") -> None:
    """``teacher = decay * teacher + (1 - decay) * student``, parameter by parameter.

    Buffers (BatchNorm running statistics and counters) are handled by ``buffers``:

    * ``"own"`` (default, as the released AdaMix code): untouched; the teacher keeps the running statistics of
      its own forward passes, which run in train mode during training. Ignite's ``EMAHandler`` copies or
      averages them instead (ignite issue 2590 discusses its buffer handling);
    * ``"copy"``: copied from the student;
    * ``"ema"``: floating-point buffers averaged like the parameters, integer ones (``num_batches_tracked``) copied.

    Args:
        teacher: the EMA model, updated in place.
        student: the trained model (unwrapped from DDP).
        decay: the EMA decay for this step.
        buffers: the buffer policy.

    Raises:
        ValueError: on an unknown policy or models of different structure.
    """
    if buffers not in BUFFER_POLICIES:
        raise ValueError(f"ema_update: buffers must be one of {BUFFER_POLICIES}, got '{buffers}'.")
    t_params, s_params = list(teacher.parameters()), list(student.parameters())
    if len(t_params) != len(s_params):
        raise ValueError("ema_update: the teacher and the student have different parameters.")
    torch._foreach_mul_(t_params, decay)
    torch._foreach_add_(t_params, s_params, alpha=1.0 - decay)
    if buffers == "own":
        return
    for tb, sb in zip(teacher.buffers(), student.buffers()):
        if buffers == "ema" and tb.is_floating_point():
            tb.mul_(decay).add_(sb, alpha=1.0 - decay)
        else:
            tb.copy_(sb)
