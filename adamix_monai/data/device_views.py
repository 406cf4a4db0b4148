# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Weak and strong views of a whole batch, built with batched tensor operations on the device that trains.

The per-sample path (:func:`~adamix_monai.data.views.weak_strong_views_2d`, ``views="workers"``) augments each
item in the loader's workers with MONAI transforms. With ``views="device"`` the workers only load and resize (a
deterministic pipeline that ``CacheDataset`` caches whole), and :class:`BatchViews2d` makes both views of the
collated batch where the network runs: one ``grid_sample`` for the geometry of the image and the label, then the
strong view's photometric changes as batched elementwise operations, histograms and one grouped convolution.

The random parameters have the same distributions as the per-sample path (flips p 0.5 on each axis, a rotation
by U(-180, 180) degrees with p ``rotate_prob``, colour jitter p 0.8 in random order, posterisation, autocontrast
p 0.2, equalisation p 0.2, Gaussian blur with sigma ~ U(0.1, 2) per axis), and the geometry is shared by the two
views and the label. They are drawn per batch from a generator seeded by ``(seed, stream, position, rank)``, so a
batch's views depend only on where it falls in the run (a resumed run draws what it would have drawn) and never
on the number of workers.

In 3D (LA, :class:`BatchViews3d`) the loader keeps the geometry (the rotation and flip, the padding and the random
crop: index arithmetic on volumes of varying size, which must be done before they can be stacked) and the device
makes the strong view of the cropped batch (gamma and Gaussian blur, most of the per-sample cost).

One difference from the 2D per-sample path, by construction: the rotation acts on the already resized image
(nearest interpolation at the training size) rather than on the native image before the resize; it is expressed
in the native image's pixel frame (the aspect ratio of the source is kept in the batch under ``shape_key``), so the
geometry, including the zero-filled corners, is the same, and only the resampling differs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.networks.layers import gaussian_1d
from monai.transforms import MapTransform, Randomizable

from adamix_monai.data.loaders import _seed
from adamix_monai.data.views import _LUMA, ISIC_VIEW_SETTINGS, shift_hue

__all__ = [
    "BatchViews2d",
    "BatchViews3d",
    "DeviceViewsInputd",
    "RecordSpatialShaped",
    "adjust_gamma_batch",
    "equalize_batch",
    "gaussian_blur_reflect",
    "isic_batch_views",
]


