# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Semi-supervised training on a MONAI Label datastore: the unlabeled stream from the user's unlabeled studies.

MONAI Label's bundle train task replaces ``train#dataset#data`` (and ``validate#dataset#data``) with the datastore's
labeled pairs ``[{"image", "label"}, ...]`` and passes nothing about the studies that have no label yet. A bundle
that took its unlabeled stream from its own dataset would then not be semi-supervised on the user's data. The
bundles' ``unlabeled_items`` therefore come from :func:`unlabeled_items`:

* ``--unlabeled_dir <folder>``: the images of that folder (not recursive), less the labeled ones;
* data injected over the bundle's own (MONAI Label): the *datastore's other images*, i.e. the image files in the
  folders that hold the injected training images (MONAI Label's studies folder; its labels live in
  ``labels/final/``, a sub-folder, so they are not listed) of the labeled images' file type (a datastore serving
  several bundles may hold other modalities), less every labeled training and validation image and label file;
  when every study is labeled, the labeled images themselves (the paper's protocol also feeds the
  labeled images to the unlabeled stream);
* otherwise the bundle's dataset (``datasource.unlabeled_items()``).

The bundle's own dataset is opened lazily (:class:`DeferredDataset`), so a MONAI Label training does not need it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adamix_monai.errors import BundleInputError

__all__ = ["DeferredDataset", "data_injected", "datastore_images", "unlabeled_items"]

logger = logging.getLogger(__name__)

#: File name endings that count as images in a studies folder (those ``infer`` reads).
from adamix_monai.workflows.bundle import IMAGE_SUFFIXES as STUDY_SUFFIXES  # noqa: E402


class DeferredDataset:
    """A bundle's dataset, opened on first use.

    ``datasource`` in a bundle config is a ``DeferredDataset`` so that a training whose data is injected (MONAI
    Label) never needs the bundle's own dataset folder. Any attribute (``labeled_items()``, ``items('val')``, ...) opens
    it and forwards to it; an absent or malformed dataset raises the opener's :class:`BundleInputError` then.

    Args:
        opener: builds the dataset object (raising :class:`BundleInputError` with the user-facing message).
        where: the folder or file, for ``repr``.
    """

    def __init__(self, opener: Callable[[], Any], where: str = "") -> None:
        self._opener = opener
        self._where = where
        self._source: Any = None

    def open(self) -> Any:
        """The dataset object (opened once)."""
        if self._source is None:
            self._source = self._opener()
        return self._source

    def available(self) -> bool:
        """Whether the dataset opens."""
        try:
            self.open()
        except BundleInputError:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.open(), name)

    def __repr__(self) -> str:
        state = "opened" if self._source is not None else "not opened"
        return f"DeferredDataset({self._where!r}, {state})"


def _images(items: Sequence[Any] | None, keys: Sequence[str] = ("image",)) -> list[str]:
    out = []
    for item in items or []:
        values = [item.get(k) for k in keys] if isinstance(item, dict) else [item]
        out += [str(v) for v in values if isinstance(v, (str, os.PathLike))]
    return out


def _suffix(path: str | os.PathLike) -> str:
    name = str(path).lower()
    return next((s for s in STUDY_SUFFIXES if name.endswith(s)), Path(name).suffix)


def _key(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.realpath(path))


#: The bundles' own values of the two datalists MONAI Label replaces.
OWN_DATALISTS = {"train#dataset#data": "@train_items", "validate#dataset#data": "@val_items"}


def _raw_config_values(ids: Sequence[str]) -> list[Any] | None:
    """The values of ``ids`` as written in the running bundle config (overrides applied, nothing evaluated); None
    outside a bundle run."""
    from adamix_monai.workflows.bundle import running_parser

    parser = running_parser()
    if parser is None:
        return None
    try:
        return [parser.get(i) for i in ids]
    except (KeyError, IndexError, TypeError):
        return None


