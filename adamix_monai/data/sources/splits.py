# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The names of the evaluation splits, shared by every data source."""

from __future__ import annotations

__all__ = ["SPLITS", "split_name"]

#: The labeled splits a source gives with ``items(split)``: model selection and the final evaluation.
SPLITS = ("val", "test")
_ALIASES = {"val": "val", "validation": "val", "test": "test"}


def split_name(split: str, source: str) -> str:
    """The canonical name (``val`` or ``test``) of a split name as users write it.

    Args:
        split: ``val``, ``validation`` or ``test``.
        source: the source, for the message (``ACDC '<root>'``).

    Raises:
        ValueError: on another name.
    """
    if split not in _ALIASES:
        raise ValueError(f"{source}: unknown split '{split}'; expected 'val' (or 'validation') or 'test'.")
    return _ALIASES[split]
