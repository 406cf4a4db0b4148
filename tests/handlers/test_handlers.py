# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""AdaMixHandler on real Ignite engines: the age schedule, logged state, exact resume."""

from __future__ import annotations

import io
import logging

import pytest
import torch
from ignite.engine import Engine, Events
from monai.handlers import StatsHandler

from adamix_monai.handlers import AdaMixHandler
from adamix_monai.schedule import self_paced_age
from adamix_monai.transforms import AdaMixd
from tests.helpers.batches import make_batch


def batch_for(iteration: int) -> dict:
    """A batch that depends only on the iteration, so an interrupted run sees the same data again."""
    batch = make_batch(4, (4, 4), 2, seed=iteration)
    batch["proxy_loss"] = torch.linspace(0.05, 0.9, 4)
    return batch


def make_run(epoch_length: int = 5, max_epochs: int = 4, seed: int = 0, **handler_kwargs):
    labeled = AdaMixd(keys=["image", "label"], grid=4, topk=8, prob=0.5).set_random_state(seed)
    unlabeled = AdaMixd(keys=["image", "label"], grid=4, topk=8, prob=0.5).set_random_state(seed + 1)
    handler = AdaMixHandler([labeled, unlabeled], **handler_kwargs)
    trace: list[tuple] = []

    def step(engine, _):
        outs = [t(batch_for(engine.state.iteration)) for t in (labeled, unlabeled)]
        stats = [t.last_stats for t in (labeled, unlabeled)]
        trace.append(
            (engine.state.iteration, labeled.age, [s.n.tolist() for s in stats], outs[0]["image"].sum().item())
        )
        return stats

    engine = Engine(step)
    handler.attach(engine)
    return engine, handler, trace, (labeled, unlabeled), dict(epoch_length=epoch_length, max_epochs=max_epochs)


def test_age_follows_the_reference_lag():
    engine, handler, trace, _, run = make_run(epoch_length=5, max_epochs=4)  # 20 iterations, t_m = 5
    engine.run(range(5), **run)
    ages = [age for _, age, _, _ in trace]
    assert ages[0] == 1.0  # the first step uses the initial age, as the released code
    for i, age in enumerate(ages[1:], start=2):
        assert age == pytest.approx(self_paced_age(i - 2, 20))
    assert ages[1] == pytest.approx(torch.exp(torch.tensor(-5.0)).item())
    assert ages[-1] == 1.0


def test_lag_zero_and_explicit_run_length():
    engine, handler, trace, _, run = make_run(lag=0, total_iterations=40)
    engine.run(range(5), **run)
    assert [age for _, age, _, _ in trace] == pytest.approx([self_paced_age(i, 40) for i in range(20)])


def test_state_attributes_summarise_both_streams():
    engine, handler, trace, (lab, unl), run = make_run(max_epochs=1)
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda e: seen.append(
            (e.state.adamix_lambda, e.state.adamix_mean_n, e.state.adamix_hard_fraction, e.state.adamix_mixed_fraction)
        ),
    )
    engine.run(range(5), **run)
    for (it, age, ns, _), (lam, mean_n, hard, mixed) in zip(trace, seen):
        flat = ns[0] + ns[1]
        assert lam == age
        assert mean_n == pytest.approx(sum(flat) / len(flat))
        assert mixed == pytest.approx(sum(flat) / len(flat) / 16)
        assert 0.0 <= hard <= 1.0
    assert any(mean_n > 0 for _, mean_n, _, _ in seen)


def test_stats_handler_logs_the_state_attributes():
    engine, handler, _, _, run = make_run(max_epochs=1)
    stream = io.StringIO()
    logger = logging.getLogger("adamix-test-stats")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(stream))
    StatsHandler(
        name="adamix-test-stats",
        iteration_log=False,
        state_attributes=["adamix_lambda", "adamix_mean_n", "adamix_hard_fraction"],
    ).attach(engine)
    engine.run(range(5), **run)
    text = stream.getvalue()
    assert "adamix_lambda" in text and "adamix_mean_n" in text and "adamix_hard_fraction" in text


def test_resume_continues_schedule_and_draws_exactly(tmp_path):
    full_engine, _, full_trace, _, run = make_run(epoch_length=5, max_epochs=4, seed=3)
    full_engine.run(range(5), **run)

    first, handler, trace_a, _, _ = make_run(epoch_length=5, max_epochs=4, seed=3)
    ckpt = tmp_path / "ckpt.pt"

    @first.on(Events.EPOCH_COMPLETED(once=2))
    def save_and_stop(engine):
        torch.save({"engine": engine.state_dict(), "adamix": handler.state_dict()}, ckpt)
        engine.terminate()

    first.run(range(5), **run)
    assert len(trace_a) == 10

    # a fresh process: new transforms with a different seed, restored from the checkpoint (no code execution)
    second, handler_b, trace_b, _, _ = make_run(epoch_length=5, max_epochs=4, seed=99)
    state = torch.load(ckpt, weights_only=True)
    second.load_state_dict(state["engine"])
    handler_b.load_state_dict(state["adamix"])
    second.run(range(5))
    assert trace_a + trace_b == full_trace


def test_bad_configuration():
    with pytest.raises(ValueError, match="at least one"):
        AdaMixHandler([])
    with pytest.raises(ValueError, match="no set_age"):
        AdaMixHandler([object()])
    with pytest.raises(ValueError, match="lag must be >= 0"):
        AdaMixHandler(AdaMixd(keys=["image"]), lag=-1)
    with pytest.raises(ValueError, match="ramp_fraction"):
        AdaMixHandler(AdaMixd(keys=["image"]), total_iterations=10, ramp_fraction=2.0)
    handler = AdaMixHandler([AdaMixd(keys=["image"])])
    with pytest.raises(ValueError, match="2 transform states but the handler drives 1"):
        handler.load_state_dict({"rng_states": [{}, {}]})
