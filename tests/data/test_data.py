# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Resumable samplers and seeded datasets."""

from __future__ import annotations

import pytest
import torch
from monai.data import Dataset
from monai.transforms import Compose, RandGaussianNoised

from adamix_monai.data import ResumableSampler, SeededDataset, derive_loader, make_loader


def test_epochs_are_permutations_and_seeded():
    s = ResumableSampler(7, seed=3)
    first = [i for i, _ in s]
    second = [i for i, _ in s]  # a finished pass moves on to the next epoch
    assert sorted(first) == sorted(second) == list(range(7)) and first != second
    assert [i for i, _ in ResumableSampler(7, seed=3)] == first
    assert [i for i, _ in ResumableSampler(7, seed=4)] != first
    assert [i for i, _ in ResumableSampler(7, seed=3, stream=1)] != first


def test_repeats_each_item_once_per_repetition():
    order = ResumableSampler(5, num_samples=13, seed=0).order(0)
    assert len(order) == 13
    assert sorted(order[:5].tolist()) == sorted(order[5:10].tolist()) == list(range(5))


def test_set_position_continues_an_epoch():
    s = ResumableSampler(10, seed=1)
    full = list(s)
    s.set_position(0, 6)
    assert list(s) == full[6:]


def test_shards_cover_the_epoch_once():
    shards = [list(ResumableSampler(10, seed=2, rank=r, world_size=3)) for r in range(3)]
    assert all(len(s) == 4 for s in shards)  # padded to 12
    indices = [i for s in shards for i, _ in s]
    assert set(indices) == set(range(10))
    seeds = [sd for s in shards for _, sd in s]
    assert len(set(seeds)) == 12


def test_seeded_dataset_makes_augmentation_a_function_of_the_sample_seed():
    data = [{"image": torch.zeros(1, 4, 4)} for _ in range(3)]
    ds = SeededDataset(Dataset(data, transform=Compose([RandGaussianNoised(keys="image", prob=1.0)])))
    a, b, c = ds[(1, 42)]["image"], ds[(2, 42)]["image"], ds[(1, 43)]["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert ds[0]["image"].shape == (1, 4, 4)  # plain indices pass through


def test_loaders_do_not_touch_the_global_random_stream_and_derive_streams():
    data = Dataset([{"x": torch.tensor([i])} for i in range(8)])
    loader = make_loader(data, 2, seed=5)
    state = torch.get_rng_state()
    batches = [b["x"].view(-1).tolist() for b in loader]
    assert torch.equal(state, torch.get_rng_state())
    aux = derive_loader(loader, stream=1)
    assert [b["x"].view(-1).tolist() for b in aux] != batches
    assert sorted(sum(batches, [])) == list(range(8))


def test_rejects():
    with pytest.raises(ValueError, match="empty"):
        ResumableSampler(0)
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, 2\)"):
        ResumableSampler(4, rank=2, world_size=2)
