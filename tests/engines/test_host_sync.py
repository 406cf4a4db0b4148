# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""No host synchronisation in a training step: every read of a tensor's values back to Python is listed here.

On a GPU each such read (``float(t)``, ``t.item()``, ``bool(t)``, ``int(t)``, ``t.cpu()``, ``t.tolist()``, a
boolean-mask index) waits for every queued kernel. The probe wraps those methods and records where in the package
they are called during steps 2..N of a real run on CPU; only reads of host tensors (the loaders' batches and
samplers, the optimizer's step counter, MONAI's numpy conversions in the loader) and the CPU-only dynamic patch count
may remain. The step's scalars stay on the device (the loggers convert them at their interval).
"""

from __future__ import annotations

import collections
import traceback

import pytest
import torch
from ignite.engine import Events

from adamix_monai.mixing import apply_patch_plan, plan_patch_mix
from tests.helpers.ssl_fixtures import make_trainer

_READS = ("item", "__float__", "__int__", "__bool__", "__index__", "tolist", "cpu", "numpy", "nonzero")

#: (file, function) of the reads a step may make, by the function that reads: all of host tensors, or CPU-only
ALLOWED = {
    ("loaders.py", "__iter__"),  # the sampler's indices (host)
    ("semi_supervised.py", "<genexpr>"),  # the label check, on the loader's (host) batch before the transfer
    ("mixing.py", "plan_patch_mix"),  # K = max(n) on CPU only; accelerators use K = topk (tested below)
    ("optimizer.py", "_get_value"),  # torch's optimizer step counter, a host tensor unless capturable
}
#: reads by MONAI's conversions are allowed inside the data pipeline only (the package's frame nearest to them)
ALLOWED_VIA = {("type_conversion.py", "loaders.py")}


class ReadProbe:
    """Records where tensor values are read back to Python while ``active``: the reading function, and the
    package's function nearest to it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sites: collections.Counter = collections.Counter()
        self.active = False
        for name in _READS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(original))

    def _wrap(self, original):
        probe = self

        def read(tensor, *args, **kwargs):
            if probe.active:
                stack = traceback.extract_stack(limit=24)[:-1]
                caller = stack[-1]
                ours = next((f for f in reversed(stack) if "/adamix_monai/" in f.filename), caller)
                name = lambda f: f.filename.rsplit("/", 1)[-1]  # noqa: E731
                probe.sites[(name(caller), caller.name, name(ours))] += 1
            return original(tensor, *args, **kwargs)

        return read

    def unexpected(self) -> dict:
        return {
            site: n
            for site, n in self.sites.items()
            if site[:2] not in ALLOWED and (site[0], site[2]) not in ALLOWED_VIA
        }


@pytest.mark.parametrize(
    "paradigm, mix",
    [("self_training", "adamix"), ("mean_teacher", "adamix"), ("co_training", "cutmix"), ("supervised", "none")],
)
def test_steps_after_the_first_read_no_device_values(monkeypatch, paradigm, mix):
    trainer = make_trainer(paradigm, mix, max_epochs=1, prob=1.0)
    probe = ReadProbe(monkeypatch)
    trainer.add_event_handler(Events.ITERATION_STARTED, lambda e: setattr(probe, "active", e.state.iteration > 1))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: setattr(probe, "active", False))
    trainer.run()
    assert trainer.state.iteration >= 3
    assert probe.unexpected() == {}, probe.unexpected()
    out = trainer.state.output[0]
    assert isinstance(out["loss"], torch.Tensor) and out["loss"].ndim == 0 and not out["loss"].requires_grad
    assert isinstance(out["lr"], float) and isinstance(out["adamix_lambda"], float)


def test_the_first_step_still_checks_the_values():
    """Value checks (NaN confidences or proxy losses) run until each mix has run once, then stop."""
    trainer = make_trainer("self_training", "adamix", max_epochs=1, prob=1.0)
    seen = []
    trainer.add_event_handler(
        Events.ITERATION_STARTED, lambda e: seen.append([m.check_values for m in trainer.mixers.values()])
    )
    trainer.run()
    assert seen[0] == [True, True] and all(flags == [False, False] for flags in seen[1:])


def test_static_patch_plans_read_nothing_and_match_the_dynamic_ones(monkeypatch):
    """The accelerator path (K = topk, all pairs copied, unused ones onto themselves) equals the CPU path."""
    torch.manual_seed(0)
    b, grid, topk = 4, (4, 4), 16
    scores, aux_scores = torch.rand(b, 16), torch.rand(b, 16)
    n, hard = torch.tensor([0, 3, 16, 7]), torch.tensor([True, False, True, False])
    x, aux = torch.rand(b, 2, 32, 32), torch.rand(b, 2, 32, 32)
    labels, aux_labels = torch.randint(0, 4, (b, 1, 32, 32)), torch.randint(0, 4, (b, 1, 32, 32))
    dynamic = plan_patch_mix(scores, aux_scores, n, hard, grid)
    probe = ReadProbe(monkeypatch)
    probe.active = True
    static = plan_patch_mix(scores, aux_scores, n, hard, grid, max_n=topk)
    mixed = apply_patch_plan(x, aux, static, static=True)
    mixed_labels = apply_patch_plan(labels, aux_labels, static, static=True)
    probe.active = False
    assert probe.sites == {}, probe.sites
    assert torch.equal(mixed, apply_patch_plan(x, aux, dynamic))
    assert torch.equal(mixed_labels, apply_patch_plan(labels, aux_labels, dynamic))
    assert torch.equal(mixed[0], x[0])  # n = 0: untouched
