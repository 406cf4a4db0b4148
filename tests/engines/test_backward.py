# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The step's backward pass by pass: the joint backward's gradients bit for bit, one pass's activations at a time."""

from __future__ import annotations

import weakref

import pytest
import torch
from ignite.engine import Events

from tests.helpers.ssl_fixtures import make_trainer


def _one_step(paradigm: str, joint: bool) -> tuple[dict, list[torch.Tensor]]:
    trainer = make_trainer(paradigm, "adamix", max_epochs=1, prob=1.0)
    if joint:  # the DDP path: every pass, then one backward of loss

        def joint_backward(mixed):
            loss, loss_s, loss_u = trainer._joint_losses(mixed)
            trainer._backward(loss)
            return loss, loss_s, loss_u

        trainer._pass_by_pass_backward = joint_backward
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda engine: engine.terminate())
    trainer.run()
    output = trainer.state.output[0] if isinstance(trainer.state.output, list) else trainer.state.output
    scalars = {k: float(v) for k, v in output.items() if torch.is_tensor(v) and v.ndim == 0}
    grads = [p.grad.clone() for s in trainer.students for p in s.parameters()]
    return scalars, grads


@pytest.mark.parametrize("paradigm", ["supervised", "self_training", "mean_teacher", "co_training"])
def test_pass_by_pass_backward_gives_the_joint_backwards_gradients_bit_for_bit(paradigm):
    joint, g_joint = _one_step(paradigm, joint=True)
    split, g_split = _one_step(paradigm, joint=False)
    assert joint == split
    assert len(g_joint) == len(g_split) > 0
    assert all(torch.equal(a, b) for a, b in zip(g_joint, g_split))


@pytest.mark.parametrize("joint", [False, True], ids=["pass-by-pass", "joint"])
def test_each_gradient_pass_frees_its_activations_before_the_next(joint):
    """Counting the activations autograd keeps (saved tensors that are not parameters) when the unlabeled gradient
    pass starts: pass by pass, the labeled pass's are gone; the joint path (DDP) still holds them."""
    trainer = make_trainer("self_training", "adamix", max_epochs=1, prob=1.0)
    if joint:
        trainer._pass_by_pass_backward = lambda mixed: _joint(trainer, mixed)
    network = trainer.students[0]
    params = {id(p) for p in network.parameters()}
    saved: list[weakref.ref] = []
    kept: list[int] = []  # live saved elements at the start of each forward with gradients

    def pack(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in params and t.numel() >= 64:
            saved.append(weakref.ref(t))
        return t

    def before_forward(module, args) -> None:
        if torch.is_grad_enabled():
            kept.append(sum(r().numel() for r in saved if r() is not None))

    after: list[int] = []  # live saved elements at the end of each forward with gradients

    def after_forward(module, args, output) -> None:
        if torch.is_grad_enabled():
            after.append(sum(r().numel() for r in saved if r() is not None))

    network.register_forward_pre_hook(before_forward)
    network.register_forward_hook(after_forward)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda engine: engine.terminate())
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.run()
    assert len(kept) == 2 and kept[0] == 0  # the labeled pass, then the unlabeled pass
    labeled_pass = after[0]
    assert labeled_pass > 0
    if joint:
        assert kept[1] >= labeled_pass
    else:  # only what the step itself still holds (the mixed inputs, the logits) is alive
        assert kept[1] < 0.1 * labeled_pass


def _joint(trainer, mixed):
    loss, loss_s, loss_u = trainer._joint_losses(mixed)
    trainer._backward(loss)
    return loss, loss_s, loss_u
