# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""ISIC 2018 Task 1 (skin-lesion segmentation): layouts, splits and labeled subsets (a ``DataSource``).

Two layouts are read (``docs/algorithm.md`` section 5.3)::

    official (the archive's zips, unpacked as they come)
    <root>/ISIC2018_Task1-2_Training_Input/ISIC_xxxxxxx.jpg
    <root>/ISIC2018_Task1_Training_GroundTruth/ISIC_xxxxxxx_segmentation.png

    plain (the reference code's layout; PH2 is converted to it)
    <root>/images/<id>.jpg | .jpeg | .png
    <root>/masks/<id>_segmentation.png | <id>.png

    <root>/train.list, val.list, test.list       optional, one id per line (with or without extension)

Ids are the image file stems. Every image needs a mask and every mask an image. Without lists the sorted ids are
shuffled with ``seed`` and split 7:1:2 (train ``floor(0.7 n)``, test ``round(0.2 n)``, val the rest, which gives
the paper's 1815 / 260 / 519 for the 2594 ISIC images). The labeled subset is the first
``int(len(train) * fraction)`` ids of the train split (5% and 10% in the paper); the unlabeled stream is the
whole train split, labeled images included, as in the reference, and its items carry only the image path.

Files are read by :func:`~adamix_monai.data.io.isic_loading` (8-bit images to RGB, masks checked binary by
:class:`~adamix_monai.data.labels.EnsureBinaryMaskd`) and the pairs are checked before a run by
:func:`~adamix_monai.data.file_checks.check_pairs`; the paper's views are
:func:`~adamix_monai.data.views.isic_views`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from adamix_monai.data.file_checks import check_pairs
from adamix_monai.data.sources.splits import split_name

__all__ = ["ISIC", "split_sizes"]

_GET_ISIC = (
    "ISIC 2018 Task 1 comes from the ISIC archive (https://challenge.isic-archive.com/data/#2018: "
    "ISIC2018_Task1-2_Training_Input.zip and ISIC2018_Task1_Training_GroundTruth.zip); PH2 (a public dermoscopy "
    "dataset) converted to the plain layout can stand in for it."
)
_OFFICIAL = ("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth")
_PLAIN = ("images", "masks")
_LAYOUTS = (
    f"either the official layout '{_OFFICIAL[0]}/ISIC_*.jpg' with '{_OFFICIAL[1]}/ISIC_*_segmentation.png', or "
    "the plain layout 'images/<id>.jpg|.jpeg|.png' with 'masks/<id>_segmentation.png' or 'masks/<id>.png'"
)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_MASK_SUFFIX = "_segmentation"
_SPLITS = ("train", "val", "test")


def split_sizes(n: int) -> tuple[int, int, int]:
    """The 7:1:2 train/val/test sizes of ``n`` images: ``floor(0.7 n)``, the rest, ``round(0.2 n)``.

    Args:
        n: number of images.

    Returns:
        ``(train, val, test)``; 2594 -> (1815, 260, 519) as the paper's ISIC lists, 200 -> (140, 20, 40).
    """
    n_train, n_test = (7 * n) // 10, (2 * n + 5) // 10
    return n_train, n - n_train - n_test, n_test


class ISIC:
    """The ISIC 2018 Task 1 training folder (official or plain layout, module docstring).

    Args:
        root: the folder holding the image and mask folders (and optionally the three lists).
        labeled_fraction: the labeled subset, a fraction of the train split in ``(0, 1]`` (0.05 and 0.1 in the
            paper).
        seed: seed of the 7:1:2 split when there are no lists; keep it fixed across training seeds so that every
            run sees the same test set.
        layout: ``"official"``, ``"plain"`` or ``"auto"`` (the one present; plain when both are).
        check: read each labeled pair before it is used (:func:`check_pairs`), so an unusable file stops the run at
            its start, naming the file.

    Raises:
        FileNotFoundError: when the folder is in neither layout, an image has no mask or a mask no image (a
            missing pair), only some of the lists exist, or a list names an id without files.
        ValueError: on an ambiguous file (two images or two masks for one id), overlapping or empty splits, or an
            unknown ``layout``.
    """

    def __init__(
        self, root: str | Path, labeled_fraction: float = 0.1, seed: int = 0, layout: str = "auto", check: bool = True
    ) -> None:
        self.root = Path(root)
        self.labeled_fraction = float(labeled_fraction)
        self.seed = int(seed)
        self.check = check
        self.layout = self._find_layout(layout)
        folders = _OFFICIAL if self.layout == "official" else _PLAIN
        self.image_dir, self.mask_dir = self.root / folders[0], self.root / folders[1]
        self._images = self._scan_images()
        self._masks = self._scan_masks()
        self._check_pairs()
        self.ids: list[str] = sorted(self._images)
        self.lists_given = self._lists_given()
        self.splits: dict[str, list[str]] = self._read_lists() if self.lists_given else self._seeded_split()
        self._check_splits()

    def _find_layout(self, layout: str) -> str:
        if layout not in ("auto", "official", "plain"):
            raise ValueError(f"ISIC: layout must be 'auto', 'official' or 'plain', got '{layout}'.")
        if not self.root.is_dir():
            raise FileNotFoundError(f"ISIC: '{self.root}' is not a folder. Expected {_LAYOUTS}. {_GET_ISIC}")
        complete = {
            name: all((self.root / f).is_dir() for f in folders)
            for name, folders in (("plain", _PLAIN), ("official", _OFFICIAL))
        }
        if layout != "auto":
            if not complete[layout]:
                folders = _OFFICIAL if layout == "official" else _PLAIN
                missing = [f for f in folders if not (self.root / f).is_dir()]
                raise FileNotFoundError(
                    f"ISIC: '{self.root}' is not in the {layout} layout; missing folder(s): {', '.join(missing)}. "
                    f"Expected {_LAYOUTS}. {_GET_ISIC}"
                )
            return layout
        for name in ("plain", "official"):
            if complete[name]:
                return name
        present = [f for f in _PLAIN + _OFFICIAL if (self.root / f).is_dir()]
        found = f" (it has only '{present[0]}')" if len(present) == 1 else ""
        raise FileNotFoundError(
            f"ISIC: '{self.root}' is not an ISIC 2018 Task 1 folder{found}. Expected {_LAYOUTS}. {_GET_ISIC}"
        )

    @staticmethod
    def _files(folder: Path, suffixes: Sequence[str]) -> list[Path]:
        return sorted(
            p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
        )

    def _scan_images(self) -> dict[str, Path]:
        images: dict[str, Path] = {}
        for path in self._files(self.image_dir, _IMAGE_SUFFIXES):
            if path.stem in images:
                raise ValueError(f"ISIC: two images for id '{path.stem}': '{images[path.stem]}' and '{path}'.")
            images[path.stem] = path
        if not images:
            raise FileNotFoundError(
                f"ISIC: no images (.jpg, .jpeg, .png) in '{self.image_dir}'. Expected {_LAYOUTS}. {_GET_ISIC}"
            )
        return images

    def _scan_masks(self) -> dict[str, Path]:
        masks: dict[str, Path] = {}
        for path in self._files(self.mask_dir, (".png",)):
            case = path.stem[: -len(_MASK_SUFFIX)] if path.stem.endswith(_MASK_SUFFIX) else path.stem
            if case in masks:
                raise ValueError(f"ISIC: two masks for id '{case}': '{masks[case]}' and '{path}'.")
            masks[case] = path
        return masks

    def _check_pairs(self) -> None:
        expected_mask = f"'{self.mask_dir}/<id>{_MASK_SUFFIX}.png' or '{self.mask_dir}/<id>.png'"
        expected_image = f"'{self.image_dir}/<id>' with .jpg, .jpeg or .png"
        for have, kind, other, lacking, expected in (
            (self._images, "image", self._masks, "mask", expected_mask),
            (self._masks, "mask", self._images, "image", expected_image),
        ):
            unpaired = [c for c in sorted(have) if c not in other]
            if unpaired:
                raise FileNotFoundError(
                    f"ISIC: missing pair: {kind} '{have[unpaired[0]]}' has no {lacking} (expected {expected}); "
                    f"{len(unpaired)} {kind}(s) lack a {lacking}. {_GET_ISIC}"
                )

    def _read_lists(self) -> dict[str, list[str]]:
        splits: dict[str, list[str]] = {}
        for split in _SPLITS:
            path = self.root / f"{split}.list"
            entries = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
            ids = [Path(e).stem if Path(e).suffix.lower() in _IMAGE_SUFFIXES else Path(e).name for e in entries]
            unknown = [c for c in ids if c not in self._images]
            if unknown:
                raise FileNotFoundError(
                    f"ISIC: '{path}' names {len(unknown)} id(s) with no image and mask in '{self.image_dir}' and "
                    f"'{self.mask_dir}', e.g. '{unknown[0]}'. {_GET_ISIC}"
                )
            splits[split] = ids
        return splits

    def _lists_given(self) -> bool:
        present = [f"{s}.list" for s in _SPLITS if (self.root / f"{s}.list").is_file()]
        if 0 < len(present) < len(_SPLITS):
            missing = [f"{s}.list" for s in _SPLITS if f"{s}.list" not in present]
            raise FileNotFoundError(
                f"ISIC: '{self.root}' has {', '.join(present)} but not {', '.join(missing)}; give all three lists "
                "(train.list, val.list, test.list) or none (a seeded 7:1:2 split)."
            )
        return bool(present)

    def _seeded_split(self) -> dict[str, list[str]]:
        order = [self.ids[i] for i in np.random.RandomState(self.seed).permutation(len(self.ids))]
        n_train, n_val, _ = split_sizes(len(self.ids))
        return {
            "train": order[:n_train],
            "val": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }

    def _check_splits(self) -> None:
        seen: dict[str, str] = {}
        for split in _SPLITS:
            ids = self.splits[split]
            if not ids:
                source = f"'{self.root / split}.list'" if self.lists_given else f"the 7:1:2 split of {len(self.ids)}"
                raise ValueError(f"ISIC: the {split} split ({source}) is empty; it needs at least one image.")
            for case in ids:
                if case in seen:
                    where = (
                        f"twice in the {split}" if seen[case] == split else f"in both the {seen[case]} and the {split}"
                    )
                    raise ValueError(f"ISIC: id '{case}' is {where} split; the splits must be disjoint.")
                seen[case] = split

    def image_path(self, case: str) -> str:
        """The image file of an id."""
        return str(self._images[case])

    def mask_path(self, case: str) -> str:
        """The mask file of an id."""
        return str(self._masks[case])

    def split_ids(self, name: str) -> list[str]:
        """Ids of the ``train``, ``val`` or ``test`` split, in list (or shuffled) order.

        Raises:
            ValueError: on another name.
        """
        if name not in _SPLITS:
            raise ValueError(f"ISIC: split must be 'train', 'val' or 'test', got '{name}'.")
        return list(self.splits[name])

    def labeled_ids(self, fraction: float) -> list[str]:
        """The first ``int(len(train) * fraction)`` ids of the train split, at least one.

        Args:
            fraction: labeled fraction in ``(0, 1]`` (0.05 and 0.1 in the paper).

        Returns:
            The labeled ids, in order.

        Raises:
            ValueError: when ``fraction`` is not in ``(0, 1]``.
        """
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"ISIC: labeled fraction must be in (0, 1], got {fraction}.")
        train = self.splits["train"]
        return train[: max(1, int(len(train) * fraction))]

    def _item(self, case: str) -> dict[str, str]:
        return {"image": self.image_path(case), "label": self.mask_path(case), "id": case}

    def _checked(self, items: list[dict[str, str]], what: str) -> list[dict[str, str]]:
        return check_pairs(items, f"ISIC '{self.root}' {what}") if self.check else items

    def labeled_items(self) -> list[dict[str, str]]:
        """Datalist of the labeled subset: ``{"image": path, "label": path, "id": id}`` (checked)."""
        return self._checked([self._item(c) for c in self.labeled_ids(self.labeled_fraction)], "labeled images")

    def unlabeled_items(self, include_labeled: bool = True) -> list[dict[str, str]]:
        """Datalist of the unlabeled stream, image only: the whole train split (the reference streams the labeled
        images too), or without the labeled subset.

        Returns:
            ``[{"image": path, "id": id}, ...]``.
        """
        ids = self.splits["train"]
        if not include_labeled:
            labeled = set(self.labeled_ids(self.labeled_fraction))
            ids = [c for c in ids if c not in labeled]
        return [{"image": self.image_path(c), "id": c} for c in ids]

    def items(self, split: str) -> list[dict[str, str]]:
        """Datalist of a whole split with labels (``val``, ``test``, or ``train``): ``{"image", "label", "id"}``
        (checked)."""
        name = "train" if split == "train" else split_name(split, f"ISIC '{self.root}'")
        return self._checked([self._item(c) for c in self.split_ids(name)], f"{name} split")
