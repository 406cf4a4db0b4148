# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Training engines of adamix-monai."""

from adamix_monai.engines.ema import ema_decay, ema_update
from adamix_monai.engines.semi_supervised import PARADIGMS, SemiSupervisedTrainer

__all__ = ["PARADIGMS", "SemiSupervisedTrainer", "ema_decay", "ema_update"]
