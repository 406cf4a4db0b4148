# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The figures of bundle runs, from the files a run and its evaluation write."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adamix_monai.visualize.patches import save_png
from adamix_monai.visualize.run_figures import make_run_figures


def fake_run(root, name, method):
    run = root / name
    (run / "mix_samples").mkdir(parents=True)
    (run / "history.csv").write_text(
        "iteration,epoch,loss,loss_s,loss_u,mask_ratio,adamix_lambda,adamix_mean_n,adamix_hard_fraction\n"
        + "".join(f"{i},1,{1 / i},{1 / i},{0.5 / i},0.5,{min(1, i / 5)},{i},{0.5}\n" for i in range(1, 11))
    )
    (run / "validation.csv").write_text("iteration,epoch,val_mean_dice\n5,1,0.4\n10,2,0.6\n")
    save_png(run / "mix_samples" / "iter_000003.png", np.zeros((16, 40, 3), np.uint8))
    cases = run / "eval-test-best" / "cases"
    cases.mkdir(parents=True)
    label = np.zeros((3, 16, 16), np.uint8)
    label[1, 4:10, 4:10] = 1
    for case in ("p1", "p2"):
        np.savez(
            cases / f"{case}.npz", image=np.random.rand(3, 16, 16).astype(np.float16), label=label, prediction=label
        )
    (run / "eval-test-best" / "summary.json").write_text(json.dumps({"method": method}))
    return run


def test_every_figure_is_written(tmp_path):
    runs = [fake_run(tmp_path, "a-seed1", "AdaMix-ST"), fake_run(tmp_path, "b-seed1", "Supervised")]
    files = make_run_figures(runs, tmp_path / "figs", class_names=["RV"])
    names = sorted(p.name for p in files)
    assert names == [
        "curves_a-seed1.png",
        "curves_b-seed1.png",
        "mix_samples_a-seed1.png",
        "mix_samples_b-seed1.png",
        "qualitative.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in files)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_run_figures([tmp_path / "nope"], tmp_path / "figs")


def test_study_records_give_their_curves_titled_with_the_method(tmp_path):
    """A study record (history, validation, exported summaries; no samples or kept cases) gives its curves."""
    from adamix_monai.visualize import run_figures

    record = tmp_path / "study-self_training-adamix-10pct-seed1"
    record.mkdir()
    (record / "history.csv").write_text("iteration,epoch,loss,loss_s,loss_u\n1,1,0.9,0.8,1.0\n2,1,0.7,0.6,0.8\n")
    (record / "validation.csv").write_text("iteration,epoch,val_mean_dice\n2,1,0.4\n")
    (record / "test-best-summary.json").write_text(json.dumps({"method": "AdaMix-ST"}))
    assert run_figures._method(record, "eval-test-best") == "AdaMix-ST"
    assert run_figures._method(record, "eval-test-final") == record.name  # no final summary in this record
    files = make_run_figures([record], tmp_path / "figures")
    assert [f.name for f in files] == ["curves_study-self_training-adamix-10pct-seed1.png"] and files[0].stat().st_size
