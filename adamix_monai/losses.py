# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The segmentation criterion of AdaMix: ``(1 - w) CE + w Dice`` with an optional per-pixel mask."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["MaskedDiceCELoss"]


class MaskedDiceCELoss(nn.Module):
    """``(1 - w) * CE + w * Dice`` on logits and an index target, with an optional per-pixel mask.

    As the reference criterion (``docs/algorithm.md`` section 3.3):

    * CE is the masked mean over the batch, ``sum(CE * m) / (sum(m) + 1e-5)``;
    * Dice is computed per image and per class, background included, ``(2 sum(p y m) + 1e-5) / (sum((p + y) m) +
      1e-5)``, and the loss is the mean of ``1 - dice`` over images and classes.

    An image whose mask is empty contributes nothing to the Dice term. The reference code writes ``0 - 1 = -1``
    for such terms; it is a constant without gradient, so the gradients are the same, but the logged value is
    shifted. ``empty_mask="reference"`` reproduces that value for comparisons with the reference's logs.

    Args:
        dice_weight: ``w``; 0.5 for ACDC and ISIC, 1.0 (Dice only) for LA.
        empty_mask: ``"zero"`` (default) or ``"reference"``, see above.

    Raises:
        ValueError: on a weight outside [0, 1] or an unknown ``empty_mask``.
    """

    def __init__(self, dice_weight: float = 0.5, empty_mask: str = "zero") -> None:
        super().__init__()
        if not 0.0 <= dice_weight <= 1.0:
            raise ValueError(f"MaskedDiceCELoss: dice_weight must be in [0, 1], got {dice_weight}.")
        if empty_mask not in ("zero", "reference"):
            raise ValueError(f"MaskedDiceCELoss: empty_mask must be 'zero' or 'reference', got '{empty_mask}'.")
        self.dice_weight = float(dice_weight)
        self.empty_mask = empty_mask

    def forward(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            logits: ``(B, C, *spatial)``.
            target: ``(B, 1, *spatial)`` or ``(B, *spatial)`` class indices in ``[0, C)``.
            mask: ``(B, 1, *spatial)`` or ``(B, *spatial)`` weights (e.g. ``confidence >= tau``); None for all ones.

        Returns:
            The scalar loss.
        """
        b, c = logits.shape[:2]
        index = target[:, 0] if target.ndim == logits.ndim else target
        index = index.long()
        m = (
            torch.ones_like(index, dtype=logits.dtype)
            if mask is None
            else (mask[:, 0] if mask.ndim == logits.ndim else mask)
        )
        m = m.to(logits.dtype)
        loss = logits.new_zeros(())
        if self.dice_weight < 1.0:
            ce = F.cross_entropy(logits.float(), index, reduction="none")
            loss = loss + (1.0 - self.dice_weight) * (ce * m).sum() / (m.sum() + 1e-5)
        if self.dice_weight > 0.0:
            prob = torch.softmax(logits.float(), dim=1)
            onehot = F.one_hot(index, c).movedim(-1, 1).to(prob.dtype)
            mc = m.unsqueeze(1)
            dims = tuple(range(2, logits.ndim))
            dice = (2.0 * (prob * onehot * mc).sum(dims) + 1e-5) / (((prob + onehot) * mc).sum(dims) + 1e-5)
            present = (m.reshape(b, -1) > 0).any(dim=1).to(dice.dtype).unsqueeze(1)  # (B, 1)
            terms = present - dice if self.empty_mask == "reference" else present * (1.0 - dice)
            loss = loss + self.dice_weight * terms.mean()
        return loss
