# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Study records: export strips machine paths and records provenance; the table and the paired Wilcoxon test."""

from __future__ import annotations

import json

import pytest

from adamix_monai.reporting import summarise, write_case_rows
from adamix_monai.study import case_dice, export_run, main, paired_comparison, study_table


def fake_run(root, name, method, seed, dice_by_case):
    run = root / "runs" / name
    run.mkdir(parents=True)
    (run / "history.csv").write_text("iteration,epoch,loss\n8,1,0.5\n16,2,0.4\n")
    (run / "validation.csv").write_text("iteration,epoch,val_mean_dice\n16,2,0.5\n")
    for ckpt in ("final", "best"):
        rows = [
            {"case": case, "class": c, "class_name": f"c{c}", "dice": d, "jaccard": d / (2 - d), "hd95": 3.0,
             "asd": 1.0, "empty_prediction": False, "empty_reference": False}
            for case, d in dice_by_case.items() for c in (1, 2)
        ]
        out = run / f"eval-test-{ckpt}"
        out.mkdir()
        write_case_rows(out / "metrics.csv", rows)
        summary = {"method": method, "details": {"checkpoint": f"/home/someone/{name}/model.pt", "seed": str(seed)},
                   "honest": summarise(rows, "honest"), "paper": summarise(rows, "paper")}
        (out / "summary.json").write_text(json.dumps(summary))
    return run


def test_export_keeps_the_small_files_without_machine_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = fake_run(tmp_path, "study-a-seed1", "AdaMix-ST", 1, {"p1": 0.8, "p2": 0.6})
    rec = export_run(run, tmp_path / "records" / run.name, command="bash study.sh", seconds=12.4)
    names = sorted(p.name for p in rec.iterdir())
    assert names == ["history.csv", "provenance.json", "test-best-metrics.csv", "test-best-summary.json",
                     "test-final-metrics.csv", "test-final-summary.json", "validation.csv"]
    assert "/home/someone" not in (rec / "test-final-summary.json").read_text()
    prov = json.loads((rec / "provenance.json").read_text())
    assert prov["command"] == "bash study.sh" and prov["wall_seconds"] == 12 and prov["threads"] == "1"
    assert prov["iterations"] == 16 and len(prov["commit"]) >= 7
    assert case_dice(rec / "test-final-metrics.csv") == pytest.approx({"p1": 0.8, "p2": 0.6})


def test_export_refuses_an_unfinished_run(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="not a finished, evaluated run"):
        export_run(run, tmp_path / "rec")


def test_table_and_paired_comparison_over_seeds(tmp_path):
    cases = [f"p{i}" for i in range(12)]
    for seed in (1, 2):
        base = {c: 0.5 + 0.01 * i for i, c in enumerate(cases)}
        better = {c: d + 0.05 + 0.001 * i for i, (c, d) in enumerate(base.items())}
        for method, dice in (("FixMatch", base), ("AdaMix-ST", better)):
            run = fake_run(tmp_path, f"{method}-{seed}", method, seed, dice)
            export_run(run, tmp_path / "records" / run.name)
    result = paired_comparison(tmp_path / "records", "AdaMix-ST", "FixMatch")
    assert result["seeds"] == [1, 2] and result["cases"] == 12 and result["wins"] == 12
    assert result["mean_difference"] == pytest.approx(5.55, abs=0.01) and result["p_value"] < 0.001
    table = study_table(tmp_path / "records")
    assert "| AdaMix-ST | last | 1,2 |" in table and "| FixMatch | best on val | 1,2 |" in table
    assert "Wilcoxon signed-rank" in table and "higher on 12/12 cases" in table
    assert paired_comparison(tmp_path / "records", "AdaMix-ST", "Supervised") is None


def test_command_line_keeps_a_digit_only_commit_as_text(tmp_path, capsys):
    run = fake_run(tmp_path, "r", "Supervised", 1, {"p1": 0.5})
    main(["export", str(run), str(tmp_path / "rec"), "--commit", "1234e5", "--seconds", "3"])
    assert json.loads((tmp_path / "rec" / "provenance.json").read_text())["commit"] == "1234e5"
    main(["table", str(tmp_path)])
    assert "| Supervised | last | 1 |" in capsys.readouterr().out


