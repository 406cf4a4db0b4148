# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Inferers of the AdaMix evaluation protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.inferers import Inferer, SliceInferer, SlidingWindowInferer
from monai.utils import convert_to_dst_type, ensure_tuple

from adamix_monai.sliding_window import sliding_window_overlap

__all__ = ["ResizeSliceInferer", "SoftmaxSlidingWindowInferer", "TransposedInferer"]


class ResizeSliceInferer(SliceInferer):
    """Runs a 2D network on every slice of a 3D volume, each slice resized to the network's input size.

    This is the 2D evaluation protocol of the AdaMix paper (ACDC): each slice is resized to ``roi_size``
    (``image_mode`` interpolation), the network predicts, and the output is resized back to the slice's own size
    with ``output_mode`` interpolation (``nearest`` on the network's output keeps the argmax of each resized-back
    pixel equal to the argmax at network resolution resized with nearest neighbours, as the reference does).
    Unlike MONAI's ``SliceInferer`` (a sliding window over each slice, same class interface otherwise), slices
    of any size are resampled rather than tiled. 2D inputs ``(B, C, H, W)`` are resized and predicted directly.

    Args:
        roi_size: the network's 2D input size.
        spatial_dim: the slicing axis of a ``(B, C, D, H, W)`` input: 0 for D (ACDC volumes are ``(D, H, W)``).
        sw_batch_size: slices per forward pass.
        image_mode: interpolation of the input slices (``bilinear``, ``bicubic``, ``area``, ``nearest``).
        output_mode: interpolation of the output back to the slice size.
        kwargs: further ``SliceInferer`` arguments (unused by this resize protocol).
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int = (256, 256),
        spatial_dim: int = 0,
        sw_batch_size: int = 16,
        image_mode: str = "bilinear",
        output_mode: str = "nearest",
        **kwargs: Any,
    ) -> None:
        roi = ensure_tuple(roi_size)
        roi = tuple(int(r) for r in (roi * 2 if len(roi) == 1 else roi))
        if len(roi) != 2:
            raise ValueError(f"ResizeSliceInferer: roi_size must be 2D, got {roi_size}.")
        super().__init__(spatial_dim, roi_size=roi, sw_batch_size=sw_batch_size, **kwargs)
        self.size = roi
        self.image_mode, self.output_mode = image_mode, output_mode

    def _resize(self, x: torch.Tensor, size: Sequence[int], mode: str) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        corners = False if mode in ("bilinear", "bicubic") else None
        return F.interpolate(x, size=tuple(size), mode=mode, align_corners=corners)

    def _predict_slices(
        self, slices: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        size = slices.shape[-2:]
        resized = self._resize(slices.float(), self.size, self.image_mode)
        outs = []
        for start in range(0, resized.shape[0], max(1, int(self.sw_batch_size))):
            out = network(resized[start : start + self.sw_batch_size], *args, **kwargs)
            if isinstance(out, dict):
                out = out.get("out", next(iter(out.values())))
            elif isinstance(out, (tuple, list)):
                out = out[0]
            outs.append(out.float())
        return self._resize(torch.cat(outs), size, self.output_mode)

    def __call__(  # type: ignore[override]
        self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Predict.

        Args:
            inputs: ``(B, C, H, W)`` or ``(B, C, D, H, W)``.
            network: the 2D network.
            args, kwargs: further network arguments.

        Returns:
            The network's output at the input's spatial size, ``(B, K, ...)`` (a ``MetaTensor`` with the input's
            metadata when the input is one).
        """
        x = inputs.as_tensor() if hasattr(inputs, "as_tensor") else inputs
        if x.ndim == 4:
            out = self._predict_slices(x, network, *args, **kwargs)
        elif x.ndim == 5:
            axis = 2 + self.spatial_dim
            moved = x.movedim(axis, 1)  # (B, S, C, a, b)
            b, s = moved.shape[:2]
            flat = moved.reshape(b * s, *moved.shape[2:])
            pred = self._predict_slices(flat, network, *args, **kwargs)
            out = pred.reshape(b, s, *pred.shape[1:]).movedim(1, axis)
        else:
            raise ValueError(
                f"ResizeSliceInferer: expected a (B, C, H, W) or (B, C, D, H, W) input, got {tuple(x.shape)}."
            )
        return convert_to_dst_type(out, inputs, dtype=out.dtype)[0] if out.device == inputs.device else out


