# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Ignite handlers of adamix-monai."""

from adamix_monai.handlers.adamix import AdaMixHandler
from adamix_monai.handlers.checkpoint import BestModelSaver, ResumableCheckpoint, RNGState, atomic_save
from adamix_monai.handlers.logs import TRAINING_SCALARS, attach_training_logs
from adamix_monai.handlers.lr_schedule import TailLrDecay

__all__ = [
    "TRAINING_SCALARS",
    "AdaMixHandler",
    "BestModelSaver",
    "RNGState",
    "ResumableCheckpoint",
    "TailLrDecay",
    "atomic_save",
    "attach_training_logs",
]
