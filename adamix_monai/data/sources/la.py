# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""LA (2018 Atrial Segmentation Challenge) in the UA-MT layout: lists, labeled subsets and a validation split.

Layout (``docs/algorithm.md`` section 5.2)::

    <root>/train.list, test.list                          case ids, one per line
    <root>/2018LA_Seg_Training Set/<ID>/mri_norm2.h5      keys image (W, H, D) float32, label (W, H, D) {0, 1}

Arrays are stored (W, H, D); :func:`~adamix_monai.data.io.load_la_case` reads them as (D, H, W). The labeled subsets
are the first ``round(80 * fraction)`` ids of ``train.list``: 8 (10%) or 16 (20%) of the official 80, the paper's
counts, whatever the size of the folder's list. Unlike the reference code, which selects models on the test set, the
validation cases are carved from the *end* of ``train.list``; the unlabeled stream is every other training case,
and its items carry only the image path, so labels of unlabeled cases cannot be read.
"""

from __future__ import annotations

from pathlib import Path

from adamix_monai.data.file_checks import check_h5_items
from adamix_monai.data.sources.splits import split_name

__all__ = ["LA"]

#: Training cases of the official challenge split, which the paper's labeled fractions count (8 = 10%).
OFFICIAL_TRAINING_CASES = 80

_GET_LA = (
    "LA comes from the 2018 Atrial Segmentation Challenge; the preprocessed h5 files and lists used by the paper are "
    "those of UA-MT (github.com/yulequan/UA-MT, 'data/')."
)
_CASES = "2018LA_Seg_Training Set"


class LA:
    """The LA dataset folder (UA-MT layout).

    Args:
        root: the folder holding ``train.list``, ``test.list`` and ``2018LA_Seg_Training Set/``.
        labeled_fraction: the labeled subset as a fraction of the official 80 training cases (0.1 -> 8 cases).
        labeled_cases: the labeled count itself (overrides ``labeled_fraction``); None: from the fraction.
        validation_cases: validation cases, the *last* ids of ``train.list``; None: a tenth of the list, at least 1.
        check: read each listed file before it is used (:func:`~adamix_monai.data.file_checks.check_h5_items`: a
            float 3D image, finite where labeled, a label of the image's shape holding 0 and 1), so a damaged file
            stops the run at its start, naming the file, instead of mid-run or silently.

    Raises:
        FileNotFoundError: when the folder does not have the expected layout, or a listed case has no file (the
            message says what is missing and where to get LA).
    """

    num_classes = 2

    def __init__(
        self,
        root: str | Path,
        labeled_fraction: float = 0.1,
        labeled_cases: int | None = None,
        validation_cases: int | None = None,
        check: bool = True,
    ) -> None:
        self.root = Path(root)
        self.check = check
        self.labeled_fraction = float(labeled_fraction)
        expected = [self.root / "train.list", self.root / "test.list", self.root / _CASES]
        missing = [str(p) for p in expected if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"LA: '{self.root}' is not an LA folder in the UA-MT layout; missing: {', '.join(missing)}. "
                f"Expected train.list, test.list and '{_CASES}/<ID>/mri_norm2.h5'. {_GET_LA}"
            )
        absent = [c for c in self.training_cases() + self.test_cases() if not Path(self.case_path(c)).is_file()]
        if absent:
            raise FileNotFoundError(
                f"LA: {len(absent)} listed case(s) have no file, e.g. '{self.case_path(absent[0])}'. {_GET_LA}"
            )
        self.labeled_cases = (
            round(self.labeled_fraction * OFFICIAL_TRAINING_CASES) if labeled_cases is None else int(labeled_cases)
        )
        self.validation_cases = (
            max(1, len(self.training_cases()) // 10) if validation_cases is None else int(validation_cases)
        )

    def _list(self, name: str) -> list[str]:
        lines = (self.root / name).read_text().splitlines()
        return [line.strip() for line in lines if line.strip()]  # also drops the CR of CRLF lists

    def training_cases(self) -> list[str]:
        """Ids of ``train.list``, in order."""
        return self._list("train.list")

    def test_cases(self) -> list[str]:
        """Ids of ``test.list``, in order."""
        return self._list("test.list")

    def case_path(self, case: str) -> str:
        """The h5 file of a case."""
        return str(self.root / _CASES / case / "mri_norm2.h5")

    def split(self, labeled: int, validation: int) -> dict[str, list[str]]:
        """The training cases split into ``labeled`` (the first ids), ``validation`` (the last ids) and
        ``unlabeled`` (the rest).

        Args:
            labeled: labeled cases (8 = 10%, 16 = 20% of the official 80).
            validation: validation cases taken from the end of ``train.list``.

        Returns:
            ``{"labeled": [...], "unlabeled": [...], "validation": [...]}``.

        Raises:
            ValueError: when the counts do not fit the training list.
        """
        cases = self.training_cases()
        if labeled < 1 or validation < 0 or labeled + validation > len(cases):
            raise ValueError(
                f"LA: cannot take {labeled} labeled and {validation} validation cases from the {len(cases)} ids "
                f"of {self.root / 'train.list'}."
            )
        held_out = cases[len(cases) - validation :] if validation else []
        return {
            "labeled": cases[:labeled],
            "unlabeled": cases[labeled : len(cases) - validation],
            "validation": held_out,
        }

    def _checked(self, items: list[dict[str, str]], what: str) -> list[dict[str, str]]:
        return check_h5_items(items, self.num_classes, f"LA '{self.root}' {what}", ndim=3) if self.check else items

    def labeled_items(self) -> list[dict[str, str]]:
        """Datalist of the labeled cases: ``{"image", "label", "id"}`` (checked, see ``check``)."""
        return self._checked([self._item(c) for c in self._split()["labeled"]], "labeled cases")

    def unlabeled_items(self, include_labeled: bool = True) -> list[dict[str, str]]:
        """Datalist of the unlabeled stream, image only (the reference streams labeled and unlabeled cases)."""
        parts = self._split()
        cases = (parts["labeled"] if include_labeled else []) + parts["unlabeled"]
        return self._checked([{"image": self.case_path(c), "id": c} for c in cases], "unlabeled cases")

    def items(self, split: str) -> list[dict[str, str]]:
        """Datalist of the validation cases (``val``: from the training list, never the test list) or of the test
        cases (``test``)."""
        if split_name(split, f"LA '{self.root}'") == "val":
            return self._checked([self._item(c) for c in self._split()["validation"]], "validation cases")
        return self._checked([self._item(c) for c in self.test_cases()], "test cases")

    def _split(self) -> dict[str, list[str]]:
        return self.split(self.labeled_cases, self.validation_cases)

    def _item(self, case: str) -> dict[str, str]:
        return {"image": self.case_path(case), "label": self.case_path(case), "id": case}
