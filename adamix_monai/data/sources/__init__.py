# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Where a bundle's items come from: the paper's dataset folders and users' datalists, behind one protocol.

Every source is built with its labeled subset (the fraction, or the datalist's own sections) and answers the same
three questions, so the bundles map them onto their ids once (``bundles/common/train.json``) and each bundle's
part names only its source::

    source.labeled_items()      the labeled training items   {"image", "label"[, "id"]}
    source.unlabeled_items()    the unlabeled stream          {"image"[, "id"]}  (labels unreachable)
    source.items(split)         a labeled split: "val" (model selection) or "test"

Sources know layouts and splits only; reading files is :mod:`adamix_monai.data.io`, checking them
:mod:`adamix_monai.data.file_checks`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from adamix_monai.data.sources.acdc import ACDC
from adamix_monai.data.sources.datalist import Datalist, DatalistError
from adamix_monai.data.sources.isic import ISIC, split_sizes
from adamix_monai.data.sources.la import LA
from adamix_monai.data.sources.splits import SPLITS, split_name

__all__ = ["ACDC", "ISIC", "LA", "SPLITS", "DataSource", "Datalist", "DatalistError", "split_name", "split_sizes"]


@runtime_checkable
class DataSource(Protocol):
    """What a bundle asks of its data (module docstring)."""

    def labeled_items(self) -> list[dict[str, Any]]:
        """The labeled training items."""
        ...

    def unlabeled_items(self) -> list[dict[str, Any]]:
        """The unlabeled stream's items, image only."""
        ...

    def items(self, split: str) -> list[dict[str, Any]]:
        """The labeled items of ``split`` (``val`` or ``test``; ``validation`` is accepted for ``val``)."""
        ...
