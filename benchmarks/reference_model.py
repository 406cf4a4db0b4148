# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Timing models of the released reference code's AdaMix-ST step on ACDC, for ``bench_acdc_step.py --reference``.

The reference code cannot run here (it is not on this machine and nothing may be downloaded), so its step is
modelled from ``docs/algorithm.md`` (section 3.1 for the step, 5.1 for the ACDC views), written for timing only:

* :func:`network_floor`: its network work alone (the paper's U-Net with ``nn.Dropout`` and out-of-place
  LeakyReLUs, contiguous memory, PyTorch eager, AdamW; no-grad groups over 2B, 2B and B images, two gradient passes
  over B images, one backward). Inputs are made beforehand and the loss is a logsumexp mean: the reference's step
  does all of this and more, so **it cannot take less time** (a lower bound).
* :class:`ReferenceModelStep`: the whole step as the reference runs it, with the reference's kinds of work: four
  streams of B items read from the slice h5 files at every step (no cache), each item quantised to an 8-bit PIL
  image and given the weak view (flips, rotation with nearest interpolation, resize) and two strong views
  (``A1`` and ``A2 = aug(A1)``: colour jitter, autocontrast, equalisation, a 3x3 Gaussian blur done as a
  convolution, as torchvision blurs a PIL image) with PIL, collated with ``torch.stack``; the three no-grad groups,
  softmax confidences and pseudo-labels; per-image proxy Dice losses and the per-image Python mixing loop
  (``bench_mix.loop_mix``) when a batch's mix fires (probability 0.5); the two gradient passes with the masked
  CE + Dice loss; AdamW; the step's scalars read with ``.item()``. An estimate, not the reference: PIL here and
  torchvision there share their kernels for these operations, but not every line of Python around them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageOps

from adamix_monai.networks import AdaMixUNet
from bench_mix import loop_mix

BATCH = 4
LABELED_SLICES = 136  # 10% of the ACDC training patients: the first 136 lines of train_slices.list


def _reference_unet() -> torch.nn.Module:
    net = AdaMixUNet(2, 1, 4).train()
    for module in net.modules():
        if isinstance(module, torch.nn.LeakyReLU):
            module.inplace = False  # the reference's blocks use out-of-place LeakyReLUs
    return net


def network_floor(size: int, batch: int = BATCH) -> Callable[[], None]:
    """One call runs the reference step's network work alone (see the module docstring)."""
    net = _reference_unet()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)

    def images(n: int) -> torch.Tensor:
        return torch.rand(n, 1, size, size, generator=gen)

    groups = (images(2 * batch), images(2 * batch), images(batch))  # aux weak, main weak, unlabeled strong
    lab, unl = images(batch), images(batch)

    def step() -> None:
        with torch.no_grad():
            for x in groups:
                net(x)
        loss = (net(lab).logsumexp(1).mean() + net(unl).logsumexp(1).mean()) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _masked_dice_ce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """0.5 CE + 0.5 Dice, pixel-masked (the reference's loss for ACDC, section 3.3)."""
    m = torch.ones_like(target, dtype=logits.dtype) if mask is None else mask.to(logits.dtype)
    ce = (F.cross_entropy(logits, target, reduction="none") * m).sum() / (m.sum() + 1e-5)
    prob = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
    mm = m[:, None]
    dice = (2 * (prob * onehot * mm).sum((2, 3)) + 1e-5) / (((prob + onehot) * mm).sum((2, 3)) + 1e-5)
    return 0.5 * ce + 0.5 * (1 - dice).mean()


