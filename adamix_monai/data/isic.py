# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""ISIC 2018 Task 1 (skin-lesion segmentation): splits, labeled subsets, mask checking and the paper's views.

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

Arrays are channel-first ``(C, H, W)``: files are read by MONAI's ``PILReader`` with ``reverse_indexing=False``
(its default swaps the two spatial axes to ``(W, H)``), so they match torchvision's ``ToTensor`` in the reference
and the other datasets of this package, and plots show them upright. :class:`LoadPILImaged` uses that reader
only (MONAI's ``LoadImage`` otherwise falls back to other readers, with other axes, when it fails). The bundle's
``inference.json`` transposes the image to MONAI's own 2D order ``(C, W, H)`` after loading and lets a
``TransposedInferer`` hand the network ``(H, W)``: MONAI Label's ``Restored`` and writer, and ``SaveImage``'s
``PILWriter``, all expect MONAI's order (``tests/integration/README.md``). Images of any 8-bit PIL mode become RGB
as in the reference (``convert("RGB")``: grayscale is replicated, alpha dropped). Masks are checked by
:class:`EnsureBinaryMaskd`, which is stricter than the reference (any non-zero value is lesion there): a mask that
is not binary is reported rather than thresholded. Resizing follows PIL, as the reference resizes PIL images
(:class:`~adamix_monai.data.views.PILLikeResized`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor, PILReader
from monai.data.meta_obj import get_track_meta
from monai.transforms import (
    Compose,
    LoadImaged,
    MapTransform,
    NormalizeIntensityd,
    ScaleIntensityRanged,
    Transform,
)
from monai.utils import convert_to_tensor
from PIL import Image

from adamix_monai.data.views import IMAGENET_MEAN_STD, PILLikeResized, weak_strong_views_2d

__all__ = [
    "ISIC",
    "EnsureBinaryMask",
    "EnsureBinaryMaskd",
    "LoadPILImaged",
    "check_pairs",
    "isic_eval_preprocessing",
    "isic_loading",
    "isic_views",
    "pil_to_rgb",
    "split_sizes",
]

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
# 8-bit PIL modes that convert("RGB") maps faithfully (16-bit and float modes would be clipped)
_RGB_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}


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

    def __init__(self, root: str | Path, seed: int = 0, layout: str = "auto", check: bool = True) -> None:
        self.root = Path(root)
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

    def labeled_items(self, fraction: float) -> list[dict[str, str]]:
        """Datalist of the labeled subset: ``{"image": path, "label": path, "id": id}`` (checked)."""
        return self._checked([self._item(c) for c in self.labeled_ids(fraction)], "labeled images")

    def unlabeled_items(self, include_labeled: bool = True, fraction: float | None = None) -> list[dict[str, str]]:
        """Datalist of the unlabeled stream, image only: the whole train split (the reference streams the labeled
        images too), or without the labeled subset of ``fraction``.

        Args:
            include_labeled: keep the labeled images in the stream.
            fraction: the labeled fraction, needed when ``include_labeled`` is False.

        Returns:
            ``[{"image": path, "id": id}, ...]``.

        Raises:
            ValueError: when ``include_labeled`` is False and ``fraction`` is not given or not in ``(0, 1]``.
        """
        ids = self.splits["train"]
        if not include_labeled:
            if fraction is None:
                raise ValueError("ISIC: unlabeled_items(include_labeled=False) needs the labeled fraction.")
            labeled = set(self.labeled_ids(fraction))
            ids = [c for c in ids if c not in labeled]
        return [{"image": self.image_path(c), "id": c} for c in ids]

    def split_items(self, name: str) -> list[dict[str, str]]:
        """Datalist of a whole split with labels: ``{"image", "label", "id"}`` (checked)."""
        return self._checked([self._item(c) for c in self.split_ids(name)], f"{name} split")

    def validation_items(self) -> list[dict[str, str]]:
        """Datalist of the val split (model selection)."""
        return self.split_items("val")

    def test_items(self) -> list[dict[str, str]]:
        """Datalist of the test split."""
        return self.split_items("test")


def _pair_problem(item: Mapping[str, str]) -> str:
    try:
        with Image.open(item["image"]) as image:
            mode, size = image.mode, image.size
    except (OSError, ValueError) as e:  # unreadable, or not an image PIL knows (e.g. a NIfTI)
        return f"image '{item['image']}' cannot be read as an image ({type(e).__name__})"
    if mode not in _RGB_MODES:
        return f"image '{item['image']}' has PIL mode '{mode}' (16-bit or float); expected 8-bit RGB (JPEG or PNG)"
    try:
        with Image.open(item["label"]) as mask:
            if mask.size != size:
                return f"mask '{item['label']}' is {mask.size[0]}x{mask.size[1]}, its image {size[0]}x{size[1]}"
            array = np.asarray(_mask_mode(mask))
    except (OSError, ValueError) as e:
        return f"mask '{item['label']}' cannot be read as an image ({type(e).__name__})"
    channel_first = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    try:
        EnsureBinaryMask()(torch.tensor(channel_first), source=f"'{item['label']}'")
    except ValueError as e:
        return str(e).removeprefix("EnsureBinaryMask: ")
    return ""


def check_pairs(items: Sequence[Mapping[str, str]], source: str, shown: int = 10) -> list[Mapping[str, str]]:
    """Check image/mask pairs before a run uses them, with the loaders' own rules: the image is 8-bit and readable,
    the mask has the image's size and is binary (:class:`EnsureBinaryMask`). Image pixels are not decoded (PIL
    reads the header), masks are.

    Args:
        items: ``{"image": path, "label": path}`` pairs.
        source: what the items are, for the message (``ISIC '<root>' val split``).
        shown: problems listed in the message.

    Returns:
        ``items`` unchanged.

    Raises:
        DatasetError: listing every unusable pair (up to ``shown``).
    """
    from adamix_monai.errors import DatasetError

    problems = [p for p in map(_pair_problem, items) if p]
    if problems:
        more = f" ... and {len(problems) - shown} more" if len(problems) > shown else ""
        raise DatasetError(f"{source}: {len(problems)} unusable pair(s): " + "; ".join(problems[:shown]) + more)
    return list(items)


def pil_to_rgb(image: Image.Image) -> Image.Image:
    """A ``PILReader`` converter: any 8-bit image to RGB, as the reference's ``convert("RGB")``.

    Args:
        image: the opened PIL image.

    Returns:
        The RGB image (grayscale replicated, alpha dropped, palette resolved).

    Raises:
        ValueError: on 16-bit or float images, which ``convert("RGB")`` would clip.
    """
    if image.mode == "RGB":
        return image
    if image.mode not in _RGB_MODES:
        name = getattr(image, "filename", "") or "the image"
        raise ValueError(
            f"ISIC: '{name}' has PIL mode '{image.mode}' (16-bit or float); convert it to 8-bit RGB (JPEG or PNG)."
        )
    return image.convert("RGB")


def _mask_mode(image: Image.Image) -> Image.Image:
    """A ``PILReader`` converter for masks: palette masks become their colours, bilevel masks {0, 255}."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


def _source(mask: Any, fallback: str) -> str:
    if isinstance(mask, MetaTensor) and mask.meta.get("filename_or_obj"):
        return f"'{mask.meta['filename_or_obj']}'"
    return fallback


class LoadPILImaged(LoadImaged):
    """``LoadImaged`` with one ``PILReader`` and nothing else: channel-first ``(C, H, W)`` MetaTensors.

    Given a reader, MONAI's ``LoadImage`` still falls back to every other registered reader when that one fails
    (ITK, or a default ``PILReader``, which swaps the spatial axes), so a file PIL cannot read, or an error of the
    converter, would be loaded silently another way. Here the reader is passed at call time, which MONAI uses
    without fallback, and its errors surface.

    Args:
        keys: keys of the file paths.
        converter: applied to the opened PIL image (e.g. :func:`pil_to_rgb`).
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        converter: Callable[[Image.Image], Image.Image] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        self.pil_reader = PILReader(converter=converter, reverse_indexing=False)
        super().__init__(
            keys,
            reader=self.pil_reader,
            image_only=True,
            ensure_channel_first=True,
            allow_missing_keys=allow_missing_keys,
        )

    def __call__(self, data: Mapping[Hashable, Any], reader: Any = None) -> dict[Hashable, Any]:
        return super().__call__(data, reader if reader is not None else self.pil_reader)


class EnsureBinaryMask(Transform):
    """A loaded lesion mask as one channel with values {0, 1}, or a clear error.

    Accepted: one channel with values in {0, 255} or {0, 1}; gray + alpha (the alpha is dropped); RGB or RGBA
    whose colour channels are identical (collapsed to one, the alpha ignored). Rejected with a ``ValueError``
    naming the file (the MetaTensor's ``filename_or_obj``): colour channels that differ, other values (e.g. a JPEG
    round trip leaves 1, 254 and others), other channel counts.

    The input is channel-first, as after ``LoadImaged(..., ensure_channel_first=True)``; the output keeps its
    dtype and metadata.
    """

    def __call__(self, mask: Any, source: str | None = None) -> torch.Tensor:
        """
        Args:
            mask: the channel-first mask, (C, H, W).
            source: how errors name the mask (default: the file the MetaTensor came from, quoted).

        Returns:
            The (1, H, W) mask with values {0, 1}.

        Raises:
            ValueError: when the mask is not a binary single-channel (or gray colour) mask.
        """
        x = convert_to_tensor(mask, track_meta=get_track_meta())
        name = source or _source(x, "the mask")
        if x.ndim < 3:
            raise ValueError(f"EnsureBinaryMask: {name} has shape {tuple(x.shape)}; expected channel-first (C, H, W).")
        channels = x.shape[0]
        if channels in (3, 4):
            colour = x[:3]
            differ = (colour != colour[:1]).any(0)
            if bool(differ.any()):
                raise ValueError(
                    f"EnsureBinaryMask: {name} is a colour mask ({channels} channels) whose channels differ at "
                    f"{int(differ.sum())} pixels; expected a single-channel lesion mask with values {{0, 255}} or "
                    "{0, 1} (a gray RGB mask is accepted)."
                )
        elif channels not in (1, 2):
            raise ValueError(f"EnsureBinaryMask: {name} has {channels} channels; expected 1 (or gray RGB/RGBA).")
        x = x[:1]
        values = torch.unique(torch.as_tensor(x))
        found = set(values.tolist())
        if not (found <= {0, 1} or found <= {0, 255}):
            shown = ", ".join(f"{v:g}" for v in values[:8].tolist()) + (", ..." if len(values) > 8 else "")
            raise ValueError(
                f"EnsureBinaryMask: {name} has values {{{shown}}} ({len(values)} distinct); expected {{0, 255}} or "
                "{0, 1}. Masks must be binary and lossless (PNG; a JPEG round trip adds values such as 1 and 254)."
            )
        return (x > 0).to(x.dtype)


class EnsureBinaryMaskd(MapTransform):
    """Dictionary version of :class:`EnsureBinaryMask`, optionally checking that the mask and the image have the
    same spatial size (a mismatch would be resized into a silent misalignment).

    Args:
        keys: mask keys.
        image_key: the image the masks must match in size, None to skip the check.
        allow_missing_keys: skip absent keys.

    Raises:
        ValueError: from :class:`EnsureBinaryMask`, or naming both files when the sizes differ.
    """

    def __init__(self, keys: KeysCollection, image_key: str | None = None, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.ensure = EnsureBinaryMask()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            name = _source(d[key], f"key '{key}'")
            d[key] = self.ensure(d[key], source=name)
            image = d.get(self.image_key) if self.image_key is not None else None
            if image is not None and tuple(image.shape[1:]) != tuple(d[key].shape[1:]):
                raise ValueError(
                    f"EnsureBinaryMaskd: mask {name} is {tuple(d[key].shape[1:])} but image "
                    f"{_source(image, repr(self.image_key))} is {tuple(image.shape[1:])}; they must have the same size."
                )
        return d


def isic_loading(image_key: str = "image", label_key: str | None = "label") -> Compose:
    """Load an ISIC item: the image as (3, H, W) RGB in ``[0, 1]``, the mask as (1, H, W) {0, 1}.

    Args:
        image_key: the image path key.
        label_key: the mask path key, None for image-only (unlabeled) items.

    Returns:
        A deterministic MONAI ``Compose`` (``CacheDataset`` caches it).
    """
    transforms: list[Any] = [LoadPILImaged(keys=image_key, converter=pil_to_rgb)]
    if label_key:
        transforms += [
            LoadPILImaged(keys=label_key, converter=_mask_mode),
            EnsureBinaryMaskd(keys=label_key, image_key=image_key),
        ]
    transforms.append(ScaleIntensityRanged(keys=image_key, a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0))
    return Compose(transforms)


def isic_views(
    spatial_size: Sequence[int] = (256, 256),
    label_key: str | None = "label",
    image_key: str = "image",
    strong_key: str = "image_strong",
    strong: bool = True,
) -> Compose:
    """The ISIC training preprocessing: :func:`isic_loading` then the paper's weak and strong views.

    Weak: flips (p 0.5), rotation U(-180, 180) degrees (p 0.5, nearest), resize to ``spatial_size`` as PIL
    (anti-aliased bilinear / nearest, :class:`~adamix_monai.data.views.PILLikeResized`), ImageNet normalisation.
    Strong: the weak view before normalisation plus colour jitter (0.5, 0.5, 0.5, 0.05; p 0.8), posterise 5 bits
    (p 0.2), autocontrast (p 0.2), equalise (p 0.2), Gaussian blur (always), then ImageNet normalisation
    (:func:`~adamix_monai.data.views.weak_strong_views_2d`).

    Args:
        spatial_size: output size (256 x 256 in the paper).
        label_key: the mask key, None for unlabeled items.
        image_key: the image key.
        strong_key: where the strong view goes.
        strong: also make the strong view.

    Returns:
        One flat MONAI ``Compose`` (loading first, so ``CacheDataset`` caches the loaded native-size arrays).
    """
    views = weak_strong_views_2d(
        image_key=image_key,
        label_key=label_key,
        strong_key=strong_key,
        spatial_size=spatial_size,
        rotate_prob=0.5,
        strong=strong,
        saturation=0.5,
        hue=0.05,
        posterize_prob=0.2,
        blur_prob=1.0,
        normalize=IMAGENET_MEAN_STD,
        pil_resize=True,
    )
    return Compose(list(isic_loading(image_key, label_key).transforms) + list(views.transforms))


def isic_eval_preprocessing(
    spatial_size: Sequence[int] | None = (256, 256), label_key: str | None = "label", image_key: str = "image"
) -> Compose:
    """The ISIC evaluation preprocessing: load, resize the image (bilinear, anti-aliased) and the mask (nearest) to
    ``spatial_size`` as PIL does (:class:`~adamix_monai.data.views.PILLikeResized`), ImageNet normalisation. The
    paper computes its metrics at 256 x 256, on the resized mask.

    Args:
        spatial_size: evaluation size (256 x 256 in the paper); None keeps the image's own size (inference, where
            the inferer resizes to the network's size and back).
        label_key: the mask key, None for images without masks.
        image_key: the image key.

    Returns:
        A deterministic MONAI ``Compose``.
    """
    keys = [image_key] + ([label_key] if label_key else [])
    resize = (
        [PILLikeResized(keys=keys, spatial_size=spatial_size, mode=["bilinear"] + (["nearest"] if label_key else []))]
        if spatial_size is not None
        else []
    )
    normalize = NormalizeIntensityd(
        keys=image_key, subtrahend=IMAGENET_MEAN_STD[0], divisor=IMAGENET_MEAN_STD[1], channel_wise=True
    )
    return Compose(list(isic_loading(image_key, label_key).transforms) + resize + [normalize])
