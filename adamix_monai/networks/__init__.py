# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Networks of the AdaMix paper: the 2D/3D U-Net (ACDC, ISIC) and the 3D V-Net (LA); a cheaper dropout layer."""

from adamix_monai.networks.dropout import FastDropout, use_fast_dropout
from adamix_monai.networks.unet import AdaMixUNet
from adamix_monai.networks.vnet import AdaMixVNet

__all__ = ["AdaMixUNet", "AdaMixVNet", "FastDropout", "use_fast_dropout"]
