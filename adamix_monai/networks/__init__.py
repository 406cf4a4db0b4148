# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Networks of the AdaMix paper."""

from adamix_monai.networks.unet import AdaMixUNet

__all__ = ["AdaMixUNet"]
