# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Weak and strong views of one image, with the geometry shared (``docs/algorithm.md`` sections 5.1, 5.3).

The weak view is a random geometric transform (flips, rotation) followed by a resize; the strong view is a copy
of the weak view after the geometry, with photometric changes on top. Labels follow the geometry only, so the
pseudo-labels of the weak view and the mixed strong view stay pixel-aligned.

Grayscale (ACDC) and RGB (ISIC) images are both handled: the photometric operations act per channel where
torchvision/PIL act per channel (autocontrast, equalisation, posterisation, blur) and with one factor for all
channels where they use one (brightness, contrast, saturation, hue).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import (
    Compose,
    CopyItemsd,
    HistogramNormalize,
    Identityd,
    MapTransform,
    NormalizeIntensityd,
    OneOf,
    RandFlipd,
    RandGaussianSmoothd,
    RandomizableTransform,
    RandRotated,
    Resized,
    ScaleIntensityd,
)
from monai.utils import convert_to_dst_type

from adamix_monai.data.io import isic_loading

__all__ = [
    "IMAGENET_MEAN_STD",
    "ISIC_VIEW_SETTINGS",
    "EqualizeHistogramd",
    "PILLikeResized",
    "RandColorJitterd",
    "RandPosterized",
    "isic_eval_preprocessing",
    "isic_views",
    "shift_hue",
    "weak_strong_views_2d",
]

IMAGENET_MEAN_STD: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (0.485, 0.456, 0.406),
    (0.229, 0.224, 0.225),
)
"""The ImageNet channel mean and standard deviation (torchvision's ``Normalize`` in the ISIC reference)."""

ISIC_VIEW_SETTINGS: dict[str, Any] = dict(
    rotate_prob=0.5, saturation=0.5, hue=0.05, posterize_prob=0.2, blur_prob=1.0, normalize=IMAGENET_MEAN_STD
)
"""The ISIC protocol's view settings (section 5.3), shared by the per-sample and the per-batch views."""

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L") and torchvision's rgb_to_grayscale


def _gray(x: torch.Tensor) -> torch.Tensor:
    """The (1, ...) luminance of a channel-first image: itself for one channel, ITU-R 601-2 luma for RGB."""
    if x.shape[0] != 3:
        return x[:1]
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).reshape((3,) + (1,) * (x.ndim - 1))
    return (x * w).sum(0, keepdim=True)


