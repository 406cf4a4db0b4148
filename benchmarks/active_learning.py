# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Does AdaMix-confidence active learning pick the studies the model gets wrong? Real ACDC test volumes, one trained
model: each volume's uncertainty (adamix_monai.active_learning) beside the model's Dice on it, and their Spearman
correlation (negative: the most uncertain studies are the worst segmented, the ones worth annotating).

Usage::

    python benchmarks/active_learning.py <run folder with model.pt> [--cases 12] [--data ../shared/data/ACDC]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.stats import spearmanr  # noqa: E402

from adamix_monai.active_learning import BundleUncertainty, uncertainty_and_dice  # noqa: E402
from tests.helpers.acdc_nifti import write_studies  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ADAMIX_DATA_DIR", "data")) / "ACDC")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "adamix_acdc"
        shutil.copytree(REPO / "bundles" / "adamix_acdc" / "configs", root / "configs")
        (root / "models").mkdir()
        for name in ("model.pt", "model.json"):
            if (args.run / name).is_file():
                shutil.copy(args.run / name, root / "models" / name)
        images = write_studies(args.data, Path(tmp) / "studies", split="test", cases=args.cases)
        pairs = [(p, Path(tmp) / "studies" / "labels" / "final" / p.name) for p in images]
        rows = uncertainty_and_dice(BundleUncertainty(root, device="cpu"), pairs, num_classes=4)
    print(f"| test volume | uncertainty | Dice |  (model: {args.run.name})")
    print("|---|---|---|")
    for row in sorted(rows, key=lambda r: -r["uncertainty"]):
        print(f"| {Path(row['image']).name.removesuffix('.nii.gz')} | {row['uncertainty']:.4f} | {row['dice']:.4f} |")
    result = spearmanr([r["uncertainty"] for r in rows], [r["dice"] for r in rows])
    print(f"Spearman(uncertainty, Dice) = {result.statistic:.3f} (p = {result.pvalue:.3g}, {len(rows)} volumes)")


if __name__ == "__main__":
    main()
