# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""benchmarks/reference_model.py: the timing models of the reference's step run, and do the reference's work."""

from __future__ import annotations

import sys

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.helpers.acdc_fixtures import make_mini_acdc

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
reference_model = pytest.importorskip("reference_model")


@pytest.fixture(scope="module")
def mini_acdc(tmp_path_factory):
    return make_mini_acdc(tmp_path_factory.mktemp("acdc"), patients=4, slices=2, size=48)


def test_the_modelled_step_reads_views_mixes_and_updates_the_network(mini_acdc):
    step = reference_model.ReferenceModelStep(mini_acdc, size=32, batch=2, seed=0)
    step.labeled = step.labeled[:3]  # the mini dataset has 8 slices
    weak, label, a1, a2 = step._item(step.labeled[0])
    assert weak.shape == a1.shape == a2.shape == (1, 32, 32) and label.shape == (32, 32)
    assert weak.dtype == torch.float32 and 0.0 <= float(weak.min()) and float(weak.max()) <= 1.0
    assert set(label.unique().tolist()) <= {0, 1, 2, 3}  # nearest rotation and resize keep the classes
    batch = step._batch(step.unlabeled)
    assert [tuple(t.shape) for t in batch] == [(2, 1, 32, 32), (2, 32, 32), (2, 1, 32, 32), (2, 1, 32, 32)]
    before = [p.detach().clone() for p in step.net.parameters()]
    step()
    assert any(not torch.equal(a, b) for a, b in zip(before, step.net.parameters()))
    # the reference's network: nn.Dropout, out-of-place LeakyReLUs, contiguous
    assert any(type(m) is torch.nn.Dropout and m.p > 0 for m in step.net.modules())
    assert not any(isinstance(m, torch.nn.LeakyReLU) and m.inplace for m in step.net.modules())


def test_the_floor_runs_the_reference_passes():
    from adamix_monai.networks import AdaMixUNet

    calls = []

    def record(module, args, output):
        if isinstance(module, AdaMixUNet):
            calls.append((args[0].shape[0], torch.is_grad_enabled(), args[0].is_contiguous()))

    step = reference_model.network_floor(size=32, batch=2)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        step()
    finally:
        handle.remove()
    # no-grad groups over 2B, 2B and B images, then two gradient passes over B images, contiguous memory
    assert calls == [(4, False, True), (4, False, True), (2, False, True), (2, True, True), (2, True, True)]
