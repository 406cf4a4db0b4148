# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Weak and strong views of one image, with the geometry shared (``docs/adamix-reference.md`` section 5.1).

The weak view is a random geometric transform (flips, rotation) followed by a resize; the strong view is a copy
of the weak view after the geometry, with photometric changes on top. Labels follow the geometry only, so the
pseudo-labels of the weak view and the mixed strong view stay pixel-aligned.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import (
    Compose,
    CopyItemsd,
    HistogramNormalized,
    Identityd,
    MapTransform,
    OneOf,
    RandFlipd,
    RandGaussianSmoothd,
    RandomizableTransform,
    RandRotated,
    Resized,
    ScaleIntensityd,
)

__all__ = ["RandColorJitterd", "weak_strong_views_2d"]


class RandColorJitterd(RandomizableTransform, MapTransform):
    """Brightness and contrast jitter in random order, clipped to ``[0, 1]`` (torchvision's ``ColorJitter`` on
    grayscale images; hue and saturation have no effect there).

    Brightness multiplies by ``b ~ U(1 - brightness, 1 + brightness)``; contrast blends with the image mean,
    ``(x - mean) c + mean`` with ``c ~ U(1 - contrast, 1 + contrast)``.

    Args:
        keys: image keys.
        brightness: brightness range.
        contrast: contrast range.
        prob: probability of jittering.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        brightness: float = 0.5,
        contrast: float = 0.5,
        prob: float = 0.8,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.brightness, self.contrast = float(brightness), float(contrast)
        self._factors = (1.0, 1.0)
        self._brightness_first = True

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        b = self.R.uniform(1 - self.brightness, 1 + self.brightness)
        c = self.R.uniform(1 - self.contrast, 1 + self.contrast)
        self._factors = (float(b), float(c))
        self._brightness_first = bool(self.R.rand() < 0.5)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        b, c = self._factors
        for key in self.key_iterator(d):
            x = torch.as_tensor(d[key]).float()
            steps = [lambda v: (v * b).clamp(0, 1), lambda v: ((v - v.mean()) * c + v.mean()).clamp(0, 1)]
            for step in steps if self._brightness_first else steps[::-1]:
                x = step(x)
            d[key] = x
        return d


def weak_strong_views_2d(
    image_key: str = "image",
    label_key: str | None = "label",
    strong_key: str = "image_strong",
    spatial_size: Sequence[int] = (256, 256),
    rotate_prob: float = 0.5,
    strong: bool = True,
) -> Compose:
    """The AdaMix 2D views (ACDC, ISIC): weak = flips (p 0.5 each), rotation by U(-180, 180) degrees (p 0.5,
    nearest), resize; strong = the weak view plus brightness/contrast jitter (p 0.8), autocontrast (p 0.2),
    histogram equalisation (p 0.2) and Gaussian blur with sigma ~ U(0.1, 2) (p 0.5).

    Differences from the reference, deliberate: images are not quantised to 8 bits first, and the blur draws
    sigma per axis with MONAI's kernel size rather than a fixed 3x3 kernel.

    Args:
        image_key: the (channel-first) image.
        label_key: the label, None for unlabeled items.
        strong_key: where the strong view goes.
        spatial_size: output size (256 x 256 in the paper).
        rotate_prob: probability of the rotation.
        strong: also make the strong view.

    Returns:
        A MONAI ``Compose`` over dictionaries (seed it, or use :class:`~adamix_monai.data.SeededDataset`).
    """
    keys = [image_key] + ([label_key] if label_key else [])
    modes = ["bilinear"] + (["nearest"] if label_key else [])
    geometry: list[Any] = [
        RandFlipd(keys=keys, prob=0.5, spatial_axis=0),
        RandFlipd(keys=keys, prob=0.5, spatial_axis=1),
        RandRotated(keys=keys, range_x=math.pi, prob=rotate_prob, mode="nearest", padding_mode="zeros"),
        Resized(keys=keys, spatial_size=tuple(spatial_size), mode=modes),
    ]
    if not strong:
        return Compose(geometry)
    photometric = [
        CopyItemsd(keys=image_key, names=strong_key),
        RandColorJitterd(keys=strong_key, brightness=0.5, contrast=0.5, prob=0.8),
        OneOf([ScaleIntensityd(keys=strong_key, minv=0.0, maxv=1.0), Identityd(keys=strong_key)], weights=[0.2, 0.8]),
        OneOf([HistogramNormalized(keys=strong_key, min=0, max=1), Identityd(keys=strong_key)], weights=[0.2, 0.8]),
        RandGaussianSmoothd(keys=strong_key, sigma_x=(0.1, 2.0), sigma_y=(0.1, 2.0), prob=0.5),
    ]
    return Compose(geometry + photometric)