def shift_hue(x: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue of a channel-first RGB image in ``[0, 1]`` (HSV round trip, as ``adjust_hue``).

    Args:
        x: a (3, ...) image in ``[0, 1]``.
        shift: the hue change as a fraction of the colour circle, in ``[-0.5, 0.5]``.

    Returns:
        The image with the same saturation and value and its hue moved by ``shift``.

    Raises:
        ValueError: when ``x`` does not have 3 channels.
    """
    if x.shape[0] != 3:
        raise ValueError(f"shift_hue: expected an RGB image (3 channels first), got shape {tuple(x.shape)}.")
    r, g, b = x[0], x[1], x[2]
    value, _ = x.max(0)
    delta = value - x.min(0)[0]
    sat = torch.where(value > 0, delta / value.clamp_min(1e-12), torch.zeros_like(value))
    d = delta.clamp_min(1e-12)
    rc, gc, bc = (value - r) / d, (value - g) / d, (value - b) / d
    hue = torch.where(value == r, bc - gc, torch.where(value == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    hue = (hue + shift) % 1.0
    sector = torch.floor(hue * 6.0)
    f = hue * 6.0 - sector
    p, q, t = value * (1 - sat), value * (1 - sat * f), value * (1 - sat * (1 - f))
    sector = sector.long() % 6
    choices = torch.stack([value, q, p, p, t, value, t, value, value, q, p, p, p, p, t, value, value, q])
    choices = choices.reshape((3, 6) + value.shape)
    index = sector.unsqueeze(0).unsqueeze(0).expand((3, 1) + value.shape)
    return torch.gather(choices, 1, index).squeeze(1).clamp(0, 1)


class RandColorJitterd(RandomizableTransform, MapTransform):
    """torchvision's ``ColorJitter`` on channel-first images in ``[0, 1]``: brightness, contrast, saturation and
    hue changes in random order, each clipped to ``[0, 1]``.

    Brightness multiplies by ``b ~ U(1 - brightness, 1 + brightness)``. Contrast blends with the mean luminance,
    ``(x - m) c + m`` with ``c ~ U(1 - contrast, 1 + contrast)``. Saturation blends each pixel with its luminance,
    ``(x - l) s + l`` with ``s ~ U(1 - saturation, 1 + saturation)``. Hue rotates the HSV hue by
    ``h ~ U(-hue, hue)`` of the colour circle (:func:`shift_hue`). One factor of each kind is used for all channels
    and all keys. The luminance of a one-channel image is itself, and saturation and hue act on RGB (3-channel)
    images only, as in torchvision, where they have no effect on grayscale images.

    With ``saturation = hue = 0`` (the default, ACDC) only brightness and contrast are drawn, exactly as before
    the RGB options existed, so seeded grayscale pipelines give the same views.

    Args:
        keys: image keys.
        brightness: brightness range.
        contrast: contrast range.
        prob: probability of jittering.
        allow_missing_keys: skip absent keys.
        saturation: saturation range (0.5 in the ISIC reference).
        hue: hue range, at most 0.5 (0.05 in the ISIC reference).

    Raises:
        ValueError: when ``hue`` is not in ``[0, 0.5]``.
    """

    def __init__(
        self,
        keys: KeysCollection,
        brightness: float = 0.5,
        contrast: float = 0.5,
        prob: float = 0.8,
        allow_missing_keys: bool = False,
        saturation: float = 0.0,
        hue: float = 0.0,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"RandColorJitterd: hue must be in [0, 0.5], got {hue}.")
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)
        self._factors = (1.0, 1.0, 1.0, 0.0)
        self._order: list[int] = [0, 1]

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        b = self.R.uniform(1 - self.brightness, 1 + self.brightness)
        c = self.R.uniform(1 - self.contrast, 1 + self.contrast)
        if self.saturation or self.hue:
            s = self.R.uniform(1 - self.saturation, 1 + self.saturation)
            h = self.R.uniform(-self.hue, self.hue)
            self._factors = (float(b), float(c), float(s), float(h))
            self._order = [int(i) for i in self.R.permutation(4)]
        else:  # the grayscale draws: two factors and which comes first
            self._factors = (float(b), float(c), 1.0, 0.0)
            self._order = [0, 1] if self.R.rand() < 0.5 else [1, 0]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        b, c, s, h = self._factors
        for key in self.key_iterator(d):
            x = torch.as_tensor(d[key]).float()
            for step in self._order:
                if step == 0:
                    x = (x * b).clamp(0, 1)
                elif step == 1:
                    m = _gray(x).mean()
                    x = ((x - m) * c + m).clamp(0, 1)
                elif step == 2 and x.shape[0] == 3:
                    lum = _gray(x)
                    x = ((x - lum) * s + lum).clamp(0, 1)
                elif step == 3 and x.shape[0] == 3 and h != 0.0:
                    x = shift_hue(x, h)
            d[key] = x
        return d


class RandPosterized(RandomizableTransform, MapTransform):
    """torchvision's ``RandomPosterize`` on images in ``[0, 1]``: quantise to 8 bits and keep the ``bits`` most
    significant bits of every channel.

    Args:
        keys: image keys.
        bits: bits kept, 1 to 8 (5 in the ISIC reference).
        prob: probability of posterising.
        allow_missing_keys: skip absent keys.

    Raises:
        ValueError: when ``bits`` is not in ``[1, 8]``.
    """

    def __init__(self, keys: KeysCollection, bits: int = 5, prob: float = 0.2, allow_missing_keys: bool = False):
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if not 1 <= int(bits) <= 8:
            raise ValueError(f"RandPosterized: bits must be in [1, 8], got {bits}.")
        self.step = 2 ** (8 - int(bits))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize(None)
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            levels = torch.round(torch.as_tensor(d[key]).float().clamp(0, 1) * 255)
            d[key] = (levels - torch.remainder(levels, self.step)) / 255
        return d


class EqualizeHistogramd(MapTransform):
    """Histogram equalisation of each channel separately, to ``[0, 1]`` (PIL's ``ImageOps.equalize`` equalises
    the R, G and B bands separately; on one channel this is MONAI's ``HistogramNormalized(min=0, max=1)``).

    Args:
        keys: image keys.
        num_bins: histogram bins.
        allow_missing_keys: skip absent keys.
    """

    def __init__(self, keys: KeysCollection, num_bins: int = 256, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.equalize = HistogramNormalize(num_bins=num_bins, min=0, max=1)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            x = d[key]
            d[key] = torch.cat([torch.as_tensor(self.equalize(x[i : i + 1])) for i in range(x.shape[0])])
        return d


class PILLikeResized(MapTransform):
    """Resize 2D channel-first images as PIL does, for pipelines ported from torchvision on PIL images.

    ``"bilinear"`` is an anti-aliased bilinear resize (``torch.nn.functional.interpolate(..., antialias=True)``,
    PIL's filter: on a 765 x 575 dermoscopy image shrunk to 256 x 256 it differs from PIL by at most one gray
    level, where MONAI's ``Resize`` is aliased without ``anti_aliasing`` and darkens the borders with it, as its
    Gaussian pre-filter pads with zeros). ``"nearest"`` samples the source pixel under each output pixel's centre
    (``"nearest-exact"``), as PIL's ``NEAREST``, so labels stay aligned with the image; torch's ``"nearest"``
    shifts them by up to half an input pixel towards the origin.

    The output is float32 and keeps the input's metadata (the affine is not updated; not invertible).

    Args:
        keys: keys to resize.
        spatial_size: output (H, W).
        mode: ``"bilinear"`` or ``"nearest"``, one or one per key.
        allow_missing_keys: skip absent keys.

    Raises:
        ValueError: on another mode, or an input that is not (C, H, W).
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_size: Sequence[int],
        mode: str | Sequence[str] = "bilinear",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.spatial_size = tuple(int(v) for v in spatial_size)
        modes = [mode] * len(self.keys) if isinstance(mode, str) else list(mode)
        if len(modes) != len(self.keys) or any(m not in ("bilinear", "nearest") for m in modes):
            raise ValueError(f"PILLikeResized: mode must be 'bilinear' or 'nearest' (one per key), got {mode}.")
        self.modes = dict(zip(self.keys, modes))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            x = d[key]
            if len(x.shape) != 3:
                raise ValueError(f"PILLikeResized: '{key}' must be (C, H, W), got shape {tuple(x.shape)}.")
            t = torch.as_tensor(x).float()[None]
            if self.modes[key] == "bilinear":
                out = F.interpolate(t, size=self.spatial_size, mode="bilinear", align_corners=False, antialias=True)
            else:
                out = F.interpolate(t, size=self.spatial_size, mode="nearest-exact")
            d[key] = convert_to_dst_type(out[0], x, dtype=torch.float32)[0]
        return d


def weak_strong_views_2d(
    image_key: str = "image",
    label_key: str | None = "label",
    strong_key: str = "image_strong",
    spatial_size: Sequence[int] = (256, 256),
    rotate_prob: float = 0.5,
    strong: bool = True,
    saturation: float = 0.0,
    hue: float = 0.0,
    posterize_prob: float = 0.0,
    blur_prob: float = 0.5,
    normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    pil_resize: bool = False,
    views: str = "workers",
) -> Compose | MapTransform:
    """The AdaMix 2D views (ACDC, ISIC) of a channel-first image in ``[0, 1]``.

    Weak view: flips (p 0.5 each), rotation by U(-180, 180) degrees (p ``rotate_prob``, nearest, zero fill),
    resize (bilinear for the image, nearest for the label). Strong view: a copy of the weak view plus colour
    jitter (brightness and contrast 0.5, ``saturation``, ``hue``; p 0.8), posterisation to 5 bits
    (p ``posterize_prob``), per-channel autocontrast (p 0.2), per-channel histogram equalisation (p 0.2) and
    Gaussian blur with sigma ~ U(0.1, 2) (p ``blur_prob``). With ``normalize``, both views are then normalised per
    channel, after all photometric changes (the order of the ISIC reference).

    The defaults are the ACDC protocol (section 5.1). The ISIC protocol (section 5.3) is ``saturation=0.5,
    hue=0.05, posterize_prob=0.2, blur_prob=1.0, normalize=IMAGENET_MEAN_STD`` on RGB images, with
    ``pil_resize=True`` (the reference resizes PIL images, and the dermoscopy images are shrunk about 3 times;
    :func:`adamix_monai.data.views.isic_views`).

    Differences from the reference, deliberate: images are not quantised to 8 bits first (except inside the
    posterisation), and the blur draws sigma per axis with MONAI's kernel size rather than a fixed 3x3 kernel.

    Args:
        image_key: the (channel-first) image, 1 or 3 channels, in ``[0, 1]``.
        label_key: the label, None for unlabeled items.
        strong_key: where the strong view goes.
        spatial_size: output size (256 x 256 in the paper).
        rotate_prob: probability of the rotation.
        strong: also make the strong view.
        saturation: colour-jitter saturation range (RGB only).
        hue: colour-jitter hue range (RGB only).
        posterize_prob: probability of posterising the strong view to 5 bits (0: not in the pipeline).
        blur_prob: probability of the Gaussian blur of the strong view.
        normalize: ``(mean, std)`` per channel applied to both views last, e.g. :data:`IMAGENET_MEAN_STD`; None
            keeps ``[0, 1]``.
        pil_resize: resize as PIL (:class:`PILLikeResized`: anti-aliased bilinear image, centre-sampled nearest
            label) instead of MONAI's ``Resized`` (bilinear / nearest, no anti-aliasing).
        views: ``"workers"`` (this per-sample pipeline) or ``"device"``: only the resize, with the native spatial
            shape kept under ``"source_shape"``; the trainer then makes both views of each batch on its device
            with :class:`~adamix_monai.data.device_views.BatchViews2d` (same parameters, same distributions), and
            the loader's pipeline is deterministic (``CacheDataset`` caches it whole).

    Returns:
        A MONAI ``Compose`` over dictionaries (seed it, or use :class:`~adamix_monai.data.SeededDataset`); with
        ``views="device"`` one deterministic :class:`~adamix_monai.data.device_views.DeviceViewsInputd`.

    Raises:
        ValueError: on another ``views``.
    """
    keys = [image_key] + ([label_key] if label_key else [])
    modes = ["bilinear"] + (["nearest"] if label_key else [])
    resize = PILLikeResized if pil_resize else Resized
    if views == "device":
        from adamix_monai.data.device_views import DeviceViewsInputd

        return DeviceViewsInputd(keys, spatial_size, modes, resize)  # one deterministic transform: cached whole
    if views != "workers":
        raise ValueError(f"weak_strong_views_2d: views must be 'workers' or 'device', got {views!r}.")
    geometry: list[Any] = [
        RandFlipd(keys=keys, prob=0.5, spatial_axis=0),
        RandFlipd(keys=keys, prob=0.5, spatial_axis=1),
        RandRotated(keys=keys, range_x=math.pi, prob=rotate_prob, mode="nearest", padding_mode="zeros"),
        resize(keys=keys, spatial_size=tuple(spatial_size), mode=modes),
    ]
    photometric: list[Any] = []
    if strong:
        photometric = [
            CopyItemsd(keys=image_key, names=strong_key),
            RandColorJitterd(keys=strong_key, prob=0.8, saturation=saturation, hue=hue),
        ]
        if posterize_prob > 0:
            photometric.append(RandPosterized(keys=strong_key, bits=5, prob=posterize_prob))
        photometric += [
            OneOf(
                [ScaleIntensityd(keys=strong_key, minv=0.0, maxv=1.0, channel_wise=True), Identityd(keys=strong_key)],
                weights=[0.2, 0.8],
            ),
            OneOf([EqualizeHistogramd(keys=strong_key), Identityd(keys=strong_key)], weights=[0.2, 0.8]),
            RandGaussianSmoothd(keys=strong_key, sigma_x=(0.1, 2.0), sigma_y=(0.1, 2.0), prob=blur_prob),
        ]
    if normalize is not None:
        mean, std = (tuple(float(v) for v in part) for part in normalize)
        views = [image_key] + ([strong_key] if strong else [])
        photometric.append(NormalizeIntensityd(keys=views, subtrahend=mean, divisor=std, channel_wise=True))
    return Compose(geometry + photometric)


def isic_views(
    spatial_size: Sequence[int] = (256, 256),
    label_key: str | None = "label",
    image_key: str = "image",
    strong_key: str = "image_strong",
    strong: bool = True,
    views: str = "workers",
) -> Compose:
    """The ISIC training preprocessing: :func:`isic_loading` then the paper's weak and strong views.

    Weak: flips (p 0.5), rotation U(-180, 180) degrees (p 0.5, nearest), resize to ``spatial_size`` as PIL
    (anti-aliased bilinear / nearest, :class:`PILLikeResized`), ImageNet normalisation.
    Strong: the weak view before normalisation plus colour jitter (0.5, 0.5, 0.5, 0.05; p 0.8), posterise 5 bits
    (p 0.2), autocontrast (p 0.2), equalise (p 0.2), Gaussian blur (always), then ImageNet normalisation
    (:func:`weak_strong_views_2d`).

    Args:
        spatial_size: output size (256 x 256 in the paper).
        label_key: the mask key, None for unlabeled items.
        image_key: the image key.
        strong_key: where the strong view goes.
        strong: also make the strong view.
        views: ``"workers"`` or ``"device"`` (loading and resize only; the views are made per batch by
            :func:`~adamix_monai.data.device_views.isic_batch_views`), as :func:`weak_strong_views_2d`.

    Returns:
        One flat MONAI ``Compose`` (loading first, so ``CacheDataset`` caches the loaded native-size arrays).
    """
    views = weak_strong_views_2d(
        image_key=image_key,
        label_key=label_key,
        strong_key=strong_key,
        spatial_size=spatial_size,
        strong=strong,
        pil_resize=True,
        views=views,
        **ISIC_VIEW_SETTINGS,
    )
    steps = list(views.transforms) if isinstance(views, Compose) else [views]
    return Compose(list(isic_loading(image_key, label_key).transforms) + steps)


def isic_eval_preprocessing(
    spatial_size: Sequence[int] | None = (256, 256), label_key: str | None = "label", image_key: str = "image"
) -> Compose:
    """The ISIC evaluation preprocessing: load, resize the image (bilinear, anti-aliased) and the mask (nearest) to
    ``spatial_size`` as PIL does (:class:`PILLikeResized`), ImageNet normalisation. The
    paper computes its metrics at 256 x 256, on the resized mask.

    Args:
        spatial_size: evaluation size (256 x 256 in the paper); None keeps the image's own size (inference, where
            the inferer resizes to the network's size and back).
        label_key: the mask key, None for images without masks.
        image_key: the image key.

    Returns:
        A deterministic MONAI ``Compose``.
    """
    keys = [image_key] + ([label_key] if label_key else [])
    resize = (
        [PILLikeResized(keys=keys, spatial_size=spatial_size, mode=["bilinear"] + (["nearest"] if label_key else []))]
        if spatial_size is not None
        else []
    )
    normalize = NormalizeIntensityd(
        keys=image_key, subtrahend=IMAGENET_MEAN_STD[0], divisor=IMAGENET_MEAN_STD[1], channel_wise=True
    )
    return Compose(list(isic_loading(image_key, label_key).transforms) + resize + [normalize])
