# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""One semi-supervised trainer for every paradigm and every mix strategy.

The paradigm (``supervised``, ``self_training``, ``mean_teacher``, ``co_training``) decides which model gives
pseudo-labels and confidence maps; the mix (``none``, ``cutmix``, ``umix``, ``iumix``, ``adamix_v1``,
``adamix_v2``, ``adamix``) decides how strong views are mixed with auxiliary ones. The two choices are
independent: one code path serves all 28 combinations. Semantics follow the released AdaMix code
(``docs/algorithm.md`` section 3): weak views give pseudo-labels and confidence, strong views get mixed,
the unlabeled loss keeps pixels whose *mixed* confidence reaches ``threshold``, and ``loss = (L_s + L_u) / 2``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
from monai.data import MetaTensor
from monai.engines import SupervisedTrainer
from monai.engines.utils import IterationEvents
from monai.engines.workflow import Workflow
from monai.utils import IgniteInfo, min_version, optional_import
from torch.nn.parallel import DistributedDataParallel

from adamix_monai.data.loaders import LoaderStream, derive_loader, resume_epoch
from adamix_monai.engines.ema import ema_decay, ema_update
from adamix_monai.handlers.adamix import AdaMixHandler
from adamix_monai.networks.dropout import CHANNELS_LAST, use_fast_dropout
from adamix_monai.schedule import proxy_dice_loss
from adamix_monai.transforms import AdaMix, MixMode

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")

__all__ = ["NO_GRAD_GROUPS", "PARADIGMS", "SemiSupervisedTrainer"]

PARADIGMS = ("supervised", "self_training", "mean_teacher", "co_training")

#: The no-grad views of one step, grouped and ordered as the reference code runs them: (1) the labeled-aux and
#: unlabeled-aux weak views, (2) the labeled and unlabeled weak views, (3) the unlabeled strong view (the
#: student's, for the unlabeled proxy loss). Each group is one forward per model over the concatenated views,
#: so BatchNorm (in train mode) normalises each group with its own batch statistics.
NO_GRAD_GROUPS: tuple[tuple[str, ...], ...] = (("labeled_aux", "unlabeled_aux"), ("labeled", "unlabeled"), ("strong",))
_GROUP_OF = {view: (g, i) for g, group in enumerate(NO_GRAD_GROUPS) for i, view in enumerate(group)}
#: The streams' ids, as the bundles give them to ``make_loader`` (and as ``device_views`` seeds them).
_STREAM_IDS = {"labeled": 0, "labeled_aux": 1, "unlabeled": 2, "unlabeled_aux": 3}


def _plain(x: Any) -> torch.Tensor:
    return x.as_tensor() if isinstance(x, MetaTensor) else torch.as_tensor(x)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


class _TwoPass(nn.Module):
    """Runs a network on the mixed labeled and the mixed unlabeled batch in one ``forward`` call.

    Two separate passes keep the BatchNorm statistics of the two batches apart (as the reference code does);
    putting them in one ``forward`` lets ``DistributedDataParallel`` see one forward per backward.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.network(_plain(x)) for x in batches)  # plain tensors: what torch.compile traces


@dataclass
class _Views:
    """One batch on the device: its weak view, its strong view (the weak one when absent), its label if any."""

    weak: torch.Tensor
    strong: torch.Tensor
    label: torch.Tensor | None = None


@dataclass
class _StepBatches:
    """The batches of one step; those the paradigm or the mix does not use are None."""

    labeled: _Views
    labeled_aux: _Views | None
    unlabeled: _Views | None
    unlabeled_aux: _Views | None


class _Logits:
    """The no-grad logits of one step, looked up by model and view."""

    def __init__(self, by_pass: Mapping[tuple[int, str], torch.Tensor], models: Sequence[nn.Module]) -> None:
        self.by_pass, self.models = by_pass, list(models)

    def of(self, model: nn.Module, view: str) -> torch.Tensor:
        """The logits of ``model`` on ``view`` (``labeled``, ``labeled_aux``, ``unlabeled``, ...)."""
        return self.by_pass[(next(i for i, m in enumerate(self.models) if m is model), view)]


@dataclass
class _Mixed:
    """One student's inputs of the gradient passes: ``(image, target)`` pairs and the unlabeled threshold mask."""

    labeled: tuple[torch.Tensor, torch.Tensor]
    unlabeled: tuple[torch.Tensor, torch.Tensor] | None = None
    mask: torch.Tensor | None = None


