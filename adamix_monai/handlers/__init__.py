# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Ignite handlers of adamix-monai."""

from adamix_monai.handlers.adamix import AdaMixHandler
from adamix_monai.handlers.checkpoint import BestModelSaver, ResumableCheckpoint, RNGState, atomic_save
from adamix_monai.handlers.history import TrainingHistory
from adamix_monai.handlers.logs import TRAINING_SCALARS, TrainingLogs, attach_training_logs
from adamix_monai.handlers.lr_schedule import TailLrDecay
from adamix_monai.handlers.mix_samples import MixSampleSaver
from adamix_monai.handlers.run_models import RunModels
from adamix_monai.handlers.tensorboard import TensorBoardValidation

__all__ = [
    "TRAINING_SCALARS",
    "AdaMixHandler",
    "BestModelSaver",
    "MixSampleSaver",
    "RNGState",
    "ResumableCheckpoint",
    "RunModels",
    "TailLrDecay",
    "TensorBoardValidation",
    "TrainingHistory",
    "TrainingLogs",
    "atomic_save",
    "attach_training_logs",
]
