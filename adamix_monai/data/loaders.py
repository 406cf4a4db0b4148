# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Samplers and loaders whose order and augmentations are pure functions of (seed, stream, epoch, position).

A training run draws from several loaders (labeled, unlabeled, and their independently shuffled auxiliary
copies). To resume a run bit for bit, wherever it stopped and whatever the number of workers:

* :class:`ResumableSampler` shuffles each epoch with a generator seeded by ``(seed, stream, epoch)``, can start
  an epoch at any position, shards across DDP ranks like ``DistributedSampler``, and yields
  ``(index, sample_seed)`` pairs;
* :class:`SeededDataset` seeds the dataset's random transforms with ``sample_seed`` before producing an item, so
  every augmentation depends only on where the item falls in the run.

:func:`make_loader` builds such a loader; :func:`derive_loader` makes an independently shuffled copy (another
stream) of one, as the auxiliary loaders of AdaMix need. :class:`LoaderStream` cycles a loader inside the trainer
and :func:`resume_epoch` puts a resumed epoch at its position. 2D networks trained on volumes see one slice per
item: :class:`SlicedCacheDataset` turns each volume of a datalist into one item per slice (:func:`expand_slices`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from monai.data import CacheDataset, DataLoader
from monai.transforms import Randomizable
from torch.utils.data import Dataset, Sampler

from adamix_monai.data.io import file_spatial_shape, is_h5

__all__ = [
    "LoaderStream",
    "ResumableSampler",
    "SeededDataset",
    "SlicedCacheDataset",
    "expand_slices",
    "derive_loader",
    "make_loader",
    "resume_epoch",
]

_MIX = 0x9E3779B97F4A7C15


def _seed(*parts: int) -> int:
    """A 31-bit seed from integers (splitmix-style mixing, stable across processes and platforms)."""
    h = 0
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * _MIX & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return int(h & 0x7FFFFFFF)


class ResumableSampler(Sampler):
    """Shuffled (or ordered) sampling that is a pure function of ``(seed, stream, epoch)``.

    Args:
        length: the dataset's length.
        num_samples: samples per epoch over all ranks; larger than ``length`` repeats the dataset (the labeled
            set of AdaMix is repeated to the length of the whole training set), smaller takes a subset.
        shuffle: shuffle each epoch.
        seed: the run's seed.
        stream: distinguishes loaders over the same data (e.g. 0 labeled, 1 labeled-aux).
        rank, world_size: DDP sharding; default from ``torch.distributed`` when initialised, else 0 and 1.
            Each epoch is padded by repetition to a multiple of ``world_size`` (as ``DistributedSampler``).

    Raises:
        ValueError: on an empty dataset or an invalid rank.
    """

    def __init__(
        self,
        length: int,
        num_samples: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        stream: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if length < 1:
            raise ValueError("ResumableSampler: the dataset is empty.")
        distributed = dist.is_available() and dist.is_initialized()
        self.world_size = int(world_size if world_size is not None else (dist.get_world_size() if distributed else 1))
        self.rank = int(rank if rank is not None else (dist.get_rank() if distributed else 0))
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"ResumableSampler: rank {self.rank} is not in [0, {self.world_size}).")
        self.length = int(length)
        self.num_samples = int(num_samples if num_samples is not None else length)
        self.shuffle, self.seed, self.stream = bool(shuffle), int(seed), int(stream)
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        """Samples per epoch on this rank."""
        return math.ceil(self.num_samples / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Start the given (0-based) epoch from its beginning (the ``DistributedSampler`` interface)."""
        self.set_position(epoch, 0)

    def set_position(self, epoch: int, start: int) -> None:
        """The next iterator yields the given 0-based ``epoch`` from this rank's sample ``start`` on."""
        self.epoch, self.start = int(epoch), int(start)

    def order(self, epoch: int) -> torch.Tensor:
        """All ranks' indices of one epoch, padded to a multiple of the world size."""
        reps = math.ceil(self.num_samples / self.length)
        base = torch.arange(self.length).repeat(reps)
        if self.shuffle:
            gen = torch.Generator().manual_seed(_seed(self.seed, self.stream, epoch))
            # shuffle each repetition, so that a repeated set still visits every item once per repetition
            base = torch.cat([torch.randperm(self.length, generator=gen) for _ in range(reps)])
        base = base[: self.num_samples]
        total = len(self) * self.world_size
        if total > len(base):
            base = torch.cat([base, base[: total - len(base)]])
        return base

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, start = self.epoch, self.start
        mine = self.order(epoch)[self.rank :: self.world_size]
        for position in range(start, len(mine)):
            yield int(mine[position]), _seed(self.seed, self.stream, epoch, position * self.world_size + self.rank)
        # a finished pass moves on to the next epoch, so a plain re-iteration does not repeat the same order
        if (self.epoch, self.start) == (epoch, start):
            self.epoch, self.start = epoch + 1, 0


class SeededDataset(Dataset):
    """Wraps a dataset so that each item's random transforms are seeded from the sampler.

    Indexed by ``(index, sample_seed)`` pairs (from :class:`ResumableSampler`), it seeds the wrapped dataset's
    ``transform`` (any MONAI ``Randomizable``, e.g. a ``Compose``) with ``sample_seed`` and returns
    ``dataset[index]``. Plain integer indices pass through unseeded.

    Args:
        dataset: a MONAI ``Dataset``/``CacheDataset`` (or any dataset with an optional ``transform`` attribute).
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, tuple) and len(item) == 2:
            index, sample_seed = item
            transform = getattr(self.dataset, "transform", None)
            if isinstance(transform, Randomizable):
                transform.set_random_state(seed=int(sample_seed))
            return self.dataset[int(index)]
        return self.dataset[item]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int = 0,
    stream: int = 0,
    shuffle: bool = True,
    num_samples: int | None = None,
    num_workers: int = 0,
    drop_last: bool = True,
    **kwargs: Any,
) -> DataLoader:
    """A MONAI ``DataLoader`` over ``SeededDataset(dataset)`` with a :class:`ResumableSampler`.

    Args:
        dataset: the dataset (its ``transform`` gets seeded per item).
        batch_size: batch size per rank.
        seed, stream, shuffle, num_samples: as :class:`ResumableSampler`.
        num_workers: loader workers; results do not depend on it. With workers, they persist across epochs
            (``persistent_workers``: no respawn and re-import at every epoch) unless ``kwargs`` say otherwise.
        drop_last: drop a last incomplete batch.
        kwargs: further ``DataLoader`` arguments (``collate_fn``, ...); ``pin_memory`` defaults to True when CUDA
            is available (page-locked batches, so the trainer's ``non_blocking`` copies overlap the step).

    Returns:
        The loader; its own ``torch.Generator`` keeps iterator creation off the global random stream.
    """
    sampler = ResumableSampler(len(dataset), num_samples=num_samples, shuffle=shuffle, seed=seed, stream=stream)  # type: ignore[arg-type]
    kwargs.setdefault("pin_memory", torch.cuda.is_available())
    if num_workers > 0:
        kwargs.setdefault("persistent_workers", True)
    return DataLoader(
        SeededDataset(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(_seed(seed, stream)),
        **kwargs,
    )


def derive_loader(loader: DataLoader, stream: int) -> DataLoader:
    """An independently shuffled copy of ``loader`` over the same data (another stream of the same run).

    Args:
        loader: a loader made by :func:`make_loader`, or any ``DataLoader``.
        stream: the new stream's id.

    Returns:
        The new loader.
    """
    sampler = loader.sampler
    common = dict(
        batch_size=loader.batch_size,
        num_workers=loader.num_workers,
        drop_last=loader.drop_last,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
    )
    if loader.num_workers > 0:
        common["persistent_workers"] = loader.persistent_workers
    if isinstance(sampler, ResumableSampler):
        new = ResumableSampler(
            sampler.length, sampler.num_samples, sampler.shuffle, sampler.seed, stream, sampler.rank, sampler.world_size
        )
        return DataLoader(
            loader.dataset, sampler=new, generator=torch.Generator().manual_seed(_seed(sampler.seed, stream)), **common
        )
    warnings.warn(
        "derive_loader: the loader has no ResumableSampler; the derived loader shuffles with its own generator, "
        "but a resumed run will not replay the same order. Build loaders with adamix_monai.data.make_loader.",
        stacklevel=2,
    )
    return DataLoader(loader.dataset, shuffle=True, generator=torch.Generator().manual_seed(stream), **common)


class LoaderStream:
    """A loader drawn from cyclically inside a step (the unlabeled and auxiliary loaders of a trainer whose engine
    iterates the labeled loader); batch ``k`` of the run is a function of ``k`` alone.

    The caller gives the position (the engine's iteration) with each draw, so a run restored from a checkpoint
    continues the stream where it stood, whatever order the ``STARTED`` handlers ran in.

    Args:
        name: the stream's name, for messages (``unlabeled``, ``labeled-aux``).
        loader: the loader (a :class:`ResumableSampler` makes the stream resumable at any position).

    Raises:
        ValueError: when the loader yields no batch.
    """

    def __init__(self, name: str, loader: Any) -> None:
        self.name, self.loader = name, loader
        self.length = len(loader)
        if self.length == 0:
            raise ValueError(f"SemiSupervisedTrainer: the {name} loader yields no batch (is its dataset empty?).")
        self._iter: Iterator | None = None
        self._position = -1

    def _start(self, position: int) -> None:
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, ResumableSampler):
            epoch, batch = divmod(position, self.length)
            sampler.set_position(epoch, batch * self.loader.batch_size)
        self._iter = iter(self.loader)

    def draw(self, position: int) -> Any:
        """Batch number ``position`` (0-based) of the run."""
        if self._iter is None or position != self._position + 1:
            self._start(position)
        try:
            batch = next(self._iter)  # type: ignore[arg-type]
        except StopIteration:
            self._start(position)
            batch = next(self._iter)  # type: ignore[arg-type]
        self._position = position
        return batch


def resume_epoch(loader: Any, epoch: int, iteration: int, epoch_length: int | None = None) -> None:
    """Point a loader driven by an engine at the engine's position (at ``EPOCH_STARTED``): a run resumed mid-epoch
    continues the epoch's order where it stopped. A loader without a :class:`ResumableSampler` is left alone.

    Args:
        loader: the engine's loader.
        epoch: the engine's epoch (1-based, as Ignite counts).
        iteration: the engine's iteration count so far.
        epoch_length: iterations per epoch (default ``len(loader)``).
    """
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, ResumableSampler):
        length = epoch_length or len(loader)
        done = iteration - (epoch - 1) * length
        sampler.set_position(epoch - 1, max(done, 0) * loader.batch_size)


def expand_slices(data: Sequence[Mapping[str, Any]], slice_axis: int = -1, image_key: str = "image") -> list[dict]:
    """One item per slice for every 3D (non-h5) image in a datalist; h5 items and 2D images stay one item.

    Args:
        data: the datalist (``[{"image": ..., "label": ...}, ...]``).
        slice_axis: the spatial axis of the files to slice along (the last by default, as ACDC's inference).
        image_key: the key whose file decides the number of slices.

    Returns:
        The expanded datalist; each slice item is the original item plus ``"slice": k``.
    """
    out: list[dict] = []
    for item in data:
        path = item[image_key]
        if is_h5(path) or "slice" in item:
            out.append(dict(item))
            continue
        shape = file_spatial_shape(path)
        if len(shape) < 3:
            out.append(dict(item))
            continue
        out.extend({**item, "slice": k} for k in range(shape[slice_axis]))
    return out


class SlicedCacheDataset(CacheDataset):
    """A MONAI ``CacheDataset`` over the slices of a datalist's volumes (see :func:`expand_slices`), for 2D networks.

    ``data`` may be replaced by any datalist (MONAI Label sets ``train#dataset#data`` to its datastore's NIfTI
    pairs): the expansion happens here, not in the config.

    Args:
        data: the datalist.
        transform: the per-item transform (starting with :class:`LoadCased`).
        slice_axis: the files' spatial axis to slice along.
        kwargs: passed to ``CacheDataset`` (``cache_rate``, ``num_workers``, ``progress``, ...).
    """

    def __init__(
        self, data: Sequence[Mapping[str, Any]], transform: Any = None, slice_axis: int = -1, **kwargs: Any
    ) -> None:
        super().__init__(data=expand_slices(data, slice_axis), transform=transform, **kwargs)
