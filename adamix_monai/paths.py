# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Every place the package looks for its bundles and for datasets, in one module (as nnU-Net's ``paths.py``).

* Bundles: ``$ADAMIX_BUNDLES_DIR`` when set, else ``bundles/`` of this checkout (:data:`BUNDLES_DIR`), then
  ``bundles/`` of the working directory, then the bundles a wheel installed (:data:`INSTALLED_BUNDLES_DIR`,
  ``<prefix>/share/adamix-monai/bundles``). A bundle's configs find their own folder first (:func:`bundle_dir`).
* Datasets (``--dataset_dir`` when not given): for each name, ``$ADAMIX_DATA_DIR/<name>``, then ``data/<name>`` in
  the checkout and in the working directory. Nothing else is baked in: when none exists, the bundle stops with one
  ``error:`` line naming the folder it tried and both ways to set it (``--dataset_dir``, ``ADAMIX_DATA_DIR``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from adamix_monai.errors import BundleInputError

__all__ = [
    "BUNDLES_DIR",
    "INSTALLED_BUNDLES_DIR",
    "REPO_ROOT",
    "bundle_candidates",
    "bundle_dir",
    "bundles_dirs",
    "dataset_candidates",
    "default_dataset_dir",
]

#: The checkout this package runs from (its parent holds ``adamix_monai/`` and ``bundles/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The bundles of this checkout.
BUNDLES_DIR = REPO_ROOT / "bundles"
#: The bundles a (non-editable) install carries: ``setup.cfg``'s ``data_files`` put them under the prefix.
INSTALLED_BUNDLES_DIR = Path(sys.prefix) / "share" / "adamix-monai" / "bundles"


def bundles_dirs() -> list[Path]:
    """Folders holding bundles, in the order they are searched."""
    first = [Path(os.environ["ADAMIX_BUNDLES_DIR"])] if os.environ.get("ADAMIX_BUNDLES_DIR") else []
    return list(dict.fromkeys([*first, BUNDLES_DIR, Path.cwd() / "bundles", INSTALLED_BUNDLES_DIR]))


def bundle_candidates(bundle: str) -> list[Path]:
    """Where a bundle given as a short name (``acdc``), a folder name (``adamix_acdc``) or a path may be."""
    found = [Path(bundle)]
    for folder in bundles_dirs():
        found += [folder / bundle, folder / f"adamix_{bundle}"]
    return list(dict.fromkeys(found))


def _config_file_bundles(argv: Sequence[str] | None = None) -> list[Path]:
    """Bundle folders of the ``--config_file`` paths on this process's command line (``.../<bundle>/configs/x``)."""
    argv = list(sys.argv if argv is None else argv)
    values = [v for i, a in enumerate(argv) for v in ([argv[i + 1]] if a == "--config_file" and i + 1 < len(argv)
              else [a.split("=", 1)[1]] if a.startswith("--config_file=") else [])]  # fmt: skip
    found = []
    for value in values:
        for path in re.findall(r"[^\s'\",\[\]]+", value):
            file = Path(path)
            if file.parent.name == "configs":
                found.append(file.resolve().parent.parent)
    return found


def bundle_dir(name: str) -> str:
    """The folder of the bundle ``name`` (a folder name such as ``adamix_acdc``), its own copy first: the working
    directory when it is that bundle, the bundle whose ``configs/`` the command's ``--config_file`` names (a
    bundle copied elsewhere, as in the model zoo's ``models/<name>/``, reads only its own folder), then the
    bundles folders (:func:`bundles_dirs`).

    Returns:
        The absolute folder.

    Raises:
        BundleInputError: when no such folder is found (pass ``--bundle_root``).
    """
    candidates = [Path.cwd(), *_config_file_bundles()] + [folder / name for folder in bundles_dirs()]
    for path in candidates:
        if (path / "configs" / "metadata.json").is_file() and path.name == name:
            return str(path.resolve())
    raise BundleInputError(
        f"cannot locate bundle '{name}' (looked in {', '.join(str(p) for p in candidates)}); pass --bundle_root."
    )


def dataset_candidates(name: str | Sequence[str]) -> list[Path]:
    """Where a dataset is looked for, in order (module docstring)."""
    candidates: list[Path] = []
    for each in [name] if isinstance(name, str) else list(name):
        if os.environ.get("ADAMIX_DATA_DIR"):
            candidates.append(Path(os.environ["ADAMIX_DATA_DIR"]) / each)
        candidates += [REPO_ROOT / "data" / each, Path.cwd() / "data" / each]
    return list(dict.fromkeys(candidates))


def default_dataset_dir(name: str | Sequence[str]) -> str:
    """The dataset folder used when ``--dataset_dir`` is not given: the first of :func:`dataset_candidates` that
    exists; if none does, the first candidate, so that the error message names it.

    Args:
        name: dataset folder name (``ACDC``, ``LA``, ...), or names in order of preference (``["ISIC2018", "PH2"]``:
            the real ISIC 2018 when present, else its PH2 stand-in).
    """
    candidates = dataset_candidates(name)
    for path in candidates:
        if path.is_dir():
            return str(path)
    return str(candidates[0])
