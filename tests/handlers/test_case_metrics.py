# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""CaseMetricsWriter on a MONAI evaluator: per-case rows, files, metrics, spacing from the metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.transforms import AsDiscreted

from adamix_monai.handlers.case_metrics import CaseMetricsWriter
from adamix_monai.metrics import case_metrics
from adamix_monai.reporting import read_case_rows


class Oracle(torch.nn.Module):
    """Returns one-hot 'logits' of the label hidden in the image (image = label / 10)."""

    def forward(self, x):
        label = (x * 10).round().long()[:, 0]
        return torch.nn.functional.one_hot(label, 3).movedim(-1, 1).float()


def test_writer_on_an_evaluator(tmp_path):
    rng = np.random.RandomState(0)
    items = []
    for i in range(3):
        label = np.zeros((1, 6, 16, 16), dtype=np.int64)
        label[0, 1:5, 3:9, 3:9] = 1
        label[0, 2:4, 10:14, 9:13] = 2 if i != 2 else 0  # case 2 has no class 2
        noisy = label.copy()
        noisy[0, 1, rng.randint(0, 16, 5), rng.randint(0, 16, 5)] = 1
        items.append({"image": torch.tensor(noisy / 10.0).float(), "label": torch.tensor(label), "id": f"case{i}"})
    loader = DataLoader(Dataset(items), batch_size=1)
    writer = CaseMetricsWriter(tmp_path, 3, ["A", "B"], method="M", labeled="10%", keep_cases=2)
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=Oracle(),
        postprocessing=AsDiscreted(keys="pred", argmax=True),
        val_handlers=[writer],
    )
    evaluator.run()
    rows = read_case_rows(tmp_path / "metrics.csv")
    assert [(r["case"], r["class_name"]) for r in rows[:2]] == [("case0", "A"), ("case0", "B")]
    expected = case_metrics(items[0]["image"][0] * 10, items[0]["label"][0], 3)
    assert rows[0]["dice"] == pytest.approx(expected[1]["dice"]) and rows[0]["hd95"] == pytest.approx(
        expected[1]["hd95"]
    )
    assert rows[1]["dice"] == pytest.approx(1.0)
    assert rows[5]["empty_reference"] and rows[5]["empty_prediction"]  # case 2, class B: absent in both
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "M" and summary["honest"]["cases"] == 3
    assert "| M | 10% |" in (tmp_path / "summary.md").read_text()
    assert sorted(p.name for p in (tmp_path / "cases").glob("*.npz")) == ["case0.npz", "case1.npz"]
    kept = np.load(tmp_path / "cases" / "case0.npz")
    assert kept["prediction"].shape == (6, 16, 16) and kept["image"].shape == (6, 16, 16)
    assert evaluator.state.metrics["test_mean_dice"] == pytest.approx(summary["honest"]["mean"]["dice"])


def test_spacing_from_metadata_and_errors(tmp_path):
    label = torch.zeros(1, 8, 8, 8, dtype=torch.long)
    label[0, 2:6, 2:6, 2:6] = 1
    pred = torch.zeros_like(label)
    pred[0, 2:6, 2:6, 3:7] = 1
    affine = torch.diag(torch.tensor([1.0, 1.0, 2.5, 1.0]))
    writer = CaseMetricsWriter(tmp_path, 2, spacing="meta")
    rows = writer.add_case("c", MetaTensor(pred, affine=affine), MetaTensor(label, affine=affine))
    voxels = case_metrics(pred[0], label[0], 2)[1]
    mm = case_metrics(pred[0], label[0], 2, spacing=(1.0, 1.0, 2.5))[1]
    assert rows[0]["hd95"] == pytest.approx(mm["hd95"]) and mm["hd95"] > voxels["hd95"]
    with pytest.raises(ValueError, match="class_names"):
        CaseMetricsWriter(tmp_path, 3, ["only one"])
    with pytest.raises(RuntimeError, match="no case"):
        CaseMetricsWriter(tmp_path / "empty", 2).write()


def test_rgb_images_are_kept_in_colour_for_figures(tmp_path):
    label = torch.zeros(1, 12, 10, dtype=torch.long)
    label[0, 3:8, 2:6] = 1
    writer = CaseMetricsWriter(tmp_path, 2, ["Lesion"], method="M", labeled="5%", keep_cases=1)
    writer.add_case("img0", label.clone(), label, image=torch.rand(3, 12, 10))
    kept = np.load(tmp_path / "cases" / "img0.npz")
    assert kept["image"].shape == (12, 10, 3) and kept["label"].shape == (12, 10)