def test_study_script_trains_evaluates_and_records_a_run(tmp_path):
    """bundles/adamix_acdc/docs/study_cpu.sh on a mini ACDC with tiny settings: one recorded run, then skipped."""
    import os
    import subprocess
    import sys

    from tests.helpers.acdc_fixtures import make_mini_acdc
    from tests.conftest import REPO_ROOT

    data = make_mini_acdc(tmp_path / "acdc")
    env = dict(os.environ, PYTHON=sys.executable, SEEDS="1", METHODS="supervised:none", OMP_NUM_THREADS="1",
               STUDY_RUNS=str(tmp_path / "runs"), STUDY_OUT=str(tmp_path / "records"))
    cmd = ["bash", "bundles/adamix_acdc/docs/study_cpu.sh", str(data), "--image_size", "[32,32]", "--epochs", "1",
           "--epoch_samples", "4", "--batch_size", "2"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = tmp_path / "records" / "study-supervised-none-10pct-seed1"
    prov = json.loads((record / "provenance.json").read_text())
    assert prov["threads"] == "1" and prov["iterations"] == 2 and prov["commit"] != "unknown"
    assert "| Supervised | last | 1 |" in proc.stdout
    assert str(tmp_path) not in "".join(p.read_text() for p in record.iterdir())  # no machine paths
    again = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "recorded, skipped" in again.stdout


def test_figure1_draws_the_mixes_that_have_a_record(tmp_path, capsys):
    for name, method in (("cm", "FixMatch"), ("ada", "AdaMix-ST"), ("um", "UMix-ST")):
        run = fake_run(tmp_path, name, method, 1, {"p1": 0.5})
        (run / "history.csv").write_text("iteration,epoch,loss,loss_u\n8,1,0.5,0.4\n16,2,0.4,0.3\n")
        export_run(run, tmp_path / "records" / name)
    out = tmp_path / "fig1.png"
    main(["figure1", str(tmp_path / "records"), "--output", str(out)])
    assert capsys.readouterr().out.strip() == f"{out}: CutMix (FixMatch), UMix, AdaMix"
    from PIL import Image

    assert out.is_file() and Image.open(out).size[0] > 500
    from adamix_monai.study import figure1

    assert figure1(tmp_path / "records", tmp_path / "none.png", seed=2) == []  # no record of seed 2: an empty frame


def test_study_script_records_a_speed_option_run_under_its_own_name(tmp_path):
    """RUN_TAG + ``--fuse_forwards True --skip_unused_passes True``: its own run folder, record and method name, so
    the table never pools it with the reference step's runs; the trainer got the options."""
    import os
    import subprocess
    import sys

    from tests.helpers.acdc_fixtures import make_mini_acdc
    from tests.conftest import REPO_ROOT

    data = make_mini_acdc(tmp_path / "acdc")
    env = dict(os.environ, PYTHON=sys.executable, SEEDS="1", METHODS="self_training:adamix", OMP_NUM_THREADS="1",
               STUDY_RUNS=str(tmp_path / "runs"), STUDY_OUT=str(tmp_path / "records"), RUN_TAG="-fused")
    cmd = ["bash", "bundles/adamix_acdc/docs/study_cpu.sh", str(data), "--image_size", "[32,32]", "--epochs", "1",
           "--epoch_samples", "4", "--batch_size", "2", "--fuse_forwards", "True", "--skip_unused_passes", "True"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = tmp_path / "records" / "study-self_training-adamix-10pct-seed1-fused"
    assert json.loads((record / "test-final-summary.json").read_text())["method"] == "AdaMix-ST (fused, skip)"
    assert "RUN_TAG=-fused SEEDS=1" in json.loads((record / "provenance.json").read_text())["command"]
    run = json.loads((tmp_path / "runs" / "study-self_training-adamix-10pct-seed1-fused" / "run.json").read_text())
    assert run["settings"]["fuse_forwards"] is True and run["settings"]["skip_unused_passes"] is True
    assert "| AdaMix-ST (fused, skip) | last | 1 |" in proc.stdout
