# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Mixed images with their replaced patches outlined (the paper's Fig. 5), and atomic PNG files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from adamix_monai.mixing import PatchPlan
from adamix_monai.utils import atomic_open
from adamix_monai.visualize.palette import EASY_COLOR, HARD_COLOR, to_uint8

__all__ = ["outline_mixed_patches", "save_png"]


def outline_mixed_patches(image: torch.Tensor, plan: PatchPlan, index: int, thickness: int = 2) -> np.ndarray:
    """An RGB rendering of one mixed 2D image with its replaced patches outlined.

    As in the paper's Fig. 5: green outlines (:data:`~adamix_monai.visualize.palette.EASY_COLOR`) mark patches taken
    from high-confidence auxiliary patches (the easy direction), red outlines
    (:data:`~adamix_monai.visualize.palette.HARD_COLOR`) patches taken from low-confidence ones (the hard direction).

    Args:
        image: ``(C, H, W)`` or ``(H, W)`` image, any range (rescaled to [0, 255]); a 3-channel image (ISIC) is
            drawn in colour, otherwise the first channel in grey.
        plan: the plan that produced the image.
        index: the image's position in the batch.
        thickness: outline width in pixels.

    Returns:
        ``(H, W, 3)`` uint8 array.
    """
    img = image.detach().float().cpu()
    img = img.permute(1, 2, 0) if img.ndim == 3 and img.shape[0] == 3 else (img[0] if img.ndim == 3 else img)
    lo, hi = float(img.min()), float(img.max())
    pixels = ((img - lo) / (hi - lo + 1e-8) * 255).to(torch.uint8).numpy()
    rgb = pixels.copy() if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    gh, gw = plan.grid
    ph, pw = rgb.shape[0] // gh, rgb.shape[1] // gw
    color = to_uint8(HARD_COLOR if bool(plan.hard[index]) else EASY_COLOR)
    for k in range(int(plan.n[index])):
        cell = int(plan.dst[index, k])
        y0, x0 = (cell // gw) * ph, (cell % gw) * pw
        box = rgb[y0 : y0 + ph, x0 : x0 + pw]
        box[:thickness] = color
        box[-thickness:] = color
        box[:, :thickness] = color
        box[:, -thickness:] = color
    return rgb


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` or ``(H, W)`` uint8 array as PNG (with pillow), atomically: a reader never sees a
    partial file.

    Args:
        path: destination file.
        rgb: the pixels.

    Returns:
        The path written.

    Raises:
        ValueError: on another shape.
    """
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"save_png expects (H, W, 3) or (H, W) uint8 pixels, got shape {arr.shape}.")
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    with atomic_open(path) as f:
        f.write(buffer.getvalue())
    return Path(path)
