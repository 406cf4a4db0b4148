# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-case CSV files, honest and paper scoring of missed classes, Table-1 summaries, tables over seeds."""

from __future__ import annotations

import json
import math

import pytest

from adamix_monai.reporting import (
    collect_table,
    method_name,
    read_case_rows,
    summarise,
    summary_markdown,
    write_case_rows,
)


def row(case, cls, dice, hd95, empty_pred=False, name=None):
    return {
        "case": case,
        "class": cls,
        "class_name": name or f"c{cls}",
        "dice": dice,
        "jaccard": dice / (2 - dice) if not math.isnan(dice) else math.nan,
        "hd95": hd95,
        "asd": hd95 / 2,
        "empty_prediction": empty_pred,
        "empty_reference": False,
    }


ROWS = [
    row("a", 1, 0.8, 4.0),
    row("a", 2, 0.6, 8.0),
    row("b", 1, 0.9, 2.0),
    row("b", 2, 0.0, math.nan, empty_pred=True),  # a missed class
]


def test_method_names_follow_the_paper():
    assert method_name("self_training", "adamix") == "AdaMix-ST"
    assert method_name("self_training", "cutmix") == "FixMatch"
    assert method_name("mean_teacher", "cutmix") == "MT"
    assert method_name("co_training", "cutmix") == "CPS"
    assert method_name("co_training", "adamix") == "AdaMix-CT"
    assert method_name("supervised", "none") == "Supervised"
    assert method_name("co_training", "umix") == "UMix-CT"


def test_honest_and_paper_scoring_of_a_missed_class():
    honest, paper = summarise(ROWS, "honest"), summarise(ROWS, "paper")
    # case a: dice (0.8 + 0.6) / 2 = 70 %, case b: (0.9 + 0) / 2 = 45 %
    assert honest["mean"]["dice"] == pytest.approx(57.5) and paper["mean"]["dice"] == pytest.approx(57.5)
    # honest: the missed class's HD95 is left out (case b = 2.0); paper: it counts 0 (case b = 1.0)
    assert honest["mean"]["hd95"] == pytest.approx((6.0 + 2.0) / 2)
    assert paper["mean"]["hd95"] == pytest.approx((6.0 + 1.0) / 2)
    assert honest["std"]["dice"] == pytest.approx(math.sqrt(2 * 12.5**2))  # ddof 1 over the two cases
    assert honest["missed"] == 1 and honest["cases"] == 2
    assert honest["per_class"]["c2"]["dice"] == pytest.approx(30.0)
    with pytest.raises(ValueError, match="mode"):
        summarise(ROWS, "generous")


def test_csv_round_trip_and_markdown(tmp_path):
    path = write_case_rows(tmp_path / "m.csv", ROWS)
    back = read_case_rows(path)
    assert len(back) == 4 and back[3]["empty_prediction"] is True and math.isnan(back[3]["hd95"])
    assert back[0]["dice"] == pytest.approx(0.8)
    text = summary_markdown(back, "AdaMix-ST", "10%", "Adaptive Mix", "Self-Training", details={"seed": 1})
    assert "| AdaMix-ST | 10% | 57.50 ± 17.68 |" in text
    assert "| AdaMix-ST (paper scoring) | 10% |" in text and "Missed classes" in text and "- seed: 1" in text


def test_collect_table_averages_runs_of_one_method(tmp_path):
    files = []
    for seed, dice in ((1, 80.0), (2, 84.0)):
        info = {
            "method": "AdaMix-ST",
            "labeled": "10%",
            "perturbation": "Adaptive Mix",
            "framework": "Self-Training",
            "honest": {"mean": {"dice": dice, "jaccard": 70.0, "hd95": 5.0, "asd": 1.0}},
        }
        files.append(tmp_path / f"s{seed}.json")
        files[-1].write_text(json.dumps(info))
    table = collect_table(files, title="T")
    assert "| AdaMix-ST | 10% | 2 | 82.00 ± 2.83 | 70.00 ± 0.00 |" in table


def test_speed_options_are_named_in_the_method():
    from adamix_monai.reporting import describe_run

    assert describe_run("self_training", "adamix")["method"] == "AdaMix-ST"
    assert describe_run("self_training", "adamix", fuse_forwards=True)["method"] == "AdaMix-ST (fused)"
    assert describe_run("self_training", "adamix", views="device")["method"] == "AdaMix-ST (device views)"
    assert describe_run("self_training", "adamix", views="device", fast_dropout=True)["method"] == (
        "AdaMix-ST (device views, fast dropout)"
    )
    assert describe_run("mean_teacher", "cutmix", True, True)["method"] == "MT (fused, skip)"
