# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""One set of colours and class names for every figure: class overlays and the two mix directions."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ACDC_CLASS_NAMES", "CLASS_COLORS", "EASY_COLOR", "HARD_COLOR", "class_names_for", "to_uint8"]

#: Overlay colours (RGB in [0, 1]) of classes 1..8; class 0 (background) is transparent. 1, 2, 3 are ACDC's RV, Myo
#: and LV: red, green, blue.
CLASS_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.90, 0.16, 0.16),
    (0.18, 0.80, 0.25),
    (0.20, 0.40, 0.95),
    (0.98, 0.85, 0.10),
    (0.85, 0.25, 0.85),
    (0.10, 0.85, 0.90),
    (1.00, 0.55, 0.05),
    (0.60, 0.40, 0.20),
)
#: Outline of a patch replaced by a high-confidence auxiliary patch (the easy direction; the paper's Fig. 5 green).
EASY_COLOR: tuple[float, float, float] = (40 / 255, 220 / 255, 60 / 255)
#: Outline of a patch replaced by a low-confidence auxiliary patch (the hard direction; Fig. 5 red).
HARD_COLOR: tuple[float, float, float] = (235 / 255, 40 / 255, 40 / 255)
#: ACDC's foreground classes 1, 2, 3 (right ventricle, myocardium, left ventricle).
ACDC_CLASS_NAMES: tuple[str, ...] = ("RV", "Myo", "LV")


def to_uint8(color: Sequence[float]) -> tuple[int, int, int]:
    """An RGB colour in [0, 1] as 8-bit values."""
    r, g, b = (int(round(float(c) * 255)) for c in color[:3])
    return r, g, b


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """Default names of the foreground classes ``1..num_classes-1``: ACDC's for up to 3, else ``class k``."""
    return ACDC_CLASS_NAMES if num_classes <= 4 else tuple(f"class {c}" for c in range(1, num_classes))
