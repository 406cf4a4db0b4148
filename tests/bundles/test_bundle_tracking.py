# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MONAI's standard experiment tracking, unchanged: ``--tracking mlflow`` on a bundle run logs the training loss,
the learning rate, the validation Dice and the executed config (skipped where mlflow is not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.bundle_runs import bundle_run, check

TINY = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "2", "--epoch_samples", "4",
    "--cache_rate", "0", "--log_every", "1", "--history_every", "1", "--progress", "False",
]  # fmt: skip


def test_tracking_mlflow_logs_loss_lr_validation_dice_and_the_config(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    data = make_mini_acdc(tmp_path / "acdc")
    args = ["--dataset_dir", str(data), "--bundle_root", str(tmp_path), *TINY, "--tracking", "mlflow"]
    check(bundle_run("adamix_acdc", ["train.json", "cpu.json"], *args))
    run_dir = tmp_path / "runs" / "self_training-adamix-10pct-seed1"
    database = run_dir / "mlruns.db"
    assert database.is_file()  # MONAI's default: a SQLite store in the run's output_dir
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiment = client.get_experiment_by_name("monai_experiment")
    runs = client.search_runs([experiment.experiment_id])
    metrics = {k for r in runs for k in r.data.metrics}
    assert "train_loss" in metrics, metrics  # every iteration, through from_engine(['loss'], first=True)
    assert "lr_group_0" in metrics, metrics  # the optimizer's learning rate
    assert "val_mean_dice" in metrics, metrics  # the validator's key metric
    history = client.get_metric_history(next(r for r in runs if "train_loss" in r.data.metrics).info.run_id, "train_loss")
    assert len(history) == 4  # 2 epochs x 2 iterations
    artifacts = [a.path for r in runs for a in client.list_artifacts(r.info.run_id)]
    assert any(Path(a).suffix == ".json" for a in artifacts), artifacts  # the executed config
