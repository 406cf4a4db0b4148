# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""SemiSupervisedTrainer: every paradigm x mix trains end to end (2D and 3D), semantics, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from monai.data import Dataset

from adamix_monai.data import make_loader
from adamix_monai.engines import PARADIGMS, SemiSupervisedTrainer, ema_decay, ema_update
from adamix_monai.handlers.logs import step_scalars
from adamix_monai.losses import MaskedDiceCELoss
from adamix_monai.transforms import AdaMix, MixMode
from tests.helpers.ssl_fixtures import make_trainer, synthetic_items, views

MIXES = [m.value for m in MixMode]


def weights(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])


@pytest.mark.parametrize("paradigm", PARADIGMS)
@pytest.mark.parametrize("mix", MIXES)
def test_every_paradigm_and_mix_trains_in_2d(paradigm, mix):
    trainer = make_trainer(paradigm, mix, max_epochs=1, prob=1.0)
    before = [weights(s) for s in trainer.students]
    trainer.run()
    assert isinstance(trainer.state.output, list) and len(trainer.state.output) == 1  # MONAI's decollated form
    out = step_scalars(trainer.state.output)  # the scalars as the loggers read them (the step keeps 0-d tensors)
    assert trainer.state.iteration == 4
    assert all(math.isfinite(out[k]) for k in ("loss", "loss_s", "loss_u", "mask_ratio"))
    for s, w in zip(trainer.students, before):
        assert not torch.equal(weights(s), w)  # every student learned
    if paradigm == "supervised":
        assert out["loss"] == out["loss_s"] and out["loss_u"] == 0.0
    else:
        assert out["loss"] == pytest.approx((out["loss_s"] + out["loss_u"]) / 2, rel=1e-5)
        assert 0.0 <= out["mask_ratio"] <= 1.0
    n_students = 2 if paradigm == "co_training" else 1
    n_streams = 1 if paradigm == "supervised" else 2
    assert len(trainer.mixers) == n_students * n_streams
    if mix in ("umix", "iumix", "adamix_v1"):  # prob 1 and n = K: every image gets K patches
        assert out["adamix_mean_n"] == 4.0
    if mix == "iumix":
        assert out["adamix_hard_fraction"] == 1.0


@pytest.mark.parametrize("paradigm", PARADIGMS)
def test_3d_training(paradigm):
    trainer = make_trainer(paradigm, "adamix", dims=3, size=32, max_epochs=1, prob=1.0)
    trainer.run()
    assert trainer.state.iteration == 4 and math.isfinite(trainer.state.output[0]["loss"])


def test_mean_teacher_tracks_the_student_and_keeps_own_buffers():
    trainer = make_trainer("mean_teacher", "adamix", max_epochs=1)
    trainer.run()
    teacher, student = trainer.teacher, trainer.students[0]
    assert all(not p.requires_grad for p in teacher.parameters())
    # after the first step (decay 0) the teacher equals the student, then moves slowly behind it
    assert not torch.equal(weights(teacher), weights(student))
    assert torch.allclose(weights(teacher), weights(student), atol=0.05)
    # 'own' buffers: the teacher's BatchNorm statistics come from its own passes, not from the student
    t_bn = [b for n, b in teacher.named_buffers() if n.endswith("running_mean")]
    s_bn = [b for n, b in student.named_buffers() if n.endswith("running_mean")]
    assert any(not torch.equal(a, b) for a, b in zip(t_bn, s_bn))


class TestEma:
    def nets(self):
        torch.manual_seed(0)
        a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        b(torch.randn(4, 1, 8, 8))  # give the student non-default running statistics
        return a, b

    def test_decay_schedule(self):
        assert ema_decay(0) == 0.0 and ema_decay(1) == 0.5 and ema_decay(9) == pytest.approx(0.9)
        assert ema_decay(10_000) == 0.99

    @pytest.mark.parametrize("policy", ["own", "copy", "ema"])
    def test_update_and_buffer_policies(self, policy):
        teacher, student = self.nets()
        t0 = [p.clone() for p in teacher.parameters()]
        tb0 = [b.clone() for b in teacher.buffers()]
        ema_update(teacher, student, 0.9, buffers=policy)
        for t, t_old, s in zip(teacher.parameters(), t0, student.parameters()):
            assert torch.allclose(t, 0.9 * t_old + 0.1 * s)
        mean_t, mean_s, mean_t0 = teacher[1].running_mean, student[1].running_mean, tb0[0]
        if policy == "own":
            assert torch.equal(mean_t, mean_t0)
        elif policy == "copy":
            assert torch.equal(mean_t, mean_s) and teacher[1].num_batches_tracked == student[1].num_batches_tracked
        else:
            assert torch.allclose(mean_t, 0.9 * mean_t0 + 0.1 * mean_s)
            assert teacher[1].num_batches_tracked == student[1].num_batches_tracked

    def test_rejects_unknown_policy(self):
        teacher, student = self.nets()
        with pytest.raises(ValueError, match="buffers must be one of"):
            ema_update(teacher, student, 0.5, buffers="average")


