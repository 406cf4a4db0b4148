# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Weak and strong views of one 3D volume for LA (``docs/algorithm.md`` sections 3.1 and 5.2).

The weak view is the reference's ``RandomRotFlip`` followed by a random 80 x 112 x 112 crop; the strong view is a
copy of the weak view after the geometry with a gamma change and a Gaussian blur on top. Labels follow the
geometry only, so the weak view's pseudo-labels and the mixed strong view stay voxel-aligned.

Volumes are channel-first ``(C, D, H, W)``: LA's h5 arrays are stored (W, H, D), so read them with
:class:`~adamix_monai.data.io.LoadH5d` and MONAI's ``Transposed(keys, indices=(0, 3, 2, 1))`` first.

Bad inputs: a volume smaller than the crop along some axis is zero-padded to the crop (symmetrically); a label
with values other than ``label_values`` (e.g. a raw challenge mask in {0, 255}) stops the pipeline with a
``ValueError`` naming the case file (:class:`~adamix_monai.data.labels.CheckLabelsd`); an unreadable or truncated h5 file, or one without
the expected dataset, already fails in ``LoadH5d`` with the file and the dataset named.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import (
    Compose,
    CopyItemsd,
    Flip,
    MapTransform,
    RandAdjustContrastd,
    RandomizableTransform,
    RandSpatialCropd,
    Rotate90,
    SpatialPadd,
)
from monai.utils import convert_data_type, convert_to_dst_type
from scipy.ndimage import gaussian_filter

from adamix_monai.data.labels import CheckLabelsd

__all__ = ["RandGaussianBlurd", "RandRotFlipd", "weak_strong_views_3d"]


