# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""TailLrDecay: constant, then linear to the final factor over the last part of the run; stateless resume."""

from __future__ import annotations

import pytest
from ignite.engine import Events

from adamix_monai.handlers import TailLrDecay
from adamix_monai.handlers.lr_schedule import tail_decay_factor
from tests.helpers.ssl_fixtures import make_trainer


def test_factor_is_constant_then_linear_to_the_final_value():
    total = 100
    factors = [tail_decay_factor(t, total, 0.2) for t in range(1, total + 1)]
    assert factors[:80] == [1.0] * 80  # iterations 1..80
    assert factors[-1] == 0.0 and factors[89] == pytest.approx(0.5)  # iteration 90: half way down
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    assert tail_decay_factor(100, 100, 0.5, final=0.1) == pytest.approx(0.1)
    assert tail_decay_factor(37, 100, 0.0) == 1.0  # no decay


def test_handler_sets_every_optimizer_from_the_iteration_alone():
    trainer = make_trainer("co_training", "none", max_epochs=2, prob=1.0)  # 4 iterations per epoch
    seen = []
    TailLrDecay(1e-3, decay_fraction=0.5).attach(trainer)
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: seen.append([o.param_groups[0]["lr"] for o in e.optimizers])
    )
    trainer.run()
    expected = [1e-3 * tail_decay_factor(t, 8, 0.5) for t in range(1, 9)]
    assert [s[0] for s in seen] == pytest.approx(expected) and [s[1] for s in seen] == pytest.approx(expected)
    assert seen[-1] == [0.0, 0.0] and trainer.state.output[0]["lr"] == 0.0
    # a run resumed at iteration 5 gets the same rates: nothing but the iteration decides them
    handler = TailLrDecay(1e-3, decay_fraction=0.5)
    assert [handler.lr(t, 8) for t in range(5, 9)] == pytest.approx(expected[4:])


def test_zero_fraction_leaves_the_optimizer_alone():
    trainer = make_trainer("supervised", "none", max_epochs=1)
    TailLrDecay(5.0, decay_fraction=0.0).attach(trainer)
    trainer.run()
    assert trainer.optimizer.param_groups[0]["lr"] == 1e-3


@pytest.mark.parametrize("kwargs", [dict(base_lr=0.0), dict(base_lr=1e-3, decay_fraction=1.5),
                                    dict(base_lr=1e-3, final_factor=-0.1)])
def test_rejects_impossible_values(kwargs):
    with pytest.raises(ValueError, match="TailLrDecay"):
        TailLrDecay(**kwargs)
