# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The U-Net of the AdaMix paper (``docs/algorithm.md`` section 3.5), 2D or 3D."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from adamix_monai.networks.dropout import CHANNELS_LAST

__all__ = ["AdaMixUNet"]


def _conv(dims: int):
    return nn.Conv2d if dims == 2 else nn.Conv3d


def _norm(dims: int):
    return nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d


class _Block(nn.Sequential):
    """conv3 - BN - LeakyReLU - Dropout - conv3 - BN - LeakyReLU.

    The LeakyReLUs work in place on the BatchNorm outputs, which nothing else reads (BatchNorm's backward needs its
    input, not its output): the same numbers as out of place, one activation fewer kept per layer.
    """

    def __init__(self, dims: int, cin: int, cout: int, dropout: float) -> None:
        conv, norm = _conv(dims), _norm(dims)
        super().__init__(
            conv(cin, cout, 3, padding=1),
            norm(cout),
            nn.LeakyReLU(0.01, inplace=True),
            nn.Dropout(dropout),
            conv(cout, cout, 3, padding=1),
            norm(cout),
            nn.LeakyReLU(0.01, inplace=True),
        )


class _DenseGradient(torch.autograd.Function):
    """The identity, whose backward hands on its gradient as a dense tensor in the input's memory format."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:  # type: ignore[override]
        ctx.memory_format = memory_format
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad.contiguous(memory_format=ctx.memory_format), None


@torch.jit.unused
def _dense_gradient(x: torch.Tensor) -> torch.Tensor:
    """``x``, with a dense channels-last gradient when ``x`` is channels-last and needs one.

    The gradient of one input of a channel concatenation is a channel slice of the concatenation's gradient; in the
    channels-last format that slice is strided, and the upsampling's backward reads it about 8x slower than a dense
    copy on a CPU (27.7 against 3.4 + 1.0 ms for 4 x 16 x 256 x 256, ``benchmarks/README.md``). The values are the
    same; only their layout changes.
    """
    fmt = CHANNELS_LAST.get(x.ndim)
    if x.requires_grad and fmt is not None and x.is_contiguous(memory_format=fmt) and not x.is_contiguous():
        return _DenseGradient.apply(x, fmt)
    return x


class _Up(nn.Module):
    """1x1 conv, (bi/tri)linear x2 upsampling with aligned corners, concatenation with the skip, conv block."""

    def __init__(self, dims: int, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.reduce = _conv(dims)(cin, cskip, 1)
        self.block = _Block(dims, 2 * cskip, cout, 0.0)
        self.mode = "bilinear" if dims == 2 else "trilinear"

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.reduce(x), size=skip.shape[2:], mode=self.mode, align_corners=True)
        if not torch.jit.is_scripting():
            x = _dense_gradient(x)
        return self.block(torch.cat([skip, x], dim=1))


class AdaMixUNet(nn.Module):
    """U-Net with encoder dropout, as used by AdaMix for ACDC and ISIC.

    Encoder blocks with channels ``channels`` and dropout ``dropout`` per level, max-pooling down; decoder blocks
    without dropout, each upsampling with a 1x1 conv then bilinear x2 (``align_corners=True``) and concatenating
    the skip; a 3x3 conv to ``out_channels``. The decoder is initialised with Kaiming-normal weights.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (1 for MRI, 3 for RGB).
        out_channels: classes.
        channels: feature channels per level (16..256 in the paper).
        dropout: encoder dropout per level.

    Raises:
        ValueError: on inconsistent arguments.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 4,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        dropout: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"AdaMixUNet: spatial_dims must be 2 or 3, got {spatial_dims}.")
        if len(channels) != len(dropout) or len(channels) < 2:
            raise ValueError(
                f"AdaMixUNet: give one dropout per level; got {len(channels)} channels, {len(dropout)} dropouts."
            )
        self.spatial_dims, self.out_channels = spatial_dims, out_channels
        self.encoder = nn.ModuleList()
        cin = in_channels
        for cout, p in zip(channels, dropout):
            self.encoder.append(_Block(spatial_dims, cin, cout, p))
            cin = cout
        self.pool = nn.MaxPool2d(2) if spatial_dims == 2 else nn.MaxPool3d(2)
        rev = list(channels)[::-1]
        self.decoder = nn.ModuleList(_Up(spatial_dims, rev[i], rev[i + 1], rev[i + 1]) for i in range(len(rev) - 1))
        self.head = _conv(spatial_dims)(channels[0], out_channels, 3, padding=1)
        for module in [*self.decoder.modules(), self.head]:
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, *spatial)``; spatial sizes must be divisible by ``2 ** (levels - 1)``."""
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up in self.decoder:
            x = up(x, skips.pop())
        return self.head(x)