class SoftmaxSlidingWindowInferer(SlidingWindowInferer):
    """A sliding window that averages class probabilities, with the step given in voxels.

    The reference LA evaluation (UA-MT's ``test_single_case``) tiles the volume with a fixed step (4 on D, 18 on
    H and W for an 80 x 112 x 112 window), sums the *softmax* of every window and divides by the coverage count.
    MONAI's ``SlidingWindowInferer`` averages whatever the network returns and takes the overlap as a fraction;
    this subclass wraps the network in a softmax and turns ``strides`` into the overlap that reproduces those
    steps (:func:`~adamix_monai.sliding_window.sliding_window_overlap`). The window positions then coincide with
    the reference's: ``ceil((size - roi) / stride) + 1`` per axis, the last one flush with the end, and a volume
    smaller than the window zero-padded.

    Args:
        roi_size: the window (the training crop).
        strides: the step per axis in voxels; None uses ``overlap``.
        sw_batch_size: windows per forward pass.
        overlap: MONAI's overlap, used when ``strides`` is None.
        softmax: average probabilities (True, the reference) or the network's raw output (MONAI's default).
        kwargs: further ``SlidingWindowInferer`` arguments (``mode``, ``device``, ``sw_device``, ...).
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int,
        strides: Sequence[int] | None = None,
        sw_batch_size: int = 4,
        overlap: Sequence[float] | float = 0.25,
        softmax: bool = True,
        **kwargs: Any,
    ) -> None:
        if strides is not None:
            overlap = sliding_window_overlap(ensure_tuple(roi_size), strides)
        super().__init__(roi_size=roi_size, sw_batch_size=sw_batch_size, overlap=overlap, **kwargs)
        self.softmax = bool(softmax)

    def __call__(  # type: ignore[override]
        self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Predict.

        Args:
            inputs: ``(B, C, *spatial)``.
            network: the network.
            args, kwargs: further network arguments.

        Returns:
            The averaged probabilities (or outputs), ``(B, K, *spatial)``.
        """
        if not self.softmax:
            return super().__call__(inputs, network, *args, **kwargs)

        def probabilities(x: torch.Tensor, *a: Any, **k: Any) -> torch.Tensor:
            return torch.softmax(network(x, *a, **k).float(), dim=1)

        return super().__call__(inputs, probabilities, *args, **kwargs)


class TransposedInferer(Inferer):
    """Runs another inferer on a transposed input and transposes the output back.

    A network trained on volumes in one axis order (LA: ``(D, H, W)``, from UA-MT's ``(W, H, D)`` arrays) can so
    predict images read in their file's order (a NIfTI gives ``(W, H, D)``), and the prediction keeps the input's
    geometry for ``SaveImaged``.

    Args:
        inferer: the inferer to run (e.g. :class:`SoftmaxSlidingWindowInferer`).
        spatial_axes: the permutation of the spatial axes applied to the input, e.g. ``(2, 1, 0)``.
    """

    def __init__(self, inferer: Inferer, spatial_axes: Sequence[int]) -> None:
        super().__init__()
        axes = tuple(int(a) for a in spatial_axes)
        if sorted(axes) != list(range(len(axes))):
            raise ValueError(
                f"TransposedInferer: spatial_axes {spatial_axes} is not a permutation of 0..{len(axes) - 1}."
            )
        self.inferer, self.axes = inferer, axes
        self.inverse = tuple(axes.index(i) for i in range(len(axes)))

    def __call__(  # type: ignore[override]
        self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Predict.

        Args:
            inputs: ``(B, C, *spatial)`` with ``len(spatial_axes)`` spatial axes.
            network: the network.
            args, kwargs: further arguments of the wrapped inferer.

        Returns:
            The output in the input's axis order (a ``MetaTensor`` with the input's metadata when the input is one).
        """
        x = inputs.as_tensor() if hasattr(inputs, "as_tensor") else inputs
        if x.ndim != len(self.axes) + 2:
            raise ValueError(f"TransposedInferer: expected {len(self.axes)} spatial axes, got shape {tuple(x.shape)}.")
        out = self.inferer(x.permute(0, 1, *(a + 2 for a in self.axes)), network, *args, **kwargs)
        out = out.as_tensor() if hasattr(out, "as_tensor") else out
        out = out.permute(0, 1, *(a + 2 for a in self.inverse))
        return convert_to_dst_type(out, inputs, dtype=out.dtype)[0] if out.device == inputs.device else out
