# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Small synthetic 2D/3D training setups for the engine tests (also used by the resume and DDP scripts)."""

from __future__ import annotations

from typing import Any

import torch
from monai.data import Dataset
from monai.transforms import Compose, CopyItemsd, RandFlipd, RandScaleIntensityd

from adamix_monai.data import make_loader
from adamix_monai.engines import SemiSupervisedTrainer
from adamix_monai.losses import MaskedDiceCELoss
from adamix_monai.networks import AdaMixUNet
from adamix_monai.synthetic import cardiac_phantom
from adamix_monai.transforms import AdaMix, MixMode


def synthetic_items(count: int, size: int, dims: int, seed: int, labeled: bool = True) -> list[dict]:
    image, label = cardiac_phantom(count, size, seed)
    items = []
    for i in range(count):
        img, lab = image[i], label[i]
        if dims == 3:  # a thin stack of the same slice, slightly varied
            img = torch.stack([img[0] * (0.9 + 0.05 * d) for d in range(size // 4)])[None]
            lab = lab[0][None].expand(size // 4, -1, -1)[None].clone()
        item = {"image": img}
        if labeled:
            item["label"] = lab
        items.append(item)
    return items


def views(labeled: bool) -> Compose:
    """Weak view: random flip (shared with the label); strong view: the same flip, plus intensity change."""
    keys = ["image", "image_strong", "label"] if labeled else ["image", "image_strong"]
    return Compose(
        [
            CopyItemsd(keys="image", names="image_strong"),
            RandFlipd(keys=keys, prob=0.5, spatial_axis=-1),
            RandScaleIntensityd(keys="image_strong", factors=0.3, prob=0.8),
        ]
    )


def make_trainer(
    paradigm: str = "self_training",
    mix: str = "adamix",
    dims: int = 2,
    size: int = 32,
    batch: int = 2,
    n_labeled: int = 4,
    n_unlabeled: int = 8,
    max_epochs: int = 2,
    seed: int = 0,
    **kwargs: Any,
) -> SemiSupervisedTrainer:
    torch.manual_seed(seed)
    labeled = Dataset(synthetic_items(n_labeled, size, dims, seed), transform=views(True))
    unlabeled = Dataset(synthetic_items(n_unlabeled, size, dims, seed + 1, labeled=False), transform=views(False))
    lab_loader = make_loader(labeled, batch, seed=seed, stream=0, num_samples=n_unlabeled)
    unl_loader = make_loader(unlabeled, batch, seed=seed, stream=2)

    def net() -> torch.nn.Module:
        return AdaMixUNet(dims, 1, 4, channels=(4, 8, 16), dropout=(0.05, 0.1, 0.2))

    network = net()
    extra: dict[str, Any] = {}
    if paradigm == "co_training":
        network2 = net()
        extra = dict(network2=network2, optimizer2=torch.optim.AdamW(network2.parameters(), 1e-3))
    grid = (4, 4) if dims == 2 else (2, 4, 4)
    mix_settings = {key: kwargs.pop(key) for key in ("prob", "n_boxes", "box_area", "box_rule") if key in kwargs}
    topk = kwargs.pop("topk", 4)
    known = mix in [m.value for m in MixMode]  # an unknown name goes to the trainer, whose error tests check
    mixer = AdaMix(mode=mix, grid=grid, topk=topk, **mix_settings) if known else mix
    return SemiSupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=lab_loader,
        network=network,
        optimizer=torch.optim.AdamW(network.parameters(), 1e-3),
        loss_function=MaskedDiceCELoss(0.5),
        num_classes=4,
        unlabeled_data_loader=unl_loader if paradigm != "supervised" else None,
        paradigm=paradigm,
        mix=mixer,
        mix_seed=seed,
        threshold=0.6,
        **extra,
        **kwargs,
    )
