# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""MixSampleSaver: Fig. 5 rows at chosen points of a run, from the trainer's last mixed batch."""

from __future__ import annotations

import pytest

from adamix_monai.handlers.mix_samples import MixSampleSaver
from tests.helpers.ssl_fixtures import make_trainer


def test_rows_are_written_at_the_chosen_points(tmp_path):
    trainer = make_trainer("self_training", "adamix", max_epochs=2, n_labeled=4, n_unlabeled=8, prob=1.0)
    saver = MixSampleSaver(tmp_path, fractions=(0.25, 1.0), count=2)
    saver.attach(trainer)
    trainer.run()  # 8 iterations
    assert saver.captured == [2, 8]
    files = sorted(tmp_path.glob("iter_*.png"))
    assert [f.name for f in files] == ["iter_000002.png", "iter_000008.png"]
    assert files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    restored = MixSampleSaver(tmp_path)
    restored.load_state_dict(saver.state_dict())
    assert restored.captured == [2, 8]


def test_unfired_mixes_are_skipped_and_cutmix_has_no_outlines(tmp_path):
    trainer = make_trainer("self_training", "cutmix", max_epochs=1, n_labeled=4, n_unlabeled=4, prob=1.0)
    saver = MixSampleSaver(tmp_path, fractions=(0.5,))
    saver.attach(trainer)
    trainer.run()
    assert not list(tmp_path.glob("*.png"))
    # points that round to the same iteration count once
    trainer = make_trainer("self_training", "adamix", max_epochs=1, n_labeled=4, n_unlabeled=4, prob=1.0)
    saver = MixSampleSaver(tmp_path / "dedup", fractions=(0.1, 0.2, 0.5))  # 2 iterations: 1, 1 (0.2 * 2), 1
    saver.attach(trainer)
    trainer.run()
    assert saver.captured == [1]
    with pytest.raises(ValueError, match="stream"):
        MixSampleSaver(tmp_path, stream="aux")