def data_injected(data: dict[str, Any], datasource: Any) -> bool:
    """Whether a run's datalists were injected over the bundle's own (MONAI Label's ``train#dataset#data``).

    In a bundle run the config says it: ``train#dataset#data`` or ``validate#dataset#data`` replaced (MONAI Label
    puts its datastore's lists there) rather than the bundle's ``@train_items``/``@val_items`` (which a user may
    still override, e.g. ``--val_items``: that is the bundle's own data). Outside a bundle run the lists are compared
    with the dataset's own.

    Args:
        data: ``{"train": train#dataset#data, "validation": validate#dataset#data}`` as resolved.
        datasource: the bundle's dataset (a :class:`DeferredDataset` or any object with ``labeled_items()`` and
            ``items('val')``).

    Returns:
        True when injected; also when the bundle's dataset does not open (the lists, which did resolve, came from
        elsewhere).
    """
    import json

    raw = _raw_config_values(list(OWN_DATALISTS))
    if raw is not None:
        return any(value != own for value, own in zip(raw, OWN_DATALISTS.values()))
    try:
        own = {"train": datasource.labeled_items(), "validation": datasource.items("val")}
    except BundleInputError:
        return True

    def plain(value: Any) -> Any:
        return json.loads(json.dumps(value, default=str))

    return plain({k: data.get(k) for k in own}) != plain(own)


def datastore_images(folders: Sequence[str | os.PathLike], exclude: Sequence[str | os.PathLike] = ()) -> list[str]:
    """The image files directly in ``folders`` (sorted, not recursive), less ``exclude``.

    Args:
        folders: studies folders.
        exclude: image paths to leave out (compared after resolving links).

    Returns:
        The paths.
    """
    skip = {_key(p) for p in exclude}
    seen: set[str] = set()
    out: list[str] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            key = _key(path)
            if path.is_file() and path.name.lower().endswith(STUDY_SUFFIXES) and key not in skip and key not in seen:
                seen.add(key)
                out.append(str(path))
    return out


def unlabeled_items(
    datasource: Any,
    labeled: Sequence[Any] | None,
    validation: Sequence[Any] | None = None,
    injected: bool = False,
    unlabeled_dir: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """The unlabeled stream of a run (module docstring).

    Args:
        datasource: the bundle's dataset.
        labeled: the labeled training items (``train#dataset#data``).
        validation: the validation items (``validate#dataset#data``).
        injected: whether ``labeled``/``validation`` were injected (:func:`data_injected`).
        unlabeled_dir: a folder of unlabeled images (``--unlabeled_dir``), or None.

    Returns:
        ``[{"image": path}, ...]``.

    Raises:
        BundleInputError: when ``unlabeled_dir`` is not a folder or holds no unlabeled image.
    """
    labeled_images = _images(labeled)
    # every labeled image and every label file of the run, training and validation, stays out of the stream
    taken = _images(labeled, ("image", "label")) + _images(validation, ("image", "label"))
    if unlabeled_dir not in (None, ""):
        folder = Path(unlabeled_dir)
        if not folder.is_dir():
            raise BundleInputError(f"--unlabeled_dir '{folder}' is not a folder; give a folder of unlabeled images.")
        images = datastore_images([folder], exclude=taken)
        if not images:
            raise BundleInputError(
                f"--unlabeled_dir '{folder}' holds no unlabeled image ({', '.join(STUDY_SUFFIXES)}, other than the "
                "labeled ones)."
            )
        logger.info("unlabeled stream: %d images of %s (--unlabeled_dir)", len(images), folder)
        return [{"image": p} for p in images]
    if not injected:
        return datasource.unlabeled_items()
    folders = list(dict.fromkeys(str(Path(p).parent) for p in labeled_images))
    kinds = {_suffix(p) for p in labeled_images}  # a datastore may hold other modalities: the labeled images' type
    images = [p for p in datastore_images(folders, exclude=taken) if _suffix(p) in kinds]
    if images:
        logger.info(
            "unlabeled stream: %d unlabeled studies of the datastore (%s), beside %d labeled",
            len(images),
            ", ".join(folders),
            len(labeled_images),
        )
        return [{"image": p} for p in images]
    logger.warning(
        "unlabeled stream: every study of the datastore (%s) is labeled; the %d labeled images serve as the "
        "unlabeled stream too",
        ", ".join(folders) or "none",
        len(labeled_images),
    )
    return [{"image": p} for p in labeled_images]
