# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Speed options against the reference-exact default step, on CPU: equal, or within a stated float tolerance."""

from __future__ import annotations

import torch
from ignite.engine import Events

from tests.helpers.ssl_fixtures import make_trainer


def _first_step(no_dropout: bool, **options) -> tuple[dict, list[torch.Tensor]]:
    """The step outputs and the student's gradients of one AdaMix-ST step (every mix fires)."""
    trainer = make_trainer("self_training", "adamix", max_epochs=1, prob=1.0, **options)
    if no_dropout:
        for module in trainer.students[0].modules():
            if isinstance(module, torch.nn.modules.dropout._DropoutNd):
                module.p = 0.0
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda engine: engine.terminate())
    trainer.run()
    output = trainer.state.output[0] if isinstance(trainer.state.output, list) else trainer.state.output
    scalars = {k: float(v) for k, v in output.items() if torch.is_tensor(v) and v.ndim == 0}
    return scalars, [p.grad.clone() for p in trainer.students[0].parameters()]


def test_channels_last_is_the_default_step_up_to_float_rounding_without_dropout():
    """Without dropout the channels-last step gives the default's losses within 1e-6 (relative; bit for bit on one
    thread here) and its gradients within 1e-4 of the largest gradient. With dropout the runs differ: the masks are drawn in memory order, so a channels-last
    tensor gets its random numbers at other positions (same distribution, another draw)."""
    default, g_default = _first_step(no_dropout=True)
    fast, g_fast = _first_step(no_dropout=True, channels_last=True)
    assert default.keys() == fast.keys()
    for key in default:
        assert abs(default[key] - fast[key]) <= 1e-6 * max(1.0, abs(default[key])), key
    scale = max(float(g.abs().max()) for g in g_default)
    assert max(float((a - b).abs().max()) for a, b in zip(g_default, g_fast)) < 1e-4 * scale
    with_dropout, _ = _first_step(no_dropout=False)
    fast_dropout, _ = _first_step(no_dropout=False, channels_last=True)
    assert with_dropout["loss"] != fast_dropout["loss"]


def test_fast_dropout_is_the_default_step_given_nn_dropouts_masks(monkeypatch):
    """The trainer's ``fast_dropout`` swaps every nn.Dropout for FastDropout. Fed nn.Dropout's own masks (the same
    ``bernoulli_`` draws), the AdaMix-ST step is the default's bit for bit (losses and gradients): the option
    changes where the masks' random bits come from, nothing else. With its own masks it is another draw."""
    from adamix_monai.networks import FastDropout
    from adamix_monai.networks import dropout as dropout_module

    default, g_default = _first_step(no_dropout=False)
    fast, g_fast = _first_step(no_dropout=False, fast_dropout=True)
    assert default["loss"] != fast["loss"]  # other masks

    def bernoulli_mask(x, keep_prob, generator=None):
        return torch.empty_like(x).bernoulli_(keep_prob, generator=generator).bool()

    monkeypatch.setattr(dropout_module, "keep_mask", bernoulli_mask)
    same, g_same = _first_step(no_dropout=False, fast_dropout=True)
    assert same == default
    assert all(torch.equal(a, b) for a, b in zip(g_default, g_same))
    trainer = make_trainer("self_training", "adamix", max_epochs=1, fast_dropout=True)
    assert sum(isinstance(m, FastDropout) for m in trainer.students[0].modules()) == 5  # 3 encoder + 2 decoder
    assert not any(type(m) is torch.nn.Dropout for m in trainer.students[0].modules())
