# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``adamix-monai`` commands that gather bundle runs: ``figures`` and ``table``."""

from __future__ import annotations

import json

import pytest

from adamix_monai.cli import Commands
from tests.test_figures_workflow import fake_run


def test_figures_and_table_commands(tmp_path):
    for seed, dice in ((1, 70.0), (2, 74.0)):
        run = fake_run(tmp_path / "runs", f"self_training-adamix-10pct-seed{seed}", "AdaMix-ST")
        info = {"method": "AdaMix-ST", "labeled": "10%", "honest": {"mean": dict(dice=dice, jaccard=1, hd95=2, asd=3)}}
        (run / "eval-test-best" / "summary.json").write_text(json.dumps(info))
    files = Commands.figures(str(tmp_path / "runs" / "*"), output_dir=str(tmp_path / "figs"))
    assert len(files) == 5 and all(f.endswith(".png") for f in files)
    text = Commands.table(str(tmp_path / "runs" / "*"), title="T", output=str(tmp_path / "t.md"))
    assert "| AdaMix-ST | 10% | 2 | 72.00 ± 2.83 |" in text
    assert (tmp_path / "t.md").read_text() == text
    with pytest.raises(FileNotFoundError, match="no summary"):
        Commands.table(str(tmp_path / "nothing*"))