def record_forwards(trainer):
    """Hook every model of ``trainer``; returns the list of (model, grad enabled, batch size, train mode) calls."""
    calls = []
    names = {id(s): f"student{k + 1}" for k, s in enumerate(trainer.students)}
    if trainer.teacher is not None:
        names[id(trainer.teacher)] = "teacher"
    for model in trainer._models():
        model.register_forward_hook(
            lambda m, i, o: calls.append((names[id(m)], torch.is_grad_enabled(), i[0].shape[0], m.training))
        )
    return calls


def one_step(paradigm, mix, prob, **kwargs):
    """The forwards of the first training step (after the input check's probe), batch 2 per stream."""
    trainer = make_trainer(paradigm, mix, max_epochs=1, prob=prob, epoch_length=1, **kwargs)
    calls = record_forwards(trainer)
    trainer.run()
    assert calls[0][1] is False and calls[0][3] is False  # the input check: one eval-mode probe
    return calls[1:]


F, T = False, True  # grad disabled / enabled
# the reference's step, batch B = 2: (aux weak views, 2B), (weak views, 2B), (unlabeled strong view, B), then the
# labeled and the unlabeled gradient passes, every model in train mode
REFERENCE_STEPS = {
    ("self_training", "adamix"): [("student1", F, 4), ("student1", F, 4), ("student1", F, 2),
                                  ("student1", T, 2), ("student1", T, 2)],
    ("self_training", "cutmix"): [("student1", F, 4), ("student1", F, 4), ("student1", F, 2),
                                  ("student1", T, 2), ("student1", T, 2)],
    ("self_training", "none"): [("student1", F, 4), ("student1", F, 2), ("student1", T, 2), ("student1", T, 2)],
    ("mean_teacher", "adamix"): [("teacher", F, 4), ("teacher", F, 4), ("student1", F, 2),
                                 ("student1", T, 2), ("student1", T, 2)],
    ("co_training", "adamix"): [("student1", F, 4), ("student2", F, 4), ("student1", F, 4), ("student2", F, 4),
                                ("student1", F, 2), ("student2", F, 2),
                                ("student1", T, 2), ("student1", T, 2), ("student2", T, 2), ("student2", T, 2)],
    ("supervised", "adamix"): [("student1", F, 2), ("student1", F, 2), ("student1", T, 2)],
    ("supervised", "none"): [("student1", T, 2)],
}


@pytest.mark.parametrize("prob", [1.0, 0.0])
@pytest.mark.parametrize("paradigm, mix", list(REFERENCE_STEPS))
def test_default_step_runs_the_reference_passes_in_its_grouping_and_order(paradigm, mix, prob):
    """Every pass of the reference runs every step, whether or not a mix fires, in train mode and in its order."""
    calls = one_step(paradigm, mix, prob)
    assert [c[:3] for c in calls] == REFERENCE_STEPS[(paradigm, mix)]
    assert all(training for *_, training in calls)


def test_no_grad_views_and_their_models_per_paradigm():
    """Which model sees which view: pseudo-labels from the source, labeled ranks from the labeled source."""
    fires = {"labeled1": True, "unlabeled1": True, "labeled2": True, "unlabeled2": True}
    views = ["labeled_aux", "labeled", "unlabeled_aux", "unlabeled", "strong"]
    st = make_trainer("self_training", "adamix", max_epochs=1)
    assert st.no_grad_passes(fires) == [(0, v) for v in views]
    mt = make_trainer("mean_teacher", "adamix", max_epochs=1)  # model 1 is the teacher
    assert mt.no_grad_passes(fires) == [(1, "labeled_aux"), (1, "labeled"), (1, "unlabeled_aux"), (1, "unlabeled"),
                                        (0, "strong")]
    ct = make_trainer("co_training", "adamix", max_epochs=1)  # student k ranks its own labeled patches
    assert sorted(ct.no_grad_passes(fires)) == sorted((k, v) for k in (0, 1) for v in views)
    assert ct.no_grad_passes(fires)[:5] == [(0, "labeled_aux"), (0, "labeled"), (1, "unlabeled_aux"),
                                            (1, "unlabeled"), (0, "strong")]


