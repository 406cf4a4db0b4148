# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The V-Net of the AdaMix paper for LA (``docs/algorithm.md`` section 3.5), the UA-MT variant.

Five encoder stages of plain (non-residual) ``conv3x3x3 - norm - ReLU`` blocks with 1, 2, 3, 3, 3 convolutions and
``n_filters * 2**i`` channels; each of the four downsamplings is a stride-2 convolution with a 2x2x2 kernel
followed by norm and ReLU. The decoder mirrors it: a 2x2x2 stride-2 transposed convolution with norm and ReLU,
an *additive* skip connection, then 3, 3, 2, 1 convolutions; a 1x1x1 convolution gives the logits.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["AdaMixVNet"]

NORMALIZATIONS = ("batch", "group", "instance", "none")


def _norm(normalization: str, channels: int) -> list[nn.Module]:
    """The normalisation layer after a convolution, as a list (empty for ``none``)."""
    if normalization == "batch":
        return [nn.BatchNorm3d(channels)]
    if normalization == "group":
        return [nn.GroupNorm(num_groups=16, num_channels=channels)]
    if normalization == "instance":
        return [nn.InstanceNorm3d(channels)]
    return []


class _ConvStage(nn.Sequential):
    """``convs`` times ``conv3x3x3 - norm - ReLU``; the first convolution maps ``cin`` to ``cout`` channels."""

    def __init__(self, convs: int, cin: int, cout: int, normalization: str) -> None:
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [nn.Conv3d(cin if i == 0 else cout, cout, 3, padding=1), *_norm(normalization, cout)]
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Resample(nn.Sequential):
    """Halve (stride-2 conv) or double (stride-2 transposed conv) the resolution; kernel 2, then norm and ReLU."""

    def __init__(self, cin: int, cout: int, normalization: str, up: bool) -> None:
        conv = nn.ConvTranspose3d if up else nn.Conv3d
        super().__init__(conv(cin, cout, 2, stride=2), *_norm(normalization, cout), nn.ReLU(inplace=True))


class AdaMixVNet(nn.Module):
    """V-Net as in UA-MT and AdaMix's LA experiments (``VNetorg`` of the reference code), returning logits.

    With ``n_filters=16`` the stages have 16, 32, 64, 128, 256 channels; for one input channel and two classes the
    network has 9,448,866 parameters with batch (or group) normalisation, as UA-MT's V-Net, and 9,443,266 without
    normalisation parameters (``"none"``, or ``"instance"``, which like the reference has no affine part).
    The decoder (transposed-conv stages, conv stages and the output conv) is initialised like the reference's
    ``init_weight(net.classifier, kaiming_normal_, mode="fan_in", nonlinearity="relu")``: Kaiming-normal
    convolution weights, unit/zero normalisation affine parameters; the encoder keeps PyTorch's default init.

    Args:
        in_channels: input channels (1 for LA MRI).
        out_channels: classes (2 for LA).
        n_filters: channels of the first stage; stage ``i`` has ``n_filters * 2**i``.
        normalization: ``"batch"`` (the paper), ``"group"`` (16 groups), ``"instance"`` or ``"none"``.
        dropout: UA-MT's ``has_dropout``: ``True`` (p = 0.5) or a probability adds ``Dropout3d`` after the
            bottleneck and before the output conv; ``False`` (the paper's AdaMix setting) adds none.

    Raises:
        ValueError: on an unknown normalisation, a bad dropout probability, or ``n_filters`` not divisible by 16
            with group normalisation.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        n_filters: int = 16,
        normalization: str = "batch",
        dropout: bool | float = False,
    ) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"AdaMixVNet: normalization must be one of {NORMALIZATIONS}, got '{normalization}'.")
        if normalization == "group" and n_filters % 16:
            raise ValueError(
                f"AdaMixVNet: group normalisation uses 16 groups; n_filters={n_filters} is not a multiple."
            )
        p = 0.5 if dropout is True else float(dropout)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"AdaMixVNet: dropout must be a bool or a probability in [0, 1), got {dropout}.")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        widths = [n_filters * 2**i for i in range(5)]
        self.encoder = nn.ModuleList(
            _ConvStage(convs, in_channels if i == 0 else widths[i], widths[i], normalization)
            for i, convs in enumerate((1, 2, 3, 3, 3))
        )
        self.down = nn.ModuleList(_Resample(widths[i], widths[i + 1], normalization, up=False) for i in range(4))
        self.up = nn.ModuleList(_Resample(widths[i + 1], widths[i], normalization, up=True) for i in (3, 2, 1, 0))
        self.decoder = nn.ModuleList(
            _ConvStage(convs, widths[i], widths[i], normalization) for i, convs in zip((3, 2, 1, 0), (3, 3, 2, 1))
        )
        self.head = nn.Conv3d(widths[0], out_channels, 1)
        self.dropout = nn.Dropout3d(p) if p > 0 else nn.Identity()
        for module in [*self.up.modules(), *self.decoder.modules(), self.head]:
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm3d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, D, H, W)`` of an input ``(B, in_channels, D, H, W)``.

        Raises:
            ValueError: when the input is not 5D, has the wrong number of channels, or a spatial side is not
                divisible by 16 (the four stride-2 stages).
        """
        if x.dim() != 5 or x.shape[1] != self.in_channels:  # written so that TorchScript compiles it (ckpt_export)
            raise ValueError(
                "AdaMixVNet: expected an input (B, " + str(self.in_channels) + ", D, H, W), got shape "
                + str(list(x.shape)) + "."
            )
        for side in x.shape[2:]:
            if side % 16 != 0:
                raise ValueError(
                    "AdaMixVNet: every spatial side must be divisible by 16 (four stride-2 stages), got "
                    + str(list(x.shape[2:])) + "; crop or pad the input (the paper uses 80 x 112 x 112 patches)."
                )
        skips: list[torch.Tensor] = []
        for stage, down in zip(self.encoder, self.down):  # every stage but the bottleneck, then its downsampling
            x = stage(x)
            skips.append(x)
            x = down(x)
        x = self.dropout(self.encoder[-1](x))
        for up, stage in zip(self.up, self.decoder):
            x = stage(up(x) + skips.pop())
        return self.head(self.dropout(x))