class RecordSpatialShaped(MapTransform):
    """Store the spatial shape of ``keys[0]`` under ``name`` (an int64 tensor), before a resize.

    :class:`BatchViews2d` reads it to rotate each resized image in its native pixel frame.

    Args:
        keys: the image key (the first key is used).
        name: where the shape goes.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        name: str = "source_shape",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.name = name

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.name] = torch.tensor(tuple(d[key].shape[1:]), dtype=torch.int64)
            break
        return d


class DeviceViewsInputd(MapTransform):
    """The loader's whole pipeline step for ``views="device"``: record the native spatial shape, then resize.

    One deterministic transform (not a ``Compose``, which MONAI's ``CacheDataset`` treats as random and stops
    caching at), so a ``CacheDataset`` caches the resized items and a training step reads them straight from the
    cache; :class:`BatchViews2d` then makes both views of each batch on the device.

    Args:
        keys: the image key first, then the label key if any.
        spatial_size: the training size.
        mode: the interpolation of each key (``bilinear`` for images, ``nearest`` for labels).
        resize: the resize transform class (MONAI's ``Resized``, or :class:`~adamix_monai.data.views.PILLikeResized`).
        shape_key: where the native shape goes.
    """

    def __init__(
        self,
        keys: KeysCollection,
        spatial_size: Sequence[int],
        mode: Sequence[str],
        resize: Any,
        shape_key: str = "source_shape",
    ) -> None:
        super().__init__(keys)
        self.record = RecordSpatialShaped(keys=self.keys[0], name=shape_key)
        self.resize = resize(keys=self.keys, spatial_size=tuple(spatial_size), mode=list(mode))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        return self.resize(self.record(data))


def equalize_batch(x: torch.Tensor, num_bins: int = 256) -> torch.Tensor:
    """Histogram equalisation of every (image, channel) of a batch to ``[0, 1]``, as MONAI's
    ``HistogramNormalize(num_bins, min=0, max=1)`` does on one channel (``numpy.histogram`` over the channel's
    range, the cumulative histogram rescaled to ``[0, 1]``, linear interpolation at the bin centres).

    Args:
        x: a ``(B, C, *spatial)`` float tensor.
        num_bins: histogram bins.

    Returns:
        The equalised batch, float32, same shape. A constant channel becomes 0.5 (as numpy's histogram of a
        constant puts it on a bin edge half way up the cumulative histogram).
    """
    b, c = x.shape[:2]
    flat = x.reshape(b * c, -1).float()
    lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    width = (hi - lo).clamp_min(torch.finfo(torch.float32).tiny)
    scaled = (flat - lo) / width * num_bins
    index = scaled.floor().long().clamp_(0, num_bins - 1)
    hist = torch.zeros(b * c, num_bins, device=x.device, dtype=torch.float32)
    hist.scatter_add_(1, index, torch.ones_like(flat))
    cum = hist.cumsum(1)
    cmin, cmax = cum[:, :1], cum[:, -1:]
    cum = torch.where(
        cmax > cmin,
        (cum - cmin) / (cmax - cmin).clamp_min(1e-12),
        torch.zeros_like(cum),
    )
    t = scaled - 0.5  # position in bin-centre units
    i0 = t.floor().long().clamp_(0, num_bins - 2)
    frac = (t - i0).clamp_(0, 1)
    y0, y1 = cum.gather(1, i0), cum.gather(1, i0 + 1)
    out = y0 + frac * (y1 - y0)
    out = torch.where(hi > lo, out, torch.full_like(out, 0.5))
    return out.reshape(x.shape)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """The (B, 1, ...) luminance of a batch: itself for one channel, ITU-R 601-2 luma for RGB."""
    if x.shape[1] != 3:
        return x[:, :1]
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).reshape((1, 3) + (1,) * (x.ndim - 2))
    return (x * w).sum(1, keepdim=True)


def _per_image(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape((-1,) + (1,) * (ndim - 1))


class _SeededBatchViews(Randomizable):
    """What the batch views share: the run's seed and DDP rank, and the start of a call (the batch's image as
    float, its shape checked, ``self.R`` reseeded from ``(seed, stream, position, rank)`` and the batch's
    parameters drawn by ``randomize``)."""

    layout = "(B, C, H, W)"

    def __init__(self, seed: int, rank: int | None, image_key: str) -> None:
        self.seed = int(seed)
        if rank is None:
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
            rank = torch.distributed.get_rank() if distributed else 0
        self.rank = int(rank)
        self.image_key = image_key
        self.params: dict[str, np.ndarray] = {}

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> Any:
        """Set the run's seed (``seed``), or the state of the next :meth:`randomize` (``state``)."""
        if seed is not None:
            self.seed = int(seed)
        super().set_random_state(seed=seed, state=state)
        return self

    def _start(
        self, data: Mapping[Hashable, Any], stream: int | None, position: int | None
    ) -> tuple[dict[Hashable, Any], torch.Tensor]:
        d = dict(data)
        image = torch.as_tensor(d[self.image_key]).float()
        if image.ndim != self.layout.count(",") + 1:
            raise ValueError(
                f"{type(self).__name__}: '{self.image_key}' must be {self.layout}, got {tuple(image.shape)}."
            )
        if stream is not None and position is not None:
            self.R = np.random.RandomState(_seed(self.seed, stream, position, self.rank))
        self.randomize(batch_size=image.shape[0])
        return d, image


