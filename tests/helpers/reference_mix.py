# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Straightforward per-image reference implementations, written for the tests only.

They follow the released algorithm literally (loops over images and patches, plain slicing), so the
vectorised core can be checked against them.
"""

from __future__ import annotations

import itertools
import math

import torch


def patch_slices(spatial: tuple[int, ...], grid: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """Slices of every patch, in row-major grid order."""
    sizes = [s // g for s, g in zip(spatial, grid)]
    out = []
    for cell in itertools.product(*[range(g) for g in grid]):
        out.append(tuple(slice(c * p, (c + 1) * p) for c, p in zip(cell, sizes)))
    return out


def reference_scores(conf: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """(B, L) patch means computed patch by patch. ``conf`` is (B, *spatial)."""
    b = conf.shape[0]
    slices = patch_slices(tuple(conf.shape[1:]), grid)
    out = torch.empty(b, len(slices), dtype=torch.float64)
    for i in range(b):
        for j, sl in enumerate(slices):
            out[i, j] = conf[i][sl].double().mean()
    return out


def reference_loss_plan(loss: float, age: float, topk: int) -> tuple[int, bool]:
    """(n, hard) for one image, with Python floats as the released code computes them."""
    hard = loss < age
    v = 1 - loss / (age + 1e-5)
    return min(topk, abs(int(topk * v))), hard


def reference_mix(
    tensors: list[torch.Tensor],
    aux: list[torch.Tensor],
    conf: torch.Tensor,
    aux_conf: torch.Tensor,
    n: list[int],
    hard: list[bool],
    grid: tuple[int, ...],
) -> list[torch.Tensor]:
    """Mix (B, C, *spatial) tensors image by image, patch by patch. ``conf`` is (B, *spatial)."""
    spatial = tuple(conf.shape[1:])
    slices = patch_slices(spatial, grid)
    so = reference_scores(conf, grid)
    sa = reference_scores(aux_conf, grid)
    outs = [t.clone() for t in tensors]
    for i in range(conf.shape[0]):
        if hard[i]:
            o_idx = torch.argsort(so[i], descending=True, stable=True)
            a_idx = torch.argsort(sa[i], descending=False, stable=True)
        else:
            o_idx = torch.argsort(so[i], descending=False, stable=True)
            a_idx = torch.argsort(sa[i], descending=True, stable=True)
        for k in range(n[i]):
            dst, src = slices[int(o_idx[k])], slices[int(a_idx[k])]
            for out, a in zip(outs, aux):
                out[i][(slice(None),) + dst] = a[i][(slice(None),) + src]
    return outs


def num_patches(grid: tuple[int, ...]) -> int:
    return math.prod(grid)
