# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""TrainingHistory: curves as CSV, validation rows at the trainer's iteration, resumable rows; train mode after
validation."""

from __future__ import annotations

import math

import torch
from ignite.engine import Engine, Events

from adamix_monai.handlers.history import TrainingHistory, read_history
from tests.helpers.ssl_fixtures import make_trainer


def test_training_and_validation_rows(tmp_path):
    trainer = make_trainer("self_training", "adamix", max_epochs=2, n_labeled=4, n_unlabeled=8, prob=1.0)
    evaluator = Engine(lambda e, b: None)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def fake_metric(engine):
        engine.state.metrics["val_mean_dice"] = 0.5

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine):
        trainer.students[0].eval()  # as MONAI's evaluator leaves it
        evaluator.run([0])

    history = TrainingHistory(tmp_path, every=2)
    history.attach(trainer, evaluator)
    trainer.run()
    train, val = read_history(tmp_path / "history.csv"), read_history(tmp_path / "validation.csv")
    assert train["iteration"] == [2.0, 4.0, 6.0, 8.0]
    assert all(v > 0 for v in train["loss"]) and all(0 <= v <= 1 for v in train["adamix_lambda"])
    assert val["iteration"] == [4.0, 8.0] and val["val_mean_dice"] == [0.5, 0.5]
    state = history.state_dict()
    fresh = TrainingHistory(tmp_path / "again")
    fresh.load_state_dict(state)
    fresh.write()
    assert read_history(tmp_path / "again" / "history.csv") == train


def test_a_step_after_validation_trains_in_train_mode():
    trainer = make_trainer("mean_teacher", "adamix", max_epochs=1, n_labeled=4, n_unlabeled=4, prob=1.0)
    seen = []
    net = trainer.students[0]
    net.register_forward_pre_hook(lambda m, i: seen.append(m.training))
    trainer.teacher.register_forward_pre_hook(lambda m, i: seen.append(("teacher", m.training)))
    net.eval()
    trainer.teacher.eval()
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: (net.eval(), trainer.teacher.eval()))
    trainer.run()
    assert seen and all(s is True or s == ("teacher", True) for s in seen[1:])  # [0] is the input check


def test_read_history_handles_empty_cells(tmp_path):
    (tmp_path / "h.csv").write_text("iteration,loss_u\n1,\n2,0.5\n")
    cols = read_history(tmp_path / "h.csv")
    assert cols["iteration"] == [1.0, 2.0] and math.isnan(cols["loss_u"][0])
    (tmp_path / "e.csv").write_text("iteration\n")
    assert read_history(tmp_path / "e.csv") == {}
    assert torch.tensor(cols["iteration"]).sum() == 3