class BatchViews2d(_SeededBatchViews):
    """The AdaMix 2D views (ACDC, ISIC) of a batch on its device: the per-batch twin of
    :func:`~adamix_monai.data.views.weak_strong_views_2d` (same arguments, same parameter distributions).

    Call it on a batch dictionary whose ``image_key`` (and ``label_key``, when present) hold ``(B, C, H, W)``
    images already resized to the training size (the ``views="device"`` loader pipeline), with the native spatial
    shapes under ``shape_key`` (:class:`RecordSpatialShaped`; without it the resized frame is used). It returns a
    new dictionary with the weak view under ``image_key``, the strong view under ``strong_key`` and the label under
    ``label_key``, on the batch's device.

    MONAI's randomize-then-apply pattern: :meth:`randomize` draws every parameter of one batch from ``self.R``;
    :meth:`__call__` with ``stream`` and ``position`` first reseeds ``self.R`` from ``(seed, stream, position,
    rank)`` so the views of a batch are a pure function of its place in the run.

    Args:
        rotate_prob: probability of the rotation.
        strong: also make the strong view.
        saturation: colour-jitter saturation range (RGB only).
        hue: colour-jitter hue range (RGB only).
        posterize_prob: probability of posterising the strong view to 5 bits.
        blur_prob: probability of the Gaussian blur of the strong view.
        normalize: ``(mean, std)`` per channel applied to both views last; None keeps ``[0, 1]``.
        seed: the run's seed (``set_random_state`` changes it).
        rank: the DDP rank (default from ``torch.distributed`` when initialised, else 0).
        image_key, label_key, strong_key, shape_key: batch keys.
    """

    def __init__(
        self,
        rotate_prob: float = 0.5,
        strong: bool = True,
        saturation: float = 0.0,
        hue: float = 0.0,
        posterize_prob: float = 0.0,
        blur_prob: float = 0.5,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
        seed: int = 0,
        rank: int | None = None,
        image_key: str = "image",
        label_key: str = "label",
        strong_key: str = "image_strong",
        shape_key: str = "source_shape",
    ) -> None:
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"BatchViews2d: hue must be in [0, 0.5], got {hue}.")
        self.rotate_prob, self.strong = float(rotate_prob), bool(strong)
        self.saturation, self.hue = float(saturation), float(hue)
        self.posterize_prob, self.blur_prob = float(posterize_prob), float(blur_prob)
        self.normalize = None if normalize is None else tuple(tuple(float(v) for v in part) for part in normalize)
        super().__init__(seed, rank, image_key)
        self.label_key, self.strong_key, self.shape_key = label_key, strong_key, shape_key

    # ---- randomize ---------------------------------------------------------------------------------------------
    def randomize(self, data: Any = None, batch_size: int = 1) -> None:
        """Draw the parameters of one batch of ``batch_size`` images from ``self.R`` into ``self.params``."""
        r, b = self.R, int(batch_size)
        p: dict[str, np.ndarray] = {
            "flip_h": r.rand(b) < 0.5,
            "flip_w": r.rand(b) < 0.5,
            "rotate": r.rand(b) < self.rotate_prob,
            "angle": r.uniform(-math.pi, math.pi, b),
        }
        if self.strong:
            rgb_jitter = bool(self.saturation or self.hue)
            p["jitter"] = r.rand(b) < 0.8
            p["factors"] = np.stack(
                [
                    r.uniform(1 - 0.5, 1 + 0.5, b),
                    r.uniform(1 - 0.5, 1 + 0.5, b),
                    (r.uniform(1 - self.saturation, 1 + self.saturation, b) if rgb_jitter else np.ones(b)),
                    r.uniform(-self.hue, self.hue, b) if rgb_jitter else np.zeros(b),
                ],
                1,
            )
            if rgb_jitter:
                p["order"] = np.argsort(r.rand(b, 4), axis=1)
            else:  # brightness and contrast, in a random order
                swap = r.rand(b) < 0.5
                p["order"] = np.where(swap[:, None], [1, 0, 2, 3], [0, 1, 2, 3])
            p["posterize"] = r.rand(b) < self.posterize_prob
            p["autocontrast"] = r.rand(b) < 0.2
            p["equalize"] = r.rand(b) < 0.2
            p["blur"] = r.rand(b) < self.blur_prob
            p["sigma"] = r.uniform(0.1, 2.0, (b, 2))
        self.params = p

    # ---- apply -------------------------------------------------------------------------------------------------
    def __call__(
        self,
        data: Mapping[Hashable, Any],
        stream: int | None = None,
        position: int | None = None,
    ) -> dict[Hashable, Any]:
        """The views of one batch; with ``stream`` and ``position``, seeded by its place in the run."""
        d, image = self._start(data, stream, position)
        label = d.get(self.label_key)
        label = None if label is None else torch.as_tensor(label).to(image.device)
        shape = d.get(self.shape_key)
        weak, label = self.geometry(image, label, None if shape is None else torch.as_tensor(shape))
        d[self.image_key] = weak
        if label is not None:
            d[self.label_key] = label
        if self.strong:
            d[self.strong_key] = self.photometric(weak)
        if self.normalize is not None:
            mean, std = (torch.tensor(v, device=image.device).reshape(1, -1, 1, 1) for v in self.normalize)
            for key in (self.image_key,) + ((self.strong_key,) if self.strong else ()):
                d[key] = (d[key] - mean) / std
        return d

    def _theta(self, size: Sequence[int], source: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """Each image's ``(2, 3)`` sampling matrix in ``affine_grid``'s normalised (x = W, y = H) coordinates."""
        p = self.params
        b = len(p["angle"])
        angle = np.where(p["rotate"], p["angle"], 0.0)
        if source is None:
            hw = np.tile(np.asarray(size, dtype=np.float64), (b, 1))
        else:
            hw = source.detach().cpu().numpy().astype(np.float64).reshape(b, 2)
        cos, sin = np.cos(angle), np.sin(angle)
        # D^-1 R D with D = diag(W, H) / 2: the rotation in the native image's pixel frame
        a = np.empty((b, 2, 3))
        a[:, 0, 0], a[:, 0, 1] = cos, -sin * hw[:, 0] / hw[:, 1]
        a[:, 1, 0], a[:, 1, 1] = sin * hw[:, 1] / hw[:, 0], cos
        a[:, :, 2] = 0.0
        a[:, 0, :2] *= np.where(p["flip_w"], -1.0, 1.0)[:, None]  # the flips act on the input, before the rotation
        a[:, 1, :2] *= np.where(p["flip_h"], -1.0, 1.0)[:, None]
        return torch.as_tensor(a, dtype=torch.float32, device=device)

    def geometry(
        self,
        image: torch.Tensor,
        label: torch.Tensor | None,
        source: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The drawn flips and rotation of the images and labels (nearest sampling, zero fill)."""
        p = self.params
        if not (p["rotate"].any() or p["flip_h"].any() or p["flip_w"].any()):
            return image, label
        theta = self._theta(image.shape[2:], source, image.device)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        image = F.grid_sample(image, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        if label is not None:
            dtype = label.dtype
            lab = F.grid_sample(
                label.float(),
                grid,
                mode="nearest",
                padding_mode="zeros",
                align_corners=False,
            )
            label = lab.round().to(dtype)
        return image, label

    def photometric(self, x: torch.Tensor) -> torch.Tensor:
        """The strong view of a weak batch: colour jitter, posterisation, autocontrast, equalisation, blur."""
        p, dev, nd = self.params, x.device, x.ndim

        def select(flags: np.ndarray, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
            return torch.where(_per_image(torch.as_tensor(flags, device=dev), nd), new, old)

        factors = torch.as_tensor(p["factors"], dtype=x.dtype, device=dev)
        out = x
        if p["jitter"].any():
            jittered = x
            for slot in range(4):
                ops = np.where(p["jitter"], p["order"][:, slot], -1)
                for op in np.unique(ops[ops >= 0]):
                    if op >= 2 and x.shape[1] != 3:
                        continue  # saturation and hue act on RGB only
                    changed = self._jitter(jittered, int(op), _per_image(factors[:, op], nd))
                    jittered = select(ops == op, changed, jittered)
            out = select(p["jitter"], jittered, out)
        if p["posterize"].any():
            levels = torch.round(out.clamp(0, 1) * 255)
            out = select(p["posterize"], (levels - torch.remainder(levels, 8)) / 255, out)
        if p["autocontrast"].any():
            lo = out.amin(dim=(2, 3), keepdim=True)
            hi = out.amax(dim=(2, 3), keepdim=True)
            scaled = torch.where(hi > lo, (out - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(out))
            out = select(p["autocontrast"], scaled, out)
        if p["equalize"].any():
            out = select(p["equalize"], equalize_batch(out), out)
        if p["blur"].any():
            out = select(p["blur"], self._blur(out, p["sigma"]), out)
        return out

    @staticmethod
    def _jitter(x: torch.Tensor, op: int, f: torch.Tensor) -> torch.Tensor:
        if op == 0:  # brightness
            return (x * f).clamp(0, 1)
        if op == 1:  # contrast: blend with the mean luminance
            m = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
            return ((x - m) * f + m).clamp(0, 1)
        if op == 2:  # saturation: blend with the luminance
            lum = _gray(x)
            return ((x - lum) * f + lum).clamp(0, 1)
        return shift_hue(x.transpose(0, 1), f.reshape(1, -1, 1, 1)[0]).transpose(0, 1)  # hue

    @staticmethod
    def _blur(x: torch.Tensor, sigma: np.ndarray) -> torch.Tensor:
        """Per-image separable Gaussian blur (MONAI's ``GaussianSmooth``: erf kernels truncated at 4 sigma, zero
        padding), as one grouped convolution per axis."""
        b, c = x.shape[:2]
        kernels = [[gaussian_1d(float(s), truncated=4.0, approx="erf") for s in sigma[:, axis]] for axis in (0, 1)]
        out = x.reshape(1, b * c, *x.shape[2:])
        for axis, ks in enumerate(kernels):
            radius = max(len(k) for k in ks) // 2
            weight = torch.zeros(b, 2 * radius + 1, dtype=x.dtype)
            for i, k in enumerate(ks):
                r = len(k) // 2
                weight[i, radius - r : radius + r + 1] = k.to(x.dtype)
            weight = weight.repeat_interleave(c, 0).to(x.device)
            if axis == 0:
                out = F.conv2d(out, weight[:, None, :, None], padding=(radius, 0), groups=b * c)
            else:
                out = F.conv2d(out, weight[:, None, None, :], padding=(0, radius), groups=b * c)
        return out.reshape(x.shape)


def isic_batch_views(seed: int = 0, strong: bool = True, rank: int | None = None) -> BatchViews2d:
    """The ISIC training views of a batch on its device: the per-batch twin of
    :func:`~adamix_monai.data.views.isic_views` (colour jitter 0.5, 0.5, 0.5, 0.05; posterise p 0.2; blur always;
    ImageNet normalisation of both views last).

    Args:
        seed: the run's seed.
        strong: also make the strong view.
        rank: the DDP rank (default from ``torch.distributed``).
    """
    return BatchViews2d(strong=strong, seed=seed, rank=rank, **ISIC_VIEW_SETTINGS)


def gaussian_blur_reflect(x: torch.Tensor, sigma: torch.Tensor | np.ndarray, truncate: float = 4.0) -> torch.Tensor:
    """Isotropic Gaussian blur of every image of a batch with its own sigma, as ``scipy.ndimage.gaussian_filter``
    with ``mode="reflect"`` (the edge voxel repeated, ``d c b a | a b c d``) applied to each channel of each image.

    The kernel of an image is scipy's: ``exp(-x**2 / (2 sigma**2))`` normalised, of radius ``int(truncate * sigma +
    0.5)``; the images of one radius are filtered together, each spatial axis with one multiply-add per kernel
    tap.

    Args:
        x: a ``(B, C, *spatial)`` float tensor.
        sigma: ``B`` standard deviations, in voxels (a radius of 0, e.g. sigma 0, leaves an image unchanged).
        truncate: the kernel radius in standard deviations.

    Returns:
        The blurred batch, same shape and dtype.
    """
    b, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    sig = np.asarray(torch.as_tensor(sigma).detach().cpu(), dtype=np.float64).reshape(b)
    radii = np.array([int(truncate * s + 0.5) for s in sig])
    out = x
    for radius in np.unique(radii[radii > 0]):  # images grouped by kernel size: no taps wasted on zeros
        chosen = np.flatnonzero(radii == radius)
        taps = np.arange(-radius, radius + 1, dtype=np.float64)
        k = np.exp(-0.5 / (sig[chosen, None] ** 2) * taps**2)
        w = torch.as_tensor(k / k.sum(1, keepdims=True), dtype=x.dtype, device=x.device).repeat_interleave(c, 0)
        index = torch.as_tensor(chosen, device=x.device)
        blurred = _blur_rows(x.index_select(0, index).reshape(len(chosen) * c, *spatial), w, int(radius))
        if out is x:
            out = x.clone()
        out.index_copy_(0, index, blurred.reshape(len(chosen), c, *spatial))
    return out


def _blur_rows(x: torch.Tensor, w: torch.Tensor, radius: int) -> torch.Tensor:
    """Filter each row ``x[i]`` (any number of spatial axes) along every axis with its kernel ``w[i]`` (length
    ``2 * radius + 1``), reflecting the edges symmetrically (also where the kernel is wider than a side)."""
    per_row = (x.shape[0],) + (1,) * (x.ndim - 1)
    for dim in range(1, x.ndim):
        n = x.shape[dim]
        index = torch.arange(-radius, n + radius, device=x.device).remainder(2 * n)
        index = torch.where(index >= n, 2 * n - 1 - index, index)  # d c b a | a b c d | d c b a ...
        padded = x.index_select(dim, index)
        acc = padded.narrow(dim, 0, n) * w[:, 0].reshape(per_row)
        for tap in range(1, 2 * radius + 1):  # shifted multiply-adds: faster than a grouped convolution on CPU
            acc.addcmul_(padded.narrow(dim, tap, n), w[:, tap].reshape(per_row))
        x = acc
    return x


def adjust_gamma_batch(x: torch.Tensor, gamma: torch.Tensor, epsilon: float = 1e-7) -> torch.Tensor:
    """MONAI's ``AdjustContrast(gamma, retain_stats=True)`` on every image of a batch, each with its own gamma: the
    image is rescaled to ``[0, 1]`` over all its channels, raised to ``gamma``, scaled back, and then shifted and
    scaled to its original mean and (unbiased) standard deviation.

    Args:
        x: a ``(B, C, *spatial)`` float tensor.
        gamma: ``B`` exponents.
        epsilon: added to the intensity range, as MONAI.

    Returns:
        The adjusted batch, same shape and dtype.
    """
    flat = x.reshape(x.shape[0], -1)
    g = torch.as_tensor(gamma, dtype=x.dtype, device=x.device).reshape(-1, 1)
    mean, std = flat.mean(1, keepdim=True), flat.std(1, keepdim=True)
    lo = flat.amin(1, keepdim=True)
    span = flat.amax(1, keepdim=True) - lo
    out = ((flat - lo) / (span + epsilon)) ** g * span + lo
    out = out - out.mean(1, keepdim=True)
    out = out / (out.std(1, keepdim=True) + 1e-8)
    return (std * out + mean).reshape(x.shape)


class BatchViews3d(_SeededBatchViews):
    """The AdaMix LA strong view of a batch of cropped volumes on its device: the per-batch twin of the
    photometric half of :func:`~adamix_monai.data.views_3d.weak_strong_views_3d` (same parameter distributions).

    The loader makes the weak view (``weak_strong_views_3d(views="device")``: the rotation and flip, padding and
    random crop, with the label), which stays as it is; this makes the strong view of the collated ``(B, C, D, H,
    W)`` batch: with probability ``gamma_prob`` a gamma ``~ U(0.75, 1.25)`` keeping each volume's mean and standard
    deviation (:func:`adjust_gamma_batch`, MONAI's ``RandAdjustContrast(retain_stats=True)``), then with probability
    ``blur_prob`` an isotropic Gaussian blur with ``sigma ~ U(0.1, 2)`` and reflected borders
    (:func:`gaussian_blur_reflect`, :class:`~adamix_monai.data.views_3d.RandGaussianBlurd`).

    MONAI's randomize-then-apply pattern, seeded as :class:`BatchViews2d`: :meth:`__call__` with ``stream`` and
    ``position`` reseeds ``self.R`` from ``(seed, stream, position, rank)``.

    Args:
        gamma_prob: probability of the gamma change.
        gamma: the gamma range.
        blur_prob: probability of the blur.
        sigma: the blur's standard deviation range, in voxels.
        seed: the run's seed (``set_random_state`` changes it).
        rank: the DDP rank (default from ``torch.distributed`` when initialised, else 0).
        image_key, strong_key: batch keys (the weak view in, the strong view out).
    """

    layout = "(B, C, D, H, W)"

    def __init__(
        self,
        gamma_prob: float = 0.5,
        gamma: tuple[float, float] = (0.75, 1.25),
        blur_prob: float = 0.8,
        sigma: tuple[float, float] = (0.1, 2.0),
        seed: int = 0,
        rank: int | None = None,
        image_key: str = "image",
        strong_key: str = "image_strong",
    ) -> None:
        self.gamma_prob, self.blur_prob = float(gamma_prob), float(blur_prob)
        self.gamma = (float(gamma[0]), float(gamma[1]))
        self.sigma = (float(sigma[0]), float(sigma[1]))
        super().__init__(seed, rank, image_key)
        self.strong_key = strong_key

    def randomize(self, data: Any = None, batch_size: int = 1) -> None:
        """Draw the parameters of one batch of ``batch_size`` volumes from ``self.R`` into ``self.params``."""
        r, b = self.R, int(batch_size)
        self.params = {
            "gamma": r.rand(b) < self.gamma_prob,
            "gamma_value": r.uniform(self.gamma[0], self.gamma[1], b),
            "blur": r.rand(b) < self.blur_prob,
            "sigma": r.uniform(self.sigma[0], self.sigma[1], b),
        }

    def __call__(
        self,
        data: Mapping[Hashable, Any],
        stream: int | None = None,
        position: int | None = None,
    ) -> dict[Hashable, Any]:
        """The batch with its strong view added; with ``stream`` and ``position``, seeded by its place in the run."""
        d, image = self._start(data, stream, position)
        d[self.image_key] = image
        d[self.strong_key] = self.photometric(image)
        return d

    def photometric(self, x: torch.Tensor) -> torch.Tensor:
        """The strong view of a weak batch with the drawn parameters: gamma, then blur."""
        p, out = self.params, x
        if p["gamma"].any():
            chosen = _per_image(torch.as_tensor(p["gamma"], device=x.device), x.ndim)
            out = torch.where(chosen, adjust_gamma_batch(out, torch.as_tensor(p["gamma_value"])), out)
        return gaussian_blur_reflect(out, np.where(p["blur"], p["sigma"], 0.0))  # sigma 0: left as it is