def test_skip_unused_passes_runs_only_what_the_fired_mixes_read():
    calls = one_step("self_training", "adamix", 1.0, skip_unused_passes=True)
    assert [c[:3] for c in calls[:3]] == [("student1", F, 4), ("student1", F, 4), ("student1", F, 2)]
    calls = one_step("self_training", "cutmix", 1.0, skip_unused_passes=True)  # CutMix reads no labeled views
    assert [c[:3] for c in calls] == [("student1", F, 2), ("student1", F, 2), ("student1", T, 2), ("student1", T, 2)]
    calls = one_step("self_training", "adamix", 0.0, skip_unused_passes=True)  # no mix fires: weak view only
    assert [c[:3] for c in calls] == [("student1", F, 2), ("student1", T, 2), ("student1", T, 2)]


def test_fuse_forwards_runs_one_no_grad_pass_per_model():
    calls = one_step("self_training", "adamix", 1.0, fuse_forwards=True)
    assert [c[:3] for c in calls] == [("student1", F, 10), ("student1", T, 2), ("student1", T, 2)]
    calls = one_step("co_training", "adamix", 0.0, fuse_forwards=True)
    assert [c[:3] for c in calls[:2]] == [("student1", F, 10), ("student2", F, 10)]


def test_grouping_changes_batchnorm_statistics_and_fusion_agrees_without_them():
    """With BatchNorm the grouping matters (why the reference's is the default); without it, it does not."""
    reference = make_trainer("self_training", "adamix", max_epochs=1)
    fused = make_trainer("self_training", "adamix", max_epochs=1, fuse_forwards=True)
    torch.manual_seed(0)
    views = {v: torch.randn(2, 1, 32, 32) for v in ("labeled_aux", "unlabeled_aux", "labeled", "unlabeled", "strong")}
    passes = reference.no_grad_passes({"labeled1": True, "unlabeled1": True})
    for trainer in (reference, fused):
        trainer.students[0].train()
    torch.manual_seed(1)
    a = reference._predict(passes, views)
    torch.manual_seed(1)
    b = fused._predict(passes, views)
    assert not torch.allclose(a[(0, "labeled")], b[(0, "labeled")])
    conv = nn.Conv2d(1, 4, 3, padding=1)  # no BatchNorm, no dropout
    for trainer in (reference, fused):
        trainer.students[0] = conv
    a, b = reference._predict(passes, views), fused._predict(passes, views)
    for key in passes:
        torch.testing.assert_close(a[key], b[key])


def test_reference_step_is_deterministic_and_options_change_the_run():
    """Two default runs are bitwise equal; skipping passes changes the BatchNorm running statistics."""

    def final(**kwargs):
        trainer = make_trainer("self_training", "adamix", max_epochs=1, prob=0.5, **kwargs)
        trainer.run()
        return torch.cat([b.reshape(-1).float() for b in trainer.students[0].buffers()]), weights(trainer.students[0])

    (b1, w1), (b2, w2), (b3, _) = final(), final(), final(skip_unused_passes=True)
    assert torch.equal(b1, b2) and torch.equal(w1, w2)
    assert not torch.equal(b1, b3)


def test_the_trainer_copies_one_configured_mixer_per_stream_and_student():
    trainer = make_trainer("co_training", "cutmix", max_epochs=1, prob=0.25, n_boxes=2, box_area=(0.3, 0.4), topk=3)
    mixers = list(trainer.mixers.values())
    assert list(trainer.mixers) == ["labeled1", "unlabeled1", "labeled2", "unlabeled2"]
    assert len({id(m) for m in mixers}) == 4  # copies, not one shared object
    for m in mixers:
        assert (m.mode, m.grid, m.topk, m.prob, m.n_boxes, m.box_area) == ("cutmix", (4, 4), 3, 0.25, 2, (0.3, 0.4))
    draws = [tuple(m.R.rand(4)) for m in mixers]
    assert len(set(draws)) == 4  # each copy has its own random stream
    # a mode name alone gives AdaMix's defaults
    lab = make_loader(Dataset(synthetic_items(2, 32, 2, 0), transform=views(True)), 2)
    net = nn.Conv2d(1, 4, 3, padding=1)
    named = SemiSupervisedTrainer("cpu", 1, lab, net, torch.optim.SGD(net.parameters(), 0.1), MaskedDiceCELoss(), 4,
                                  unlabeled_data_loader=lab, mix="umix")  # fmt: skip
    defaults = AdaMix()
    for m in named.mixers.values():
        assert (m.mode, m.grid, m.topk, m.prob) == ("umix", defaults.grid, defaults.topk, defaults.prob)