class RandRotFlipd(RandomizableTransform, MapTransform):
    """The reference's ``RandomRotFlip``: with probability ``prob``, a rotation by ``k * 90`` degrees (``k`` uniform
    in 0..3) in the plane of ``spatial_axes`` and then a flip along one axis drawn uniformly from ``flip_axes``.

    The two happen together or not at all, as in the reference. The defaults are the reference's on (D, H, W)
    volumes: ``np.rot90`` on array axes (0, 1), i.e. the **D-H plane** (a quirk: the rotation is not in-plane, and
    with odd ``k`` the D and H sides swap, so a volume of 88 slices becomes 88 voxels high and is then padded to the
    112 of the crop), and a flip of H or W. The rotation turns from the first axis towards the second, as
    ``np.rot90``.

    Args:
        keys: image and label keys (the same draw applies to all).
        prob: probability of rotating and flipping.
        spatial_axes: the rotation plane, spatial axes (channel excluded).
        flip_axes: spatial axes one of which is flipped.
        allow_missing_keys: skip absent keys.

    Raises:
        ValueError: when ``flip_axes`` is empty.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.5,
        spatial_axes: tuple[int, int] = (0, 1),
        flip_axes: Sequence[int] = (1, 2),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if not flip_axes:
            raise ValueError("RandRotFlipd: flip_axes must name at least one spatial axis.")
        self.spatial_axes = (int(spatial_axes[0]), int(spatial_axes[1]))
        self.flip_axes = tuple(int(a) for a in flip_axes)
        self._k, self._flip_axis = 0, self.flip_axes[0]

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        self._k = int(self.R.randint(4))
        self._flip_axis = self.flip_axes[int(self.R.randint(len(self.flip_axes)))]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        rotate, flip = Rotate90(k=self._k, spatial_axes=self.spatial_axes), Flip(spatial_axis=self._flip_axis)
        for key in self.key_iterator(d):
            d[key] = flip(rotate(d[key]))
        return d


class RandGaussianBlurd(RandomizableTransform, MapTransform):
    """Isotropic Gaussian blur with ``sigma ~ U(sigma)``, the same sigma on every spatial axis, as the reference's
    ``GaussianBlur``: ``scipy.ndimage.gaussian_filter`` with its default ``"reflect"`` borders (the edge voxel is
    repeated, ``d c b a | a b c d``) and a kernel radius of ``int(truncate * sigma + 0.5)``. Channels are blurred
    separately.

    MONAI's ``RandGaussianSmoothd`` draws one sigma per axis and pads with zeros, hence this transform.

    Args:
        keys: image keys.
        sigma: range of the standard deviation, in voxels.
        prob: probability of blurring.
        truncate: kernel radius in standard deviations (scipy's ``truncate``).
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        sigma: tuple[float, float] = (0.1, 2.0),
        prob: float = 0.8,
        truncate: float = 4.0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.truncate = float(truncate)
        self._sigma = self.sigma[0]

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if self._do_transform:
            self._sigma = float(self.R.uniform(self.sigma[0], self.sigma[1]))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            img = d[key]
            arr = convert_data_type(img, np.ndarray)[0]
            sigmas = (0.0,) + (self._sigma,) * (arr.ndim - 1)  # no blur across channels
            out = gaussian_filter(arr, sigma=sigmas, mode="reflect", truncate=self.truncate)
            d[key] = convert_to_dst_type(out, dst=img)[0]
        return d


def weak_strong_views_3d(
    image_key: str = "image",
    label_key: str | None = "label",
    strong_key: str = "image_strong",
    roi_size: Sequence[int] = (80, 112, 112),
    strong: bool = True,
    rot_flip_prob: float = 0.5,
    gamma_prob: float = 0.5,
    blur_prob: float = 0.8,
    label_values: Sequence[int] | None = (0, 1),
    views: str = "workers",
) -> Compose:
    """The AdaMix LA views on channel-first (C, D, H, W) volumes.

    Weak view: :class:`RandRotFlipd` (p 0.5: rot90 in the D-H plane, then a flip of H or W), zero padding of the
    sides smaller than ``roi_size`` (MONAI ``SpatialPadd``, symmetric), and a random crop to ``roi_size``.
    Strong view: a copy of the weak view (``strong_key``) with gamma ``~ U(0.75, 1.25)`` keeping the mean and standard
    deviation (MONAI ``RandAdjustContrastd(retain_stats=True)``, p 0.5; the reference's ``AugGama``, whose two-sided
    draw is the same uniform law) and an isotropic Gaussian blur with ``sigma ~ U(0.1, 2)`` (p 0.8).

    Deliberate differences from the reference ``RandomCrop``: when some side is *at most* the crop, it pads every
    axis by ``max((crop - side) // 2 + 3, 0)`` voxels on each end (so also an equal side, and sides up to 4 voxels
    longer than the crop), and it never draws the last crop position; here a side is padded only when it is
    smaller, exactly to the crop, and every crop position is drawn. Padding writes zeros, which for z-scored LA
    volumes is the mean intensity, not the background, as in the reference.

    Args:
        image_key: the image (float, channel-first).
        label_key: the label, None for unlabeled items.
        strong_key: where the strong view goes.
        roi_size: crop size (D, H, W); 80 x 112 x 112 in the paper.
        strong: also make the strong view.
        rot_flip_prob: probability of the rotation-and-flip.
        gamma_prob: probability of the gamma change.
        blur_prob: probability of the blur.
        label_values: allowed label values, checked first (:class:`CheckLabelsd`); None skips the check.
        views: ``"workers"`` (both views here) or ``"device"``: the weak view and the label only (the geometry,
            which has to be done before volumes of different sizes are stacked); the trainer then makes the strong
            view of each batch on its device with :class:`~adamix_monai.data.device_views.BatchViews3d` (the same
            gamma and blur distributions).

    Returns:
        A MONAI ``Compose`` over dictionaries (seed it with ``set_random_state``, or use
        :class:`~adamix_monai.data.SeededDataset`).

    Raises:
        ValueError: on another ``views``.
    """
    if views not in ("workers", "device"):
        raise ValueError(f"weak_strong_views_3d: views must be 'workers' or 'device', got {views!r}.")
    strong = strong and views == "workers"
    keys = [image_key] + ([label_key] if label_key else [])
    roi = tuple(int(s) for s in roi_size)
    transforms: list[Any] = []
    if label_key and label_values is not None:
        transforms.append(CheckLabelsd(keys=label_key, values=label_values))
    transforms += [
        RandRotFlipd(keys=keys, prob=rot_flip_prob),
        SpatialPadd(keys=keys, spatial_size=roi, mode="constant"),
        RandSpatialCropd(keys=keys, roi_size=roi, random_size=False),
    ]
    if strong:
        transforms += [
            CopyItemsd(keys=image_key, names=strong_key),
            RandAdjustContrastd(keys=strong_key, prob=gamma_prob, gamma=(0.75, 1.25), retain_stats=True),
            RandGaussianBlurd(keys=strong_key, sigma=(0.1, 2.0), prob=blur_prob),
        ]
    return Compose(transforms)