def _proxy_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice loss of a prediction against (pseudo-)labels (the self-paced proxy loss)."""
    prob = pred.softmax(1)
    onehot = F.one_hot(target, pred.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
    dice = (2 * (prob * onehot).sum((2, 3)) + 1e-5) / ((prob + onehot).sum((2, 3)) + 1e-5)
    return 1 - dice.mean(1)


class ReferenceModelStep:
    """One call runs one modelled reference step on the real ACDC slices (see the module docstring).

    Args:
        acdc_dir: the ACDC folder (``data/slices/*.h5`` and ``train_slices.list``).
        size: the training side.
        batch: B, per stream.
        seed: seeds the draws of items, views and mixes.
    """

    def __init__(self, acdc_dir: str | Path, size: int, batch: int = BATCH, seed: int = 0) -> None:
        root = Path(acdc_dir)
        names = [n.strip() for n in (root / "train_slices.list").read_text().splitlines() if n.strip()]
        self.slices = root / "data" / "slices"
        self.labeled, self.unlabeled = names[:LABELED_SLICES], names
        self.size, self.batch = size, batch
        self.rng = random.Random(seed)
        self.net = _reference_unet()
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=1e-4)

    # ---- data: per item, PIL, read at every step ------------------------------------------------------------
    def _strong(self, img: Image.Image) -> Image.Image:
        r = self.rng
        if r.random() < 0.8:  # ColorJitter(b=0.5, c=0.5, s=0.5, h=0.25) in a random order; hue leaves 'L' as is
            ops = [ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color]
            r.shuffle(ops)
            for op in ops:
                img = op(img).enhance(r.uniform(0.5, 1.5))
        if r.random() < 0.2:
            img = ImageOps.autocontrast(img)
        if r.random() < 0.2:
            img = ImageOps.equalize(img)
        if r.random() < 0.5:  # GaussianBlur(3, sigma in [0.1, 2]): to a tensor, a 3x3 convolution, back to PIL
            sigma = r.uniform(0.1, 2.0)
            k = torch.exp(-(torch.arange(-1.0, 2.0) ** 2) / (2 * sigma**2))
            k = k / k.sum()
            x = torch.from_numpy(np.asarray(img, dtype=np.float32))[None, None]
            x = F.pad(x, (1, 1, 1, 1), mode="reflect")
            x = F.conv2d(F.conv2d(x, k.view(1, 1, 1, 3)), k.view(1, 1, 3, 1))
            img = Image.fromarray(x[0, 0].round().clamp(0, 255).to(torch.uint8).numpy())
        return img

    def _item(self, name: str) -> tuple[torch.Tensor, ...]:
        with h5py.File(self.slices / f"{name}.h5", "r") as f:
            image, label = f["image"][:], f["label"][:]
        img, lab = Image.fromarray((image * 255).astype(np.uint8)), Image.fromarray(label.astype(np.uint8))
        r = self.rng
        if r.random() < 0.5:
            img, lab = img.transpose(Image.FLIP_LEFT_RIGHT), lab.transpose(Image.FLIP_LEFT_RIGHT)
        if r.random() < 0.5:
            img, lab = img.transpose(Image.FLIP_TOP_BOTTOM), lab.transpose(Image.FLIP_TOP_BOTTOM)
        if r.random() < 0.5:
            angle = r.uniform(-180, 180)
            img, lab = img.rotate(angle, Image.NEAREST, fillcolor=0), lab.rotate(angle, Image.NEAREST, fillcolor=0)
        img = img.resize((self.size, self.size), Image.BILINEAR)
        lab = lab.resize((self.size, self.size), Image.NEAREST)
        a1 = self._strong(img)
        a2 = self._strong(a1)  # computed by the reference, unused by AdaMix

        def tensor(x: Image.Image) -> torch.Tensor:
            return torch.from_numpy(np.asarray(x, dtype=np.float32) / 255.0)[None]

        return tensor(img), torch.from_numpy(np.asarray(lab, dtype=np.int64)), tensor(a1), tensor(a2)

    def _batch(self, names: list[str]) -> list[torch.Tensor]:
        items = [self._item(self.rng.choice(names)) for _ in range(self.batch)]
        return [torch.stack(column) for column in zip(*items)]

    # ---- the step ---------------------------------------------------------------------------------------------
    def _mix(self, x, xa, y, ya, conf, conf_a, proxy) -> tuple[torch.Tensor, ...]:
        if self.rng.random() >= 0.5:  # the mix's probability per batch
            return x, y, conf
        d = {"image": x, "image_aux": xa, "label": y[:, None], "label_aux": ya[:, None],
             "confidence": conf[:, None], "confidence_aux": conf_a[:, None], "proxy_loss": proxy}  # fmt: skip
        image, label, confidence = loop_mix(d, (8, 8))
        return image, label[:, 0], confidence[:, 0]

    def __call__(self) -> None:
        lab, unl = self._batch(self.labeled), self._batch(self.unlabeled)
        lab_aux, unl_aux = self._batch(self.labeled), self._batch(self.unlabeled)
        b, net = self.batch, self.net
        with torch.no_grad():
            p_aux = net(torch.cat([lab_aux[0], unl_aux[0]])).softmax(1)
            conf_aux, pseudo_aux = p_aux.max(1)
            p_main = net(torch.cat([lab[0], unl[0]]))
            conf_main, pseudo_main = p_main.softmax(1).max(1)
            p_unl_a1 = net(unl[2])
            proxy_l = _proxy_dice(p_main[:b], lab[1])
            proxy_u = _proxy_dice(p_unl_a1, pseudo_main[b:])
        x_l, y_l, _ = self._mix(lab[2], lab_aux[2], lab[1], lab_aux[1], conf_main[:b], conf_aux[:b], proxy_l)
        x_u, y_u, c_u = self._mix(
            unl[2], unl_aux[2], pseudo_main[b:], pseudo_aux[b:], conf_main[b:], conf_aux[b:], proxy_u
        )
        loss_s = _masked_dice_ce(net(x_l), y_l)
        loss_u = _masked_dice_ce(net(x_u), y_u, c_u >= 0.95)
        loss = (loss_s + loss_u) / 2
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        _ = (loss.item(), loss_s.item(), loss_u.item(), float((c_u >= 0.95).float().mean()))
