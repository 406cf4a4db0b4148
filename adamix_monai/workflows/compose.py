# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Compose every bundle's runnable configs from one shared base and the bundle's own parts.

MONAI bundles must be self-contained: ``python -m monai.bundle run --config_file bundles/<name>/configs/train.json``
reads one file, MONAI Label copies a bundle folder, and a ``%file.json`` macro resolves against the working
directory. So the wiring that every bundle shares (trainer, loaders, validation, checkpoints, evaluation, inference
engine, multi-GPU overlay) is written once in ``bundles/common/<config>.json``, each bundle keeps only what differs in
``bundles/<name>/parts/<config>.json``, and this module merges the two into ``bundles/<name>/configs/<config>.json``
with MONAI's own merge rules (``monai.bundle.utils.merge_kv``: later keys replace, ``a#b`` keys replace a node,
``+key`` appends to a list or updates a dict). A test fails when a composed file is stale, so edit the parts, then::

    adamix-monai configs           # rewrite bundles/*/configs/{train,evaluate,inference,multi_gpu_train}.json
    adamix-monai configs --check   # only report stale files (exit status 1)
"""

from __future__ import annotations

import json
from pathlib import Path

from monai.bundle import ConfigParser
from monai.bundle.utils import merge_kv

from adamix_monai.utils import atomic_open

__all__ = ["COMPOSED", "REQUIRED", "compose_bundle", "compose_config", "composed_text", "stale_configs"]

#: The configs composed from ``bundles/common``; the others in ``configs/`` (metadata, CPU profile, logging) are
#: bundle files as they are.
COMPOSED = ("train.json", "evaluate.json", "inference.json", "multi_gpu_train.json", "datalist.json")
_NOTE = "_generated_"
#: The value that marks, in a base config, an id every bundle must set in its part.
REQUIRED = "<required: set in bundles/<name>/parts>"


def _bundles_root() -> Path:
    from adamix_monai.paths import BUNDLES_DIR

    return BUNDLES_DIR


def compose_config(base: str | Path, part: str | Path | None) -> dict:
    """Merge a base config with a bundle part (MONAI's merge rules).

    A part key whose parent id is not in the base (``validate#sampler`` in an overlay such as
    ``multi_gpu_train.json``, which MONAI merges onto ``train.json`` at run time) is kept as it is.

    Args:
        base: the shared config file.
        part: the bundle's file of differences, or None when the bundle uses the base as it is.

    Returns:
        The merged config.
    """
    parser = ConfigParser(ConfigParser.load_config_file(str(base)))
    if part is None or not Path(part).is_file():
        return parser.get()
    for key, value in ConfigParser.load_config_file(str(part)).items():
        parent = key.lstrip("+").replace("::", "#").rpartition("#")[0]
        try:
            if parent:
                parser[parent]
        except KeyError:
            parser.get()[key] = value
            continue
        merge_kv(parser, key, value)
    return parser.get()


def composed_text(bundle: str | Path, name: str, root: str | Path | None = None) -> str:
    """The text that ``bundles/<bundle>/configs/<name>`` must hold.

    Args:
        bundle: the bundle folder name (or path) under ``root``.
        name: one of :data:`COMPOSED`.
        root: the ``bundles`` folder (default: the one of this checkout).

    Returns:
        Pretty-printed JSON with a ``_generated_`` note naming the sources.
    """
    root = Path(root) if root is not None else _bundles_root()
    folder = root / Path(bundle).name
    base, part = root / "common" / name, folder / "parts" / name
    config = compose_config(base, part)
    missing = _required_ids(config)
    if missing:
        raise ValueError(f"bundle '{folder.name}': {part} must set {', '.join(missing)} (marked required in {base}).")
    sources = [f"bundles/common/{name}"] + ([f"bundles/{folder.name}/parts/{name}"] if part.is_file() else [])
    note = (
        f"Composed from {' + '.join(sources)} by `adamix-monai configs`; edit those files, not this one. Overlays "
        "(cpu.json, evaluate.json, ...) merge onto it in the order --config_file lists them, the later file winning."
    )
    return json.dumps({_NOTE: note, **canonical_order(config)}, indent=4, ensure_ascii=False) + "\n"


#: Top-level ids a composed config ends with, in this order: the workflow's sections after every definition.
_WORKFLOW_SECTIONS = ("initialize", "run", "finalize")


def canonical_order(config: dict) -> dict:
    """``config`` with ``imports`` first and the workflow sections (``initialize``, ``run``, ``finalize``) last, the
    definitions in between in their merge order (a part's own ids no longer land after ``run``)."""
    head = {k: config[k] for k in ("imports",) if k in config}
    tail = {k: config[k] for k in _WORKFLOW_SECTIONS if k in config}
    body = {k: v for k, v in config.items() if k not in head and k not in tail}
    return {**head, **body, **tail}


def _required_ids(config: object, prefix: str = "") -> list[str]:
    if isinstance(config, dict):
        items = config.items()
    elif isinstance(config, list):
        items = enumerate(config)
    else:
        return [prefix] if config == REQUIRED else []
    return [i for k, v in items for i in _required_ids(v, f"{prefix}#{k}" if prefix else str(k))]


def _bundles(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "parts").is_dir() and (p / "configs").is_dir())


def stale_configs(root: str | Path | None = None) -> list[Path]:
    """The composed config files that differ from what their sources give.

    Args:
        root: the ``bundles`` folder (default: the one of this checkout).

    Returns:
        The stale (or missing) files.
    """
    root = Path(root) if root is not None else _bundles_root()
    stale = []
    for folder in _bundles(root):
        for name in COMPOSED:
            target = folder / "configs" / name
            if not target.is_file() or target.read_text() != composed_text(folder, name, root):
                stale.append(target)
    return stale


def compose_bundle(bundle: str | Path | None = None, root: str | Path | None = None) -> list[Path]:
    """Write the composed configs of one bundle, or of every bundle that has a ``parts/`` folder.

    Args:
        bundle: the bundle folder name; None for all.
        root: the ``bundles`` folder (default: the one of this checkout).

    Returns:
        The files rewritten (those whose text changed).
    """
    root = Path(root) if root is not None else _bundles_root()
    folders = [root / Path(bundle).name] if bundle is not None else _bundles(root)
    written = []
    for folder in folders:
        if not (folder / "parts").is_dir():
            raise FileNotFoundError(f"bundle '{folder}' has no parts/ folder to compose from.")
        for name in COMPOSED:
            target, text = folder / "configs" / name, composed_text(folder, name, root)
            if not target.is_file() or target.read_text() != text:
                with atomic_open(target) as f:
                    f.write(text.encode())
                written.append(target)
    return written
