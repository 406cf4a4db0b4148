# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The input-error family: what the command line and the bundles print as one ``error:`` line (exit status 2).

Every error about what a user gave (a file, a folder, a datalist, an option value, a checkpoint) derives from
:class:`InputError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "DatasetError", "InputError"]


class InputError(Exception):
    """A user input is missing or unusable; the message names it and says what was expected."""


class CheckpointError(InputError, ValueError):
    """A weights or checkpoint file cannot be used: not a PyTorch file, damaged, or made for another network."""


class DatasetError(InputError, ValueError):
    """A file of a dataset folder is unusable (unreadable, wrong dtype, image and label shapes that differ, label
    values outside the classes); the message names every such file."""
