# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""ACDC in the SSL4MIS layout: lists and the paper's labeled subsets (a :class:`~adamix_monai.data.sources.DataSource`).

Layout (``docs/algorithm.md`` section 5.1)::

    <root>/train_slices.list, val.list, test.list
    <root>/data/slices/patientXXX_frameYY_slice_K.h5   keys image (H, W) float32 in [0, 1], label (H, W) uint8
    <root>/data/patientXXX_frameYY.h5                  keys image (D, H, W), label (D, H, W): val/test volumes

Labeled subsets are the first ``int(70 * fraction)`` training patients in ``train_slices.list`` order: 5% = 3
patients, 10% = 7 patients (136 slices), 20% = 14 patients (256 slices), the same patients as SSL4MIS and
AdaMix. The unlabeled stream is every training slice; its items carry only the image path, so a label of an
unlabeled case cannot be read by construction.
"""

from __future__ import annotations

from pathlib import Path

from adamix_monai.data.file_checks import check_h5_items
from adamix_monai.data.sources.splits import split_name

__all__ = ["ACDC"]

_GET_ACDC = (
    "ACDC comes from the MICCAI 2017 challenge (https://www.creatis.insa-lyon.fr/Challenge/acdc/); the preprocessed "
    "h5 files and lists used by the paper are those of SSL4MIS (github.com/HiLab-git/SSL4MIS, 'data/ACDC')."
)


class ACDC:
    """The ACDC dataset folder (SSL4MIS layout).

    Args:
        root: the folder holding ``train_slices.list`` and ``data/``.
        labeled_fraction: the labeled subset, a fraction of the training patients in ``(0, 1]`` (0.05, 0.1, 0.2 in
            the paper).
        num_training_patients: patients in the training split (70), for the labeled fractions.
        num_classes: classes of the labels, background included (4).
        check: read the labeled slices and the val/test volumes when their items are asked for, and stop with one
            error naming every unusable file (float image, label of the image's shape, classes 0..3).

    Raises:
        FileNotFoundError: when the folder does not have the expected layout (the message says what is missing
            and where to get ACDC).
    """

    def __init__(
        self,
        root: str | Path,
        labeled_fraction: float = 0.1,
        num_training_patients: int = 70,
        num_classes: int = 4,
        check: bool = True,
    ) -> None:
        self.root = Path(root)
        self.labeled_fraction = float(labeled_fraction)
        self.num_training_patients = int(num_training_patients)
        self.num_classes, self.check = int(num_classes), bool(check)
        expected = [
            self.root / "train_slices.list",
            self.root / "val.list",
            self.root / "test.list",
            self.root / "data" / "slices",
        ]
        missing = [str(p) for p in expected if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"ACDC: '{self.root}' is not an ACDC folder in the SSL4MIS layout; missing: {', '.join(missing)}. "
                f"Expected train_slices.list, val.list, test.list, data/slices/*.h5 and data/*.h5. {_GET_ACDC}"
            )

    def _list(self, name: str) -> list[str]:
        return [line.strip() for line in (self.root / name).read_text().splitlines() if line.strip()]

    def training_slices(self) -> list[str]:
        """Ids of every training slice, in list order."""
        return self._list("train_slices.list")

    def volumes(self, split: str) -> list[str]:
        """Ids of the ``val`` or ``test`` volumes."""
        if split not in ("val", "test"):
            raise ValueError(f"ACDC: split must be 'val' or 'test', got '{split}'.")
        return self._list(f"{split}.list")

    @staticmethod
    def patient(slice_id: str) -> str:
        """``patient099_frame01_slice_15`` -> ``patient099``."""
        return slice_id.split("_")[0]

    def labeled_slices(self, fraction: float) -> list[str]:
        """Slices of the first ``int(num_training_patients * fraction)`` patients (the paper's labeled subset)."""
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"ACDC: labeled fraction must be in (0, 1], got {fraction}.")
        count = int(self.num_training_patients * fraction)
        if count < 1:
            raise ValueError(
                f"ACDC: a labeled fraction of {fraction} selects no patient of {self.num_training_patients}."
            )
        patients: list[str] = []
        for slice_id in self.training_slices():
            p = self.patient(slice_id)
            if p not in patients:
                patients.append(p)
        chosen = set(patients[:count])
        return [s for s in self.training_slices() if self.patient(s) in chosen]

    def slice_path(self, slice_id: str) -> str:
        return str(self.root / "data" / "slices" / f"{slice_id}.h5")

    def volume_path(self, volume_id: str) -> str:
        return str(self.root / "data" / f"{volume_id}.h5")

    def labeled_items(self) -> list[dict[str, str]]:
        """Datalist of the labeled subset: ``{"image": path, "label": path}`` per slice (checked, see ``check``)."""
        slices = self.labeled_slices(self.labeled_fraction)
        items = [{"image": self.slice_path(s), "label": self.slice_path(s)} for s in slices]
        return self._checked(items, "labeled slices", ndim=2)

    def unlabeled_items(self) -> list[dict[str, str]]:
        """Datalist of every training slice, image only (labels unreachable); each file's header is checked."""
        items = [{"image": self.slice_path(s)} for s in self.training_slices()]
        return self._checked(items, "training slices", ndim=2)

    def items(self, split: str) -> list[dict[str, str]]:
        """Datalist of the ``val``/``test`` volumes: ``{"image": path, "label": path, "id": id}`` (checked)."""
        split = split_name(split, f"ACDC '{self.root}'")
        items = [{"image": self.volume_path(v), "label": self.volume_path(v), "id": v} for v in self.volumes(split)]
        return self._checked(items, f"{split} volumes", ndim=3)

    def _checked(self, items: list[dict[str, str]], what: str, ndim: int) -> list[dict[str, str]]:
        return check_h5_items(items, self.num_classes, f"ACDC '{self.root}' {what}", ndim=ndim) if self.check else items