class TestBadInput:
    def test_empty_unlabeled_set(self):
        with pytest.raises(ValueError, match="dataset is empty"):
            make_loader(Dataset([], transform=views(False)), 2)

    def test_labeled_set_smaller_than_the_batch(self):
        trainer = make_trainer("self_training", "adamix", n_labeled=1, batch=2)
        # the labeled sampler repeats the set to num_samples, so check a plain loader of one item
        trainer.data_loader = make_loader(Dataset(synthetic_items(1, 32, 2, 0), transform=views(True)), 2)
        with pytest.raises(ValueError, match="fewer than the batch size 2"):
            trainer.run()

    def test_a_repeated_labeled_set_may_be_smaller_than_the_batch(self):
        trainer = make_trainer("self_training", "adamix", n_labeled=1, batch=2, n_unlabeled=4, max_epochs=1)
        trainer.run()  # one labeled image, repeated to 4 samples per epoch: 2 batches of 2
        assert trainer.state.iteration == 2

    def test_class_count_mismatch(self):
        trainer = make_trainer("self_training", "none")
        trainer.num_classes = 3
        with pytest.raises(ValueError, match="outputs 4 channels but num_classes is 3"):
            trainer.run()

    def test_labels_outside_the_classes(self):
        items = synthetic_items(4, 32, 2, 0)
        items[0]["label"][0, 0, 0] = 7
        trainer = make_trainer("supervised", "none", n_labeled=4)
        trainer.data_loader = make_loader(Dataset(items, transform=views(True)), 4, shuffle=False)
        with pytest.raises(ValueError, match=r"labels hold values in \[0, 7\] but num_classes is 4"):
            trainer.run()

    def test_configuration_errors(self):
        with pytest.raises(ValueError, match="unknown paradigm 'fixmatch'"):
            make_trainer("fixmatch")
        with pytest.raises(ValueError, match="unknown mix 'mixup'"):
            make_trainer("self_training", "mixup")
        lab = make_loader(Dataset(synthetic_items(2, 32, 2, 0), transform=views(True)), 2)
        net = nn.Conv2d(1, 4, 3, padding=1)
        common = dict(
            device="cpu",
            max_epochs=1,
            train_data_loader=lab,
            network=net,
            optimizer=torch.optim.SGD(net.parameters(), 0.1),
            loss_function=MaskedDiceCELoss(),
            num_classes=4,
        )
        with pytest.raises(ValueError, match="needs unlabeled_data_loader"):
            SemiSupervisedTrainer(paradigm="self_training", **common)
        with pytest.raises(ValueError, match="co_training needs network2"):
            SemiSupervisedTrainer(paradigm="co_training", unlabeled_data_loader=lab, **common)


def test_training_logs_console_and_tensorboard(tmp_path):
    import logging

    from adamix_monai.handlers import TRAINING_SCALARS, attach_training_logs

    trainer = make_trainer("self_training", "adamix", max_epochs=1)
    handlers = attach_training_logs(trainer, log_dir=str(tmp_path / "tb"), progress=False)
    assert len(handlers) == 2
    records: list[str] = []
    collector = logging.Handler()
    collector.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = handlers[0].logger
    logger.addHandler(collector)
    try:
        trainer.run()
    finally:
        logger.removeHandler(collector)
    text = "\n".join(records)
    assert sum("loss_u" in r for r in records) == 4  # one line per iteration
    for key in TRAINING_SCALARS:
        assert key in text
    events = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert {"loss_s", "loss_u", "adamix_lambda", "adamix_mean_n", "mask_ratio"} <= set(acc.Tags()["scalars"])
    assert len(acc.Scalars("loss_u")) == 4


def test_best_model_on_validation_is_saved_for_inference(tmp_path):
    from monai.data import DataLoader
    from monai.engines import SupervisedEvaluator
    from monai.handlers import MeanDice, ValidationHandler, from_engine
    from monai.transforms import AsDiscreted, Compose

    from adamix_monai.handlers import BestModelSaver
    from adamix_monai.networks import AdaMixUNet

    trainer = make_trainer("mean_teacher", "adamix", max_epochs=3)
    post = Compose([AsDiscreted(keys="pred", argmax=True, to_onehot=4), AsDiscreted(keys="label", to_onehot=4)])
    dice = MeanDice(include_background=False, output_transform=from_engine(["pred", "label"]))
    evaluator = SupervisedEvaluator(
        device="cpu",
        val_data_loader=DataLoader(Dataset(synthetic_items(3, 32, 2, seed=5)), batch_size=1),
        network=trainer.network,  # the student is validated and saved
        postprocessing=post,
        key_val_metric={"val_dice": dice},
    )
    saver = BestModelSaver(tmp_path / "models", trainer.network)
    saver.attach(evaluator)
    ValidationHandler(validator=evaluator, interval=1, epoch_level=True).attach(trainer)
    trainer.run()
    assert saver.best_epoch >= 1 and saver.best == pytest.approx(evaluator.state.best_metric)
    fresh = AdaMixUNet(2, 1, 4, channels=(4, 8, 16), dropout=(0.05, 0.1, 0.2))
    fresh.load_state_dict(torch.load(tmp_path / "models" / "model.pt", weights_only=True))
