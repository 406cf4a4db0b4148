# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""adamix-monai: AdaMix (adaptive, self-paced patch mix-up) for semi-supervised segmentation on MONAI."""

from __future__ import annotations

from adamix_monai.handlers import AdaMixHandler
from adamix_monai.mixing import PatchPlan, apply_plan, box_mask, patch_scores, plan_patch_mix
from adamix_monai.schedule import proxy_dice_loss, self_paced_age, self_paced_plan
from adamix_monai.transforms import AdaMix, AdaMixd, MixMode, MixStats

__version__ = "0.1.0"

__all__ = [
    "AdaMix",
    "AdaMixHandler",
    "AdaMixd",
    "MixMode",
    "MixStats",
    "PatchPlan",
    "__version__",
    "apply_plan",
    "box_mask",
    "patch_scores",
    "plan_patch_mix",
    "proxy_dice_loss",
    "self_paced_age",
    "self_paced_plan",
]
