# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic batches for the tests."""

from __future__ import annotations

import torch


def make_batch(b: int, grid: tuple[int, ...], patch: int, seed: int, channels: int = 1, levels: int = 256) -> dict:
    """Original and auxiliary image, label and confidence batches, and per-image proxy losses.

    Confidence values are ``k / levels``; with ``levels`` a power of two, patch sums are exact in float32, so the
    vectorised core and the float64 reference rank patches identically, ties included.
    """
    gen = torch.Generator().manual_seed(seed)
    spatial = tuple(g * patch for g in grid)
    batch = {}
    for suffix in ("", "_aux"):
        batch["image" + suffix] = torch.rand(b, channels, *spatial, generator=gen)
        batch["label" + suffix] = torch.randint(0, 4, (b, 1, *spatial), generator=gen)
        batch["confidence" + suffix] = torch.randint(0, levels + 1, (b, 1, *spatial), generator=gen).float() / levels
    batch["proxy_loss"] = torch.rand(b, generator=gen, dtype=torch.float64).float()
    return batch