class SemiSupervisedTrainer(SupervisedTrainer):
    """Semi-supervised segmentation trainer (self-training, mean teacher, co-training) with AdaMix or a baseline mix.

    It keeps MONAI's ``SupervisedTrainer`` interface, events and handlers: the labeled loader drives the engine
    (so ``train#dataset#data`` overrides, as MONAI Label makes them, still work); the unlabeled loader and the
    auxiliary loaders (independently shuffled copies of the labeled and unlabeled loaders, made with
    :func:`~adamix_monai.data.derive_loader` when not given) are cycled inside.

    Each batch is a dictionary with the weak view under ``image_key``, the strong view (the same geometry plus
    photometric changes) under ``strong_key`` (the weak view is used when it is absent), and, for labeled
    batches, the label under ``label_key``.

    The AdaMix transforms (one per stream and per student) and their :class:`~adamix_monai.handlers.AdaMixHandler`
    are made by the trainer and attached to it: ``trainer.mixers``, ``trainer.adamix_handler``.
    ``trainer.state.output`` is MONAI's decollated form, a list whose one item holds ``loss``, ``loss_s``,
    ``loss_u``, ``mask_ratio`` (the fraction of unlabeled pixels kept by the threshold), ``adamix_lambda``,
    ``adamix_mean_n``, ``adamix_hard_fraction`` and ``lr``: MONAI's own handler settings read it as they read a
    ``SupervisedTrainer``'s (``from_engine(["loss"], first=True)``, e.g. ``--tracking mlflow``), and
    :func:`~adamix_monai.handlers.attach_training_logs` logs all of them.

    Args:
        device: the device.
        max_epochs: epochs over the labeled loader.
        train_data_loader: labeled loader (drives the engine).
        network: the student (a plain module; it is wrapped in ``DistributedDataParallel`` here when
            ``torch.distributed`` is initialised).
        optimizer: the student's optimizer.
        loss_function: the criterion ``f(logits, target, mask=None)``, e.g.
            :class:`~adamix_monai.losses.MaskedDiceCELoss`.
        num_classes: number of classes (checked against the network and the labels before training).
        unlabeled_data_loader: unlabeled loader (all training images in the reference protocol); required by
            every paradigm but ``supervised``.
        paradigm: one of ``supervised``, ``self_training``, ``mean_teacher``, ``co_training``.
        mix: the mix: a configured :class:`~adamix_monai.transforms.AdaMix` (its mode, grid, ``topk``, ``prob``
            and CutMix boxes), or a :class:`~adamix_monai.transforms.MixMode` name for an ``AdaMix`` with default
            settings. Every stream and student gets its own copy, seeded from ``mix_seed``.
        labeled_aux_data_loader, unlabeled_aux_data_loader: auxiliary loaders; derived from the main loaders
            when None.
        threshold: confidence threshold ``tau`` of the unlabeled loss.
        ema_decay: the mean teacher's maximum decay.
        ema_buffers: teacher buffer policy (``own``, ``copy``, ``ema``), see :func:`~adamix_monai.engines.ema_update`.
        teacher: the mean teacher; default a deep copy of ``network`` (the first EMA step copies the student).
        network2, optimizer2: the second student and its optimizer (co-training).
        ramp_fraction: fraction of training over which the age λ ramps (see
            :class:`~adamix_monai.handlers.AdaMixHandler`).
        mix_seed: seed of the mixing transforms' random states.
        fuse_forwards: speed option, off by default. Run all no-grad views of one model as ONE forward over
            their concatenation (fewer, larger kernels). With BatchNorm in train mode the batch statistics then
            span every view, so confidences, pseudo-labels and the threshold mask change (about 12% of the mask's
            pixels in one real ACDC step); the default runs the reference code's three groups (see
            :data:`NO_GRAD_GROUPS`).
        skip_unused_passes: speed option, off by default. Skip the no-grad views nothing reads in this step (a mix
            whose ``prob`` draw failed, CutMix's labeled views, the strong view when no proxy loss is needed). The
            reference runs every pass every step; each train-mode pass also moves the BatchNorm running
            statistics that validation uses, so skipping changes the run (not only its speed).
        channels_last: run networks and inputs in the channels-last memory format (faster convolutions with
            oneDNN on CPUs and with tensor cores under AMP). Without dropout the step is the default's up to float
            rounding (``tests/engines/test_speed_options.py``); with dropout the masks are drawn in memory order,
            so the run is another draw of the same distribution, not the same run.
        fast_dropout: speed option, off by default. Replace the networks' ``nn.Dropout`` layers by
            :class:`~adamix_monai.networks.FastDropout`, whose masks cost a fraction of ``bernoulli_``'s on CPUs
            (the same keep probability to within ``2**-17``, the same scaling; other random bits, so another draw
            of the same run, not the same numbers).
        device_views: make the weak and strong views of each batch on the training device (``views="device"``):
            a callable ``(batch, stream=, position=) -> batch`` such as
            :class:`~adamix_monai.data.device_views.BatchViews2d`, given the loader's resized images (and labels)
            on the device; the loaders then only load and resize. None (default): the loaders' batches already
            hold both views (``views="workers"``).
        image_key, strong_key, label_key: batch keys.
        kwargs: further ``SupervisedTrainer`` arguments (``epoch_length``, ``train_handlers``, ``amp``, ...).

    Raises:
        ValueError: on an unknown paradigm or mix, or missing loaders or networks for the paradigm.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Any,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_function: Callable,
        num_classes: int,
        unlabeled_data_loader: Any = None,
        paradigm: str = "self_training",
        mix: str | AdaMix = "adamix",
        labeled_aux_data_loader: Any = None,
        unlabeled_aux_data_loader: Any = None,
        threshold: float = 0.95,
        ema_decay: float = 0.99,
        ema_buffers: str = "own",
        teacher: nn.Module | None = None,
        network2: nn.Module | None = None,
        optimizer2: torch.optim.Optimizer | None = None,
        ramp_fraction: float = 0.25,
        mix_seed: int = 0,
        fuse_forwards: bool = False,
        skip_unused_passes: bool = False,
        channels_last: bool = False,
        fast_dropout: bool = False,
        device_views: Callable[..., Mapping[str, Any]] | None = None,
        image_key: str = "image",
        strong_key: str = "image_strong",
        label_key: str = "label",
        **kwargs: Any,
    ) -> None:
        if paradigm not in PARADIGMS:
            raise ValueError(f"SemiSupervisedTrainer: unknown paradigm '{paradigm}'; expected one of {PARADIGMS}.")
        if not isinstance(mix, AdaMix):
            try:
                mix = AdaMix(mode=MixMode(mix))
            except ValueError:
                raise ValueError(
                    f"SemiSupervisedTrainer: unknown mix '{mix}'; expected an AdaMix or one of "
                    f"{[m.value for m in MixMode]}."
                ) from None
        self.mix_mode = mix.mode
        if paradigm != "supervised" and unlabeled_data_loader is None:
            raise ValueError(f"SemiSupervisedTrainer: paradigm '{paradigm}' needs unlabeled_data_loader.")
        if paradigm == "co_training" and (network2 is None or optimizer2 is None):
            raise ValueError("SemiSupervisedTrainer: co_training needs network2 and optimizer2 (the second student).")
        kwargs.setdefault("decollate", False)
        self.distributed = dist.is_available() and dist.is_initialized()
        plain = _unwrap(network)
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            train_data_loader=train_data_loader,
            network=plain,
            optimizer=optimizer,
            loss_function=loss_function,
            **kwargs,
        )
        self.paradigm, self.num_classes, self.threshold = paradigm, int(num_classes), float(threshold)
        self.image_key, self.strong_key, self.label_key = image_key, strong_key, label_key
        self.fuse_forwards = bool(fuse_forwards)
        self.skip_unused_passes = bool(skip_unused_passes)
        self.channels_last = bool(channels_last)
        self.fast_dropout = bool(fast_dropout)
        self.device_views = device_views
        self.ema_decay_max, self.ema_buffers = float(ema_decay), ema_buffers

        self.students: list[nn.Module] = [plain]
        self.optimizers: list[torch.optim.Optimizer] = [optimizer]
        if paradigm == "co_training":
            self.students.append(_unwrap(network2).to(self.state.device))  # type: ignore[arg-type]
            self.optimizers.append(optimizer2)  # type: ignore[arg-type]
        self.teacher: nn.Module | None = None
        if paradigm == "mean_teacher":
            self.teacher = (teacher if teacher is not None else copy.deepcopy(plain)).to(self.state.device)
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        for model in [*self.students] + ([self.teacher] if self.teacher is not None else []):
            if self.channels_last:
                model.to(memory_format=self._memory_format(plain))
            if self.fast_dropout:
                use_fast_dropout(model)
        passes = [_TwoPass(s) for s in self.students]
        if self.distributed:
            ids = [self.state.device] if torch.device(self.state.device).type == "cuda" else None
            passes = [DistributedDataParallel(p, device_ids=ids) for p in passes]  # type: ignore[misc]
        self.grad_passes = passes

        # streams: the engine iterates the labeled loader itself; the others are cycled here
        self.streams: dict[str, LoaderStream] = {}
        uses_aux = self.mix_mode != MixMode.NONE
        if uses_aux:
            self.streams["labeled_aux"] = LoaderStream(
                "labeled-aux", labeled_aux_data_loader or derive_loader(train_data_loader, 1)
            )
        if paradigm != "supervised":
            self.streams["unlabeled"] = LoaderStream("unlabeled", unlabeled_data_loader)
            if uses_aux:
                self.streams["unlabeled_aux"] = LoaderStream(
                    "unlabeled-aux", unlabeled_aux_data_loader or derive_loader(unlabeled_data_loader, 3)
                )

        # one AdaMix per stream and per student, all driven by one schedule handler
        self.mixers: dict[str, AdaMix] = {}
        for k in range(len(self.students)):
            for stream in ("labeled", "unlabeled") if paradigm != "supervised" else ("labeled",):
                mixer = copy.deepcopy(mix)
                mixer.set_random_state(seed=mix_seed + 7919 * len(self.mixers))
                self.mixers[f"{stream}{k + 1}"] = mixer
        self.adamix_handler = AdaMixHandler(list(self.mixers.values()), ramp_fraction=ramp_fraction)
        self.adamix_handler.attach(self, collect=False)  # collected inside the step, into the output
        self.add_event_handler(Events.STARTED, self._on_started)
        self.add_event_handler(Events.EPOCH_STARTED, self._on_epoch_started)
        self.scaler: torch.amp.GradScaler | None = None
        self.last_mixed: dict[str, Any] = {}

    @property
    def network2(self) -> nn.Module | None:
        """The second student (co-training), else None."""
        return self.students[1] if len(self.students) > 1 else None

    def _source(self, k: int) -> nn.Module:
        """The model whose weak-view predictions give student ``k`` its pseudo-labels and confidence.

        Self-training: the student itself; mean teacher: the teacher; co-training: the other student.
        """
        if self.teacher is not None:
            return self.teacher
        return self.students[(k + 1) % len(self.students)]

    def _labeled_source(self, k: int) -> nn.Module:
        """The model that ranks student ``k``'s labeled patches: the teacher (mean teacher) or the student."""
        return self.teacher if self.teacher is not None else self.students[k]

    # ---------------------------------------------------------------------------------------------------
    # checkpoint support
    def checkpoint_objects(self) -> dict[str, Any]:
        """Everything a checkpoint needs to continue this run bit for bit (objects with ``state_dict``).

        The engine (iteration, epoch length, max epochs), students, teacher, optimizers, the AdaMix schedule and
        random states, and the AMP grad scaler; pair it with :class:`~adamix_monai.handlers.ResumableCheckpoint`,
        which adds the global random states.
        """
        objects: dict[str, Any] = {
            "trainer": self,
            "network": self.students[0],
            "optimizer": self.optimizers[0],
            "adamix": self.adamix_handler,
        }
        if len(self.students) > 1:
            objects.update(network2=self.students[1], optimizer2=self.optimizers[1])
        if self.teacher is not None:
            objects["teacher"] = self.teacher
        if self.amp and torch.device(self.state.device).type == "cuda":
            if self.scaler is None:
                self.scaler = torch.amp.GradScaler("cuda")
            objects["scaler"] = self.scaler
        return objects

    def run(self) -> None:  # type: ignore[override]
        """Train; a second call continues from the current state."""
        if self.amp and torch.device(self.state.device).type == "cuda" and self.scaler is None:
            self.scaler = torch.amp.GradScaler("cuda")
        Workflow.run(self)  # not Trainer.run, which makes a deprecated torch.cuda.amp.GradScaler

    # ---------------------------------------------------------------------------------------------------
    # checks and stream positions
    def _on_started(self, engine: Any) -> None:
        if self.state.iteration == 0:
            self._check_inputs()
        for mixer in self.mixers.values():  # the value checks of the mixes run until each mix has run once
            mixer.check_values = True

    def _on_epoch_started(self, engine: Any) -> None:
        resume_epoch(self.data_loader, self.state.epoch, self.state.iteration, self.state.epoch_length)

    def _check_inputs(self) -> None:
        """Clear errors before the first step: data sizes, network output channels, label values."""
        loader = self.data_loader
        size = len(getattr(loader, "dataset", []) or [])
        sampler = getattr(loader, "sampler", None)
        samples = len(sampler) if sampler is not None and hasattr(sampler, "__len__") else size  # repeats count
        batch_size = getattr(loader, "batch_size", None)
        if batch_size and samples and samples < batch_size and getattr(loader, "drop_last", False):
            raise ValueError(
                f"SemiSupervisedTrainer: an epoch of the labeled loader has {samples} samples ({size} items), fewer "
                f"than the batch size {batch_size} (with drop_last no batch can be formed); lower the batch size, "
                "add labeled data or repeat it (make_loader's num_samples)."
            )
        if len(loader) == 0:
            raise ValueError("SemiSupervisedTrainer: the labeled loader yields no batch (is the labeled set empty?).")
        for stream in self.streams.values():
            dataset = getattr(stream.loader, "dataset", None)
            if dataset is not None and len(dataset) == 0:
                raise ValueError(f"SemiSupervisedTrainer: the {stream.name} set is empty.")
        probe = next(iter(loader))
        image = _plain(probe[self.image_key]).to(self.state.device)
        was_training = self.students[0].training
        self.students[0].eval()
        with torch.no_grad():
            channels = self.students[0](image[:1]).shape[1]
        self.students[0].train(was_training)
        if channels != self.num_classes:
            raise ValueError(
                f"SemiSupervisedTrainer: the network outputs {channels} channels but num_classes is "
                f"{self.num_classes}; set the network's out_channels to the number of classes."
            )
        self._check_labels(probe[self.label_key])

    def _check_labels(self, label: torch.Tensor) -> None:
        lo, hi = (int(v) for v in torch.aminmax(label))
        if lo < 0 or hi >= self.num_classes:
            raise ValueError(
                f"SemiSupervisedTrainer: labels hold values in [{lo}, {hi}] but num_classes is {self.num_classes}; "
                f"expected class indices in [0, {self.num_classes})."
            )

    # ---------------------------------------------------------------------------------------------------
    # one step
    @staticmethod
    def _memory_format(model: nn.Module) -> torch.memory_format:
        convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
        return torch.channels_last_3d if convs and isinstance(convs[0], nn.Conv3d) else torch.channels_last

    def _views(self, batch: Mapping[str, Any], stream: str, position: int) -> _Views:
        """One loader batch on the device as weak view, strong view and label (labeled streams).

        With ``device_views`` the loader's batch holds resized images only, and both views are made here, on the
        device, seeded by the stream and the batch's position in the run. Label values are checked on the
        loader's (host) tensor, so the check never waits for the device.
        """
        label = batch.get(self.label_key) if stream.startswith("labeled") else None
        if label is not None:
            self._check_labels(_plain(label))
        if self.device_views is not None:
            batch = self._device_views(batch, label, stream, position)
        weak = _plain(batch[self.image_key]).to(self.state.device, non_blocking=self.non_blocking)
        strong = batch.get(self.strong_key)
        strong = weak if strong is None else _plain(strong).to(self.state.device, non_blocking=self.non_blocking)
        if self.channels_last:
            fmt = CHANNELS_LAST[weak.ndim]
            weak, strong = weak.contiguous(memory_format=fmt), strong.contiguous(memory_format=fmt)
        if label is None:
            return _Views(weak, strong)
        label = _plain(batch[self.label_key]).to(self.state.device, non_blocking=self.non_blocking).long()
        return _Views(weak, strong, label.unsqueeze(1) if label.ndim == weak.ndim - 1 else label)

    def _device_views(self, batch: Mapping[str, Any], label: Any, stream: str, position: int) -> Mapping[str, Any]:
        """Both views of a loader batch of resized images, made on the device by ``device_views``."""
        to_device = {"non_blocking": self.non_blocking}
        moved = {self.image_key: _plain(batch[self.image_key]).to(self.state.device, **to_device)}
        if label is not None:
            moved[self.label_key] = _plain(label).to(self.state.device, **to_device)
        shape_key = getattr(self.device_views, "shape_key", None)
        if shape_key is not None and shape_key in batch:
            moved[shape_key] = _plain(batch[shape_key])
        return self.device_views(moved, stream=_STREAM_IDS[stream], position=position)  # type: ignore[misc]

    def _models(self) -> list[nn.Module]:
        """Every model of the run: the students, then the teacher."""
        return [*self.students] + ([self.teacher] if self.teacher is not None else [])

    def no_grad_passes(self, fires: Mapping[str, bool]) -> list[tuple[int, str]]:
        """The no-grad views of one step as ``(model index, view)`` (indices into students then teacher).

        Views: ``labeled_aux``, ``unlabeled_aux``, ``labeled``, ``unlabeled`` (weak views) and ``strong`` (the
        unlabeled strong view). Which model sees which view follows the paradigm: pseudo-labels and unlabeled
        confidences come from :meth:`_source`, labeled confidences from :meth:`_labeled_source`, the strong view
        from the student itself. By default every view the reference runs is returned, whether or not a mix fires;
        with ``skip_unused_passes`` only those the fired mixes read.

        Args:
            fires: per mixer name (``labeled1``, ``unlabeled1``, ...), whether its ``prob`` draw succeeded.
        """
        models = self._models()
        mixing, semi = self.mix_mode != MixMode.NONE, self.paradigm != "supervised"
        wanted: list[tuple[nn.Module, str, bool]] = []  # (model, view, read by this step)
        for k, student in enumerate(self.students):
            lab_mixer = self.mixers[f"labeled{k + 1}"]
            ranks_labeled = lab_mixer.needs_confidence and fires[f"labeled{k + 1}"]
            if mixing:
                wanted.append((self._labeled_source(k), "labeled_aux", ranks_labeled))
            if mixing or semi:  # the labeled weak view is part of the reference's main group
                wanted.append((self._labeled_source(k), "labeled", ranks_labeled))
            if semi:
                unl_mixer, fired = self.mixers[f"unlabeled{k + 1}"], fires[f"unlabeled{k + 1}"]
                if mixing:
                    wanted.append((self._source(k), "unlabeled_aux", fired))
                wanted.append((self._source(k), "unlabeled", True))
                wanted.append((student, "strong", fired and unl_mixer.needs_proxy_loss))
        passes: list[tuple[int, str]] = []
        for model, view, needed in wanted:
            index = next(i for i, m in enumerate(models) if m is model)
            if (needed or not self.skip_unused_passes) and (index, view) not in passes:
                passes.append((index, view))
        return passes

    def _predict(
        self, passes: Sequence[tuple[int, str]], views: Mapping[str, torch.Tensor]
    ) -> dict[tuple[int, str], torch.Tensor]:
        """No-grad logits for each ``(model index, view)`` pass.

        Each model runs one forward per group of :data:`NO_GRAD_GROUPS` (groups in order; models in order within
        a group), over its views of the group concatenated in the group's order; with ``fuse_forwards`` one
        forward per model over all its views.
        """
        models = self._models()

        def batch_key(p: tuple[int, str]) -> tuple[int, ...]:
            group = _GROUP_OF[p[1]][0]
            return (p[0],) if self.fuse_forwards else (group, p[0])

        ordered = sorted(passes, key=lambda p: (*batch_key(p), *_GROUP_OF[p[1]]))
        logits: dict[tuple[int, str], torch.Tensor] = {}
        device_type = torch.device(self.state.device).type
        with torch.no_grad(), torch.autocast(device_type, enabled=bool(self.amp)):
            for _, group in itertools.groupby(ordered, key=batch_key):  # one forward per (group,) model
                chunk = list(group)
                inputs = [views[view] for _, view in chunk]
                out = models[chunk[0][0]](torch.cat(inputs) if len(inputs) > 1 else inputs[0]).float()
                logits.update(zip(chunk, out.split([x.shape[0] for x in inputs])))
        return logits

    def _sync_buffers(self) -> None:
        """Give every rank rank 0's buffers (BatchNorm statistics) after each step.

        Parameters stay in sync through DDP's gradient all-reduce, but the no-grad passes and the teacher run
        outside DDP and update running statistics from each rank's own shard; without this, ranks would validate
        and save slightly different models.
        """
        modules = [*self.students] + ([self.teacher] if self.teacher is not None else [])
        buffers = [b for m in modules for b in m.buffers()]
        if buffers:
            for b in buffers:
                dist.broadcast(b, src=0)

    @staticmethod
    def _confidence(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        prob = torch.softmax(logits, dim=1)
        conf, pseudo = prob.max(dim=1, keepdim=True)
        return conf, pseudo

    def _iteration(self, engine: Any, batchdata: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """One training step, in the reference code's order (``docs/algorithm.md`` section 3.1)."""
        if batchdata is None:
            raise ValueError("SemiSupervisedTrainer: the labeled loader returned no data.")
        for model in self._models():
            model.train()  # a validation in between leaves the student in eval mode; the teacher predicts in train mode
        batches = self._draw_batches(batchdata, position=int(engine.state.iteration) - 1)
        fires = self._draw_mix_decisions()
        logits = self._no_grad_logits(batches, fires)
        mixed = [self._mix_for_student(k, batches, logits) for k in range(len(self.students))]
        self.last_mixed = {"labeled": mixed[0].labeled, "unlabeled": mixed[0].unlabeled}  # figures; freed next step
        output: dict[str, Any] = {}
        engine.state.output = [output]  # MONAI's decollated form: one item holding the step's scalars
        loss, loss_s, loss_u = self._update(engine, mixed)
        self._after_update(engine)
        output.update(self._step_log(engine, loss, loss_s, loss_u, mixed))
        for mixer in self.mixers.values():  # each checked its values once; later checks would wait for the device
            if mixer.last_stats is not None and mixer.last_stats.applied:
                mixer.check_values = False
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return [output]

    # ---- phase 1: this step's batches ------------------------------------------------------------------------
    def _draw_batches(self, batchdata: Mapping[str, Any], position: int) -> _StepBatches:
        """The labeled batch, and the auxiliary and unlabeled batches the paradigm and mix use (batch ``position``
        of each stream, so a resumed run draws what it would have drawn)."""
        mixing, semi = self.mix_mode != MixMode.NONE, self.paradigm != "supervised"

        def views(stream: str) -> _Views:
            return self._views(self.streams[stream].draw(position), stream, position)

        labeled = self._views(batchdata, "labeled", position)
        labeled_aux = views("labeled_aux") if mixing else None
        unlabeled = views("unlabeled") if semi else None
        unlabeled_aux = views("unlabeled_aux") if semi and mixing else None
        return _StepBatches(labeled, labeled_aux, unlabeled, unlabeled_aux)

    # ---- phase 2: each mixer's decision --------------------------------------------------------------------------
    def _draw_mix_decisions(self) -> dict[str, bool]:
        """Draw each mixer's ``prob`` decision for this step (``labeled1``, ``unlabeled1``, ...: whether it mixes)."""
        return {name: mixer.draw() for name, mixer in self.mixers.items()}

    # ---- phase 3: no-grad logits ---------------------------------------------------------------------------------
    def _no_grad_logits(self, batches: _StepBatches, fires: Mapping[str, bool]) -> _Logits:
        """The no-grad logits of the step's passes (:meth:`no_grad_passes`), grouped as the reference runs them."""
        views = {"labeled": batches.labeled.weak}
        if batches.labeled_aux is not None:
            views["labeled_aux"] = batches.labeled_aux.weak
        if batches.unlabeled is not None:
            views.update(unlabeled=batches.unlabeled.weak, strong=batches.unlabeled.strong)
        if batches.unlabeled_aux is not None:
            views["unlabeled_aux"] = batches.unlabeled_aux.weak
        return _Logits(self._predict(self.no_grad_passes(fires), views), self._models())

    # ---- phase 4: the mixed batches of one student ---------------------------------------------------------------
    def _mix_for_student(self, k: int, batches: _StepBatches, logits: _Logits) -> _Mixed:
        """Student ``k``'s mixed labeled batch (ground truth) and mixed unlabeled batch (pseudo-labels from
        :meth:`_source`, and the threshold mask of the mixed confidence)."""
        lab, lab_aux = batches.labeled, batches.labeled_aux
        mixer = self.mixers[f"labeled{k + 1}"]
        if lab_aux is not None:
            conf = conf_a = loss = None
            if mixer.needs_confidence and mixer.will_mix:
                source = self._labeled_source(k)
                weak, weak_aux = logits.of(source, "labeled"), logits.of(source, "labeled_aux")
                conf, conf_a = self._confidence(weak)[0], self._confidence(weak_aux)[0]
                loss = proxy_dice_loss(weak, lab.label, check=mixer.check_values) if mixer.needs_proxy_loss else None
            mixer.plan(lab.strong, conf, conf_a, loss)
            x_l, y_l = mixer(lab.strong, lab_aux.strong, randomize=False), mixer(lab.label, lab_aux.label, randomize=False)
        else:
            x_l, y_l = lab.strong, lab.label
            mixer.last_stats = None
        if batches.unlabeled is None:
            return _Mixed((x_l, y_l))
        unl, unl_aux = batches.unlabeled, batches.unlabeled_aux
        source, mixer_u = self._source(k), self.mixers[f"unlabeled{k + 1}"]
        conf_u, pseudo_u = self._confidence(logits.of(source, "unlabeled"))
        x_u, y_u, c_u = unl.strong, pseudo_u, conf_u
        if mixer_u.will_mix:
            conf_ua, pseudo_ua = self._confidence(logits.of(source, "unlabeled_aux"))
            loss_u = None
            if mixer_u.needs_proxy_loss:  # the student's strong view, before mixing
                loss_u = proxy_dice_loss(logits.of(self.students[k], "strong"), pseudo_u, check=mixer_u.check_values)
            mixer_u.plan(unl.strong, conf_u, conf_ua, loss_u)
            x_u, y_u, c_u = (mixer_u(x, aux, randomize=False) for x, aux in
                             ((unl.strong, unl_aux.strong), (pseudo_u, pseudo_ua), (conf_u, conf_ua)))  # fmt: skip
        elif unl_aux is not None:
            mixer_u.plan(unl.strong)  # the draw failed: the plan leaves the batch as it is ("not mixed")
        else:
            mixer_u.last_stats = None
        return _Mixed((x_l, y_l), (x_u, y_u), (c_u >= self.threshold).float())

    # ---- phase 5: gradient passes, losses, update ----------------------------------------------------------------
    def _update(self, engine: Any, mixed: Sequence[_Mixed]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Each student's gradient passes (labeled and unlabeled apart), ``loss = (loss_s + loss_u) / 2``, the
        backward, each optimizer's step. Returns ``(loss, loss_s, loss_u)``, detached.

        Without DDP each pass's share of ``loss`` is backpropagated as soon as its loss is computed, which frees
        that pass's activations before the next pass runs: the gradients are those of one backward of ``loss``,
        bit for bit (every term gets the same weight, a power of two, and each parameter the same two
        contributions, added once; float addition is commutative), at the peak memory of one pass instead of all
        of them. Under DDP, whose reducer wants one backward per forward, a student's two passes run in one
        ``forward`` and ``loss`` gets one backward.
        """
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=self.optim_set_to_none)
        joint = self.distributed
        loss, loss_s, loss_u = self._joint_losses(mixed) if joint else self._pass_by_pass_backward(mixed)
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        engine.fire_event(IterationEvents.LOSS_COMPLETED)
        if joint:
            self._backward(loss)
        engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
        for opt in self.optimizers:
            if self.scaler is not None:
                self.scaler.step(opt)
            else:
                opt.step()
        if self.scaler is not None:
            self.scaler.update()
        return loss.detach(), loss_s.detach(), loss_u.detach() if loss_u is not None else None

    def _autocast(self) -> torch.autocast:
        return torch.autocast(torch.device(self.state.device).type, enabled=bool(self.amp))

    def _backward(self, value: torch.Tensor) -> None:
        (self.scaler.scale(value) if self.scaler is not None else value).backward()

    def _joint_losses(self, mixed: Sequence[_Mixed]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Every gradient pass, then ``loss`` with the graphs of all passes (for one backward)."""
        with self._autocast():
            sup_terms, unsup_terms = [], []
            for two_pass, m in zip(self.grad_passes, mixed):
                outs = two_pass(m.labeled[0], m.unlabeled[0]) if m.unlabeled is not None else two_pass(m.labeled[0])
                sup_terms.append(self._loss_term(outs[0], m.labeled[1]))
                if m.unlabeled is not None:
                    unsup_terms.append(self._loss_term(outs[1], m.unlabeled[1], m.mask))
            return _combined(sup_terms, unsup_terms)

    def _loss_term(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """One gradient pass's loss (the unlabeled pass's with its threshold mask)."""
        logits = logits.float()
        return self.loss_function(logits, target) if mask is None else self.loss_function(logits, target, mask)

    def _pass_by_pass_backward(
        self, mixed: Sequence[_Mixed]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Each gradient pass, its loss term and that term's backward, in the joint path's order."""
        students = len(mixed)
        half = 0.5 if mixed[0].unlabeled is not None else 1.0  # loss = (loss_s + loss_u) / 2, or loss_s alone
        weight = half / students  # each term's share of loss: exact (a power of two) for 1 or 2 students
        sup_terms, unsup_terms = [], []
        for two_pass, m in zip(self.grad_passes, mixed):
            network = two_pass.network
            batches = [(m.labeled, None, sup_terms)]
            if m.unlabeled is not None:
                batches.append((m.unlabeled, m.mask, unsup_terms))
            for (images, target), mask, terms in batches:
                with self._autocast():
                    term = self._loss_term(network(_plain(images)), target, mask)
                self._backward(term * weight)
                terms.append(term.detach())
        return _combined(sup_terms, unsup_terms)

    def _after_update(self, engine: Any) -> None:
        """The teacher's EMA step, the ranks' buffer sync (DDP), and the mixers' statistics for this step."""
        if self.teacher is not None:
            step = int(engine.state.iteration) - 1
            ema_update(self.teacher, self.students[0], ema_decay(step, self.ema_decay_max), self.ema_buffers)
        if self.distributed:
            self._sync_buffers()
        self.adamix_handler.collect(engine)

    def _step_log(
        self,
        engine: Any,
        loss: torch.Tensor,
        loss_s: torch.Tensor,
        loss_u: torch.Tensor | None,
        mixed: Sequence[_Mixed],
    ) -> dict[str, Any]:
        """The scalars of ``engine.state.output`` (logged by the stats handlers).

        The losses, the mask ratio and the AdaMix statistics are detached 0-d tensors on the training device:
        converting them here would wait for the device at every step. The loggers convert them at their interval
        (:func:`~adamix_monai.handlers.logs.step_scalars`); ``lr`` and ``adamix_lambda`` are host floats.
        """
        masks = [m.mask for m in mixed if m.mask is not None]
        return {
            "adamix_lambda": float(engine.state.adamix_lambda),
            "adamix_mean_n": _detached(engine.state.adamix_mean_n),
            "adamix_hard_fraction": _detached(engine.state.adamix_hard_fraction),
            "loss": loss.detach(),
            "loss_s": loss_s.detach(),
            "loss_u": loss_u.detach() if loss_u is not None else torch.zeros((), device=loss.device),
            "mask_ratio": torch.stack([m.mean() for m in masks]).mean() if masks else torch.zeros((), device=loss.device),
            "lr": float(self.optimizers[0].param_groups[0]["lr"]),
        }


def _combined(
    sup_terms: Sequence[torch.Tensor], unsup_terms: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(loss, loss_s, loss_u)``: the means over students, ``loss = (loss_s + loss_u) / 2`` (``loss_s`` alone
    without unlabeled terms)."""
    loss_s = torch.stack(list(sup_terms)).mean()
    loss_u = torch.stack(list(unsup_terms)).mean() if unsup_terms else None
    return ((loss_s + loss_u) / 2 if loss_u is not None else loss_s), loss_s, loss_u


def _detached(value: Any) -> Any:
    return value.detach() if isinstance(value, torch.Tensor) else float(value)
