# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Users' own data: a MONAI-style datalist JSON as a bundle's data source.

Format (the Medical Segmentation Decathlon's ``dataset.json`` sections, plus ``unlabeled``)::

    {
      "training":   [{"image": "imagesTr/case001.nii.gz", "label": "labelsTr/case001.nii.gz"}, ...],
      "unlabeled":  [{"image": "imagesUn/case101.nii.gz"}, "imagesUn/case102.nii.gz", ...],
      "validation": [{"image": ..., "label": ...}, ...],
      "test":       [{"image": ..., "label": ...}, ...]
    }

* Paths are relative to the datalist's folder (or absolute). Images are anything MONAI's ``LoadImage`` reads
  (NIfTI through nibabel, PNG/JPG through PIL, others through ITK); h5 files are read as preprocessed.
* ``training`` (labeled pairs) is required. ``unlabeled`` (images only) feeds the semi-supervised paradigms; the
  training images are added to the unlabeled stream, as the paper does (``include_training``).
* ``validation`` selects the best model; when absent, the last tenth of ``training`` (at least one pair) is held
  out for it. ``test`` is what ``evaluate.json`` scores (``--eval_split val`` scores ``validation``).

Every file is checked once, before anything runs: it must exist and be readable, an image and its label must have
the same spatial shape and geometry (orientation, spacing, origin), and labels must hold only the classes of the
bundle. All problems are reported together, each naming its entry (``training[3]``) and file.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from nibabel.orientations import aff2axcodes

from adamix_monai.data.file_checks import image_problem
from adamix_monai.data.io import is_h5, read_case_file
from adamix_monai.data.labels import single_channel_label
from adamix_monai.errors import InputError

__all__ = ["Datalist", "DatalistError"]

SECTIONS = ("training", "unlabeled", "validation", "test")
_SPLIT_ALIASES = {"val": "validation", "validation": "validation", "test": "test", "training": "training"}
_MAX_SHOWN = 20


class DatalistError(InputError, ValueError):
    """A datalist, or a file it names, is not usable; the message lists every problem with its entry."""


def _case_id(path: str) -> str:
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".h5", ".nrrd", ".mha", ".mhd", ".tif", ".tiff"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


class Datalist:
    """A datalist JSON of labeled, unlabeled, validation and test cases, checked file by file.

    Args:
        path: the datalist JSON file.
        num_classes: classes of the bundle's network, background included; labels must hold values in
            ``range(num_classes)`` (a binary mask may also be stored as ``{0, 255}``).
        base_dir: folder that relative paths start from (default: the datalist's folder).
        include_training: add the training images to the unlabeled stream (the paper's protocol).
        holdout: the fraction of ``training`` held out for validation when the datalist has no ``validation``.
        check: read every file once now and report all problems (turn off only for datasets checked before).
        reader: MONAI reader for non-h5 files (None: by suffix).
        image_channels: the channels the bundle's network takes (1 for MRI, 3 for RGB); None: any.
        image_dims: the spatial dimensions the bundle reads (``(2, 3)`` for ACDC's slices or volumes, ``(3,)`` for
            LA, ``(2,)`` for ISIC); None: any.

    Raises:
        FileNotFoundError: when the datalist file does not exist.
        DatalistError: naming the file, the section or entry and what was expected.
    """

    def __init__(
        self,
        path: str | Path,
        num_classes: int,
        base_dir: str | Path | None = None,
        include_training: bool = True,
        holdout: float = 0.1,
        check: bool = True,
        reader: Any = None,
        image_channels: int | None = None,
        image_dims: Sequence[int] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise DatalistError(
                f"datalist '{self.path}' is a folder; give the datalist JSON file itself (e.g. {self.path / 'datalist.json'})."
            )
        if not self.path.is_file():
            raise FileNotFoundError(f"datalist '{self.path}' does not exist; expected a JSON file (see the README).")
        self.image_channels = None if image_channels is None else int(image_channels)
        self.image_dims = None if image_dims is None else tuple(int(d) for d in image_dims)
        self.num_classes = int(num_classes)
        self.base_dir = Path(base_dir) if base_dir is not None else self.path.resolve().parent
        self.include_training = bool(include_training)
        self.reader = reader
        try:
            raw = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatalistError(f"datalist '{self.path}' is not valid JSON: {e}.") from None
        if not isinstance(raw, dict):
            raise DatalistError(f"datalist '{self.path}': expected a JSON object with sections {SECTIONS}.")
        self.sections: dict[str, list[dict[str, Any]]] = {}
        problems: list[str] = []
        for section in SECTIONS:
            if section in raw:
                self.sections[section] = self._entries(section, raw[section], problems)
        for key, value in raw.items():  # a list under another name is a misspelt section (metadata keys pass)
            if key not in SECTIONS and isinstance(value, list):
                close = difflib.get_close_matches(str(key), SECTIONS, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"unknown section '{key}'{hint}; the sections are {', '.join(SECTIONS)}")
        if not self.sections.get("training") and not problems:
            problems.append('section \'training\' is missing or empty; expected [{"image": ..., "label": ...}, ...]')
        for section in ("validation", "test"):
            if section in raw and isinstance(raw[section], list) and not raw[section]:
                problems.append(
                    f"section '{section}' is empty; add labeled pairs, or remove it"
                    + (" (the last tenth of 'training' is then held out)" if section == "validation" else "")
                )
        if problems:
            raise DatalistError(self._report(problems))
        if "validation" not in self.sections:
            train = self.sections["training"]
            if len(train) < 2:
                raise DatalistError(
                    f"datalist '{self.path}': no 'validation' section, and 'training' has {len(train)} pair(s): "
                    "add a 'validation' section (or at least 2 training pairs, the last tenth is then held out)."
                )
            count = max(1, int(round(len(train) * float(holdout))))
            self.sections["training"], self.sections["validation"] = train[:-count], train[-count:]
            self.held_out = count
        else:
            self.held_out = 0
        if check:
            self.check()

    # ---------------------------------------------------------------- parsing
    def _entries(self, section: str, value: Any, problems: list[str]) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            problems.append(f"section '{section}' must be a list, got {type(value).__name__}")
            return []
        labeled = section != "unlabeled"
        out = []
        for i, entry in enumerate(value):
            where = f"{section}[{i}]"
            if isinstance(entry, str) and not labeled:
                entry = {"image": entry}
            if not isinstance(entry, Mapping) or not isinstance(entry.get("image"), str):
                problems.append(f"{where}: expected an object with an 'image' path, got {json.dumps(entry)[:80]}")
                continue
            if labeled and not isinstance(entry.get("label"), str):
                problems.append(f"{where} ({entry['image']}): no 'label' path; '{section}' entries are labeled pairs")
                continue
            item = dict(entry)
            for key in ("image", "label"):
                if key in item:
                    item[key] = str(self._resolve(item[key]))
            item.setdefault("id", _case_id(item["image"]))
            item["entry"] = where
            out.append(item)
        return out

    def _resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def _report(self, problems: list[str]) -> str:
        shown = problems[:_MAX_SHOWN]
        more = f"; ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        flat = (" ".join(problem.split()) for problem in shown)  # one line, whatever a reader's error holds
        return f"datalist '{self.path}' has {len(problems)} problem(s): " + "; ".join(flat) + more

    # ---------------------------------------------------------------- checks
    def _read(self, path: str, h5_key: str) -> tuple[torch.Tensor, np.ndarray | None]:
        """The file as ``(C, *spatial)`` and its affine (None for h5, which keeps no geometry)."""
        if is_h5(path):
            if not Path(path).is_file():
                kind = "is a folder, not an h5 file" if Path(path).is_dir() else "does not exist"
                raise FileNotFoundError(f"'{path}' {kind}.")
            try:
                with h5py.File(path, "r") as f:
                    return torch.as_tensor(np.asarray(f[h5_key][()]))[None], None
            except (OSError, KeyError) as e:
                raise ValueError(f"cannot read dataset '{h5_key}' of the h5 file '{path}': {e}") from e
        x = read_case_file(path, self.reader)
        return x.as_tensor(), np.asarray(x.affine, dtype=float)

    def check(self) -> None:
        """Read every file once and raise one :class:`DatalistError` listing every problem, each with its entry.

        Checked: the file exists and is readable; an image and its label have the same spatial shape and
        geometry (orientation, spacing and origin of their affines); labels hold only ``range(num_classes)``
        (or ``{0, 255}`` for a binary mask); a label has one channel (or equal RGB channels).
        """
        problems: list[str] = []
        allowed = set(range(self.num_classes)) | ({255} if self.num_classes == 2 else set())
        for section, entries in self.sections.items():
            for item in entries:
                where = f"{item['entry']} ({Path(item['image']).name})"
                try:
                    image, image_affine = self._read(item["image"], "image")
                except (FileNotFoundError, ValueError) as e:
                    problems.append(f"{where}: image: {e}")
                    continue
                image_problem = self._image_problem(image)
                if image_problem:
                    problems.append(f"{where}: image '{item['image']}' {image_problem}")
                    continue
                if "label" not in item or section == "unlabeled":
                    continue
                try:
                    label, label_affine = self._read(item["label"], "label")
                except (FileNotFoundError, ValueError) as e:
                    problems.append(f"{where}: label: {e}")
                    continue
                if tuple(image.shape[1:]) != tuple(label.shape[1:]):
                    problems.append(
                        f"{where}: image shape {tuple(image.shape[1:])} differs from label shape "
                        f"{tuple(label.shape[1:])} ('{item['label']}')"
                    )
                    continue
                if image_affine is not None and label_affine is not None:
                    mismatch = _geometry_mismatch(image_affine, label_affine)
                    if mismatch:
                        problems.append(f"{where}: image and label '{item['label']}' {mismatch}")
                        continue
                try:
                    label = single_channel_label(label, item["label"])
                except ValueError as e:
                    problems.append(f"{where}: {e}")
                    continue
                found = {float(v) for v in torch.unique(label).tolist()}
                if self.num_classes == 2 and {1.0, 255.0} <= found:
                    problems.append(
                        f"{where}: label '{item['label']}' mixes the values 1 and 255; expected a 0/1 or a 0/255 mask"
                    )
                    continue
                bad = sorted(v for v in found if v not in allowed)
                if bad:
                    shown = ", ".join(f"{v:g}" for v in bad[:8]) + (", ..." if len(bad) > 8 else "")
                    problems.append(
                        f"{where}: label '{item['label']}' holds unexpected values {{{shown}}}; expected classes "
                        f"0..{self.num_classes - 1}" + (" (or a 0/255 mask)" if self.num_classes == 2 else "")
                    )
        if problems:
            raise DatalistError(self._report(problems))

    def _image_problem(self, image: torch.Tensor) -> str:
        return image_problem(image, self.image_channels, self.image_dims)

    # ---------------------------------------------------------------- items
    def items(self, section: str) -> list[dict[str, Any]]:
        """The entries of a section (``training``, ``validation``/``val``, ``test``), paths made absolute.

        Raises:
            DatalistError: when the datalist has no such section.
        """
        name = _SPLIT_ALIASES.get(section, section)
        if name not in self.sections:
            raise DatalistError(
                f"datalist '{self.path}' has no '{name}' section (it has {sorted(self.sections)}); add it, or "
                "evaluate another split (--split val on the command line, --eval_split val for the bundle)."
            )
        return [dict(item) for item in self.sections[name]]

    def labeled_items(self) -> list[dict[str, Any]]:
        """The labeled training pairs."""
        return self.items("training")

    def unlabeled_items(self) -> list[dict[str, Any]]:
        """Images for the unlabeled stream: the ``unlabeled`` section, plus the training images when
        ``include_training`` (labels never reach this stream)."""
        images: Iterable[dict[str, Any]] = self.sections.get("unlabeled", [])
        if self.include_training:
            images = [*images, *self.sections["training"]]
        seen, out = set(), []
        for item in images:
            if item["image"] not in seen:
                seen.add(item["image"])
                out.append({"image": item["image"], "id": item["id"]})
        return out

    @property
    def labeled_name(self) -> str:
        """A short description of the labeled set for run names and tables, e.g. ``12labeled``."""
        return f"{len(self.sections['training'])}labeled"

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {len(v)}" for k, v in self.sections.items())
        return f"Datalist('{self.path}': {counts})"


def _geometry_mismatch(a: np.ndarray, b: np.ndarray, tolerance: float = 1e-3) -> str:
    """Why two affines describe different voxel grids, or '' when they agree."""
    nd = 3
    codes_a, codes_b = "".join(aff2axcodes(a)), "".join(aff2axcodes(b))
    if codes_a != codes_b:
        return f"have different orientations ({codes_a} vs {codes_b})"
    spacing_a, spacing_b = np.linalg.norm(a[:nd, :nd], axis=0), np.linalg.norm(b[:nd, :nd], axis=0)
    scale = max(1.0, float(np.abs(spacing_a).max()))
    if not np.allclose(spacing_a, spacing_b, atol=tolerance * scale):
        return f"have different voxel spacings ({_fmt(spacing_a)} vs {_fmt(spacing_b)})"
    if not np.allclose(a, b, atol=tolerance * scale * 10):
        return f"have different origins or directions ({_fmt(a[:nd, 3])} vs {_fmt(b[:nd, 3])})"
    return ""


def _fmt(v: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(x):.4g}" for x in v) + ")"
