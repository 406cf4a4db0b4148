# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Atomic saves, the global random states, the resumable checkpoint and the best-model saver."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from adamix_monai.handlers import BestModelSaver, ResumableCheckpoint, RNGState, atomic_save
from tests.helpers.ssl_fixtures import make_trainer


def test_atomic_save_replaces_whole_files_and_leaves_no_temporaries(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "x.pt"
    atomic_save({"a": torch.ones(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"a": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]


def test_rng_state_round_trip(tmp_path):
    rng = RNGState()
    atomic_save(rng.state_dict(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    rng.load_state_dict(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_resumable_checkpoint_saves_and_restores_a_trainer(tmp_path):
    trainer = make_trainer("co_training", "adamix", max_epochs=1)
    ckpt = ResumableCheckpoint(tmp_path, trainer.checkpoint_objects(), save_every=3)
    ckpt.attach(trainer)
    trainer.run()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"trainer", "network", "network2", "optimizer", "optimizer2", "adamix", "rng"} <= set(state)
    assert state["trainer"]["iteration"] == 4
    other = make_trainer("co_training", "adamix", max_epochs=1, seed=9)
    loader = ResumableCheckpoint(tmp_path, other.checkpoint_objects())
    assert loader.load() and loader.resumed_from == 4
    for a, b in zip(trainer.network2.parameters(), other.network2.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="has no entry for \\['teacher'\\]"):
        ResumableCheckpoint(tmp_path, {**other.checkpoint_objects(), "teacher": torch.nn.Linear(1, 1)}).load()
    with pytest.raises(ValueError, match="no state_dict"):
        ResumableCheckpoint(tmp_path, {"x": object()})


def test_best_model_saver_keeps_the_best_and_survives_resume(tmp_path):
    net = torch.nn.Linear(2, 2)
    saver = BestModelSaver(tmp_path / "models", net, metric_name="val_dice")
    for epoch, value in enumerate([0.5, 0.7, 0.6], start=1):
        with torch.no_grad():
            net.weight.fill_(value)
        saver(SimpleNamespace(state=SimpleNamespace(metrics={"val_dice": value}, epoch=epoch)))
    saved = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert float(saved["weight"][0, 0]) == pytest.approx(0.7) and saver.best_epoch == 2
    fresh = BestModelSaver(tmp_path / "models", net, metric_name="val_dice")
    fresh.load_state_dict(saver.state_dict())
    fresh(SimpleNamespace(state=SimpleNamespace(metrics={"val_dice": 0.65}, epoch=4)))
    assert float(torch.load(tmp_path / "models" / "model.pt", weights_only=True)["weight"][0, 0]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="metric 'val_dice' is not among"):
        fresh(SimpleNamespace(state=SimpleNamespace(metrics={"other": 1.0}, epoch=5)))


def test_atomic_files_get_the_permissions_of_a_plain_open(tmp_path):
    import os
    import stat

    from adamix_monai.utils import atomic_open

    with atomic_open(tmp_path / "a.txt") as f:
        f.write(b"x")
    (tmp_path / "b.txt").write_bytes(b"x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "b.txt").st_mode)
