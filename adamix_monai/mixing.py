# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The functional mixing core shared by every mix strategy.

Everything here is pure torch, device-agnostic and vectorised over the batch: no Python loop runs over
images or patches. Two kinds of plan exist:

* a :class:`PatchPlan` (AdaMix, its ablations, the fixed UMix/I-UMix rules): per image ``i``, the ``n_i``
  best-ranked patches of the original are replaced by the ``n_i`` best-ranked patches of the auxiliary image,
  each auxiliary patch moved to the grid position of the original patch it replaces;
* a boolean box mask (CutMix): the auxiliary content is pasted where the mask is true, in place.

Both are applied by :func:`apply_plan`, identically to every tensor of a sample (image, label or
pseudo-label, confidence map), so labels stay aligned with pixels. Tensors may be ``(B, C, *spatial)``
(any ``C``: index maps, one-hot labels, RGB images) or channel-less ``(B, *spatial)``; the plan only looks
at the batch and the spatial axes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "PatchPlan",
    "apply_mask",
    "apply_patch_plan",
    "apply_plan",
    "BOX_RULES",
    "box_mask",
    "boxes_to_mask",
    "ensure_grid",
    "patch_scores",
    "plan_patch_mix",
]


def ensure_grid(grid: int | Sequence[int], spatial_shape: Sequence[int], name: str = "grid") -> tuple[int, ...]:
    """Validate a patch grid against a spatial shape.

    Args:
        grid: patches per side, one int for every axis or one per spatial axis (``8`` or ``(8, 8)`` gives an
            8x8 grid of 32x32 patches on a 256x256 image; ``(4, 4, 4)`` gives 20x28x28 blocks on 80x112x112).
        spatial_shape: the spatial shape of the images, without batch and channel axes.
        name: how to call the grid in error messages.

    Returns:
        The grid as a tuple with one entry per spatial axis.

    Raises:
        ValueError: when the grid has the wrong length, a non-positive entry, is larger than the image, or
            does not divide the image evenly.
    """
    spatial_shape = tuple(int(s) for s in spatial_shape)
    grid_t = (int(grid),) * len(spatial_shape) if isinstance(grid, (int, np.integer)) else tuple(int(g) for g in grid)
    if len(grid_t) != len(spatial_shape):
        raise ValueError(
            f"{name}={tuple(grid_t)} has {len(grid_t)} entries but the images have {len(spatial_shape)} spatial "
            f"axes {spatial_shape}; give one number of patches per spatial axis."
        )
    for axis, (g, s) in enumerate(zip(grid_t, spatial_shape)):
        if g < 1:
            raise ValueError(f"{name}={grid_t}: every entry must be >= 1 patch per side, got {g} on axis {axis}.")
        if g > s:
            raise ValueError(
                f"{name}={grid_t} is larger than the image {spatial_shape} on spatial axis {axis} ({g} patches for "
                f"{s} pixels); use at most {s} patches on that axis."
            )
        if s % g:
            raise ValueError(
                f"the spatial size {spatial_shape} is not divisible by {name}={grid_t} on spatial axis {axis} "
                f"({s} % {g} = {s % g}); resize, pad or crop the images to a multiple of the grid."
            )
    return grid_t


def patch_scores(confidence: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """Mean confidence of each patch.

    The patch sums are reduced one spatial axis at a time, outermost first, so every reduction runs over a
    non-innermost axis with contiguous rows (several times faster on CPU than one reduction over strided axes).

    Args:
        confidence: ``(B, 1, *spatial)`` or ``(B, *spatial)`` confidence map (e.g. max softmax probability).
        grid: patches per spatial axis, as returned by :func:`ensure_grid`.

    Returns:
        ``(B, L)`` float tensor, ``L = prod(grid)``, patches numbered in row-major grid order.
    """
    nd = len(grid)
    conf = confidence if confidence.ndim == nd + 1 else confidence.reshape(confidence.shape[0], *confidence.shape[-nd:])
    spatial = tuple(conf.shape[1:])
    sums = conf.float()
    done: list[int] = []  # grid sizes of the axes already reduced
    for axis in range(nd):
        size = spatial[axis] // grid[axis]
        rest = math.prod(spatial[axis + 1 :])
        sums = sums.reshape(sums.shape[0], *done, grid[axis], size, rest).sum(dim=len(done) + 2)
        done.append(grid[axis])
    return sums.reshape(sums.shape[0], -1) / math.prod(s // g for s, g in zip(spatial, grid))


@dataclass(frozen=True)
class PatchPlan:
    """Which patches of the original take which patches of the auxiliary image.

    Attributes:
        grid: patches per spatial axis.
        dst: ``(B, K)`` original patch indices, in the pairing order (rank 0 first).
        src: ``(B, K)`` auxiliary patch indices, paired with ``dst`` by rank.
        n: ``(B,)`` number of replaced patches per image (``0 <= n_i <= K``); pairs of rank ``>= n_i`` are unused.
        hard: ``(B,)`` direction per image: True for "hard" (the original's most confident patches take the
            auxiliary's least confident ones), False for "easy" (the original's least confident patches take the
            auxiliary's most confident ones).
    """

    grid: tuple[int, ...]
    dst: torch.Tensor
    src: torch.Tensor
    n: torch.Tensor
    hard: torch.Tensor
    _rows: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def selected(self) -> torch.Tensor:
        """``(B, K)`` boolean: pair ``k`` of image ``i`` is used (``k < n_i``)."""
        k = torch.arange(self.dst.shape[1], device=self.dst.device)
        return k.unsqueeze(0) < self.n.unsqueeze(1)

    @property
    def num_patches(self) -> int:
        """Number of patches in the grid (``L``)."""
        return math.prod(self.grid)

    def mixed_fraction(self) -> torch.Tensor:
        """``(B,)`` fraction of each image's area taken from the auxiliary image."""
        return self.n.float() / self.num_patches

    def row_indices(self, channels: int, spatial: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Indices of the replaced rows, for a tensor viewed as rows of its innermost axis.

        A contiguous ``(B, C, *spatial)`` tensor viewed as ``(-1, p_last)`` has one row per patch row (``p_last =
        spatial[-1] // grid[-1]`` contiguous values); copying a patch is copying its rows, which
        ``index_select``/``index_copy_`` do as plain memory copies. Cached per ``(channels, spatial)``.

        Args:
            channels: channels of the tensor (1 for channel-less tensors).
            spatial: its spatial shape.

        Returns:
            ``(destination_rows, source_rows)`` long tensors, or None when nothing is replaced.
        """
        key = (int(channels), tuple(int(v) for v in spatial))
        if key not in self._rows:
            selected = self.selected
            batch_idx = torch.arange(self.dst.shape[0], device=self.dst.device).unsqueeze(1).expand_as(self.dst)
            batch_idx = batch_idx[selected]
            pairs = (self.dst[selected], self.src[selected])
            self._rows[key] = None if batch_idx.numel() == 0 else self._pair_rows(key, batch_idx, *pairs)
        return self._rows[key]

    def static_row_indices(self, channels: int, spatial: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rows of every one of the ``B x K`` pairs, used or not, and whether each row's pair is used.

        The shapes depend only on ``(B, K)``: no boolean indexing, so nothing waits for the device (the path
        :func:`apply_patch_plan` takes on accelerators). Cached per ``(channels, spatial)``.

        Returns:
            ``(destination_rows, source_rows, used)``: long, long and bool tensors of equal length.
        """
        key = ("static", int(channels), tuple(int(v) for v in spatial))
        if key not in self._rows:
            b, k = self.dst.shape
            batch_idx = torch.arange(b, device=self.dst.device).unsqueeze(1).expand(b, k).reshape(-1)
            dst, src = self._pair_rows(key[1:], batch_idx, self.dst.reshape(-1), self.src.reshape(-1))
            used = self.selected.reshape(-1, 1).expand(-1, dst.numel() // max(b * k, 1)).reshape(-1)
            self._rows[key] = (dst, src, used)
        return self._rows[key]

    def _pair_rows(
        self, key: tuple, batch_idx: torch.Tensor, dst: torch.Tensor, src: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices of the destination and source patches of the pairs ``(batch_idx, dst, src)``."""
        patch = [s // g for s, g in zip(key[1], self.grid)]
        # row space: (B, C, S_1, ..., S_{n-1}, g_n); strides of its axes
        row_shape = [key[0], *key[1][:-1], self.grid[-1]]
        strides = [math.prod(row_shape[i + 1 :]) for i in range(len(row_shape))]
        offsets = _row_offsets(key[0], tuple(patch[:-1]), tuple(strides), self.dst.device)
        # patch origins of destination and source at once: (2, M)
        flat = torch.stack((dst, src))
        start = batch_idx * (key[0] * strides[0])
        for axis in range(len(self.grid) - 1, -1, -1):
            cell = flat % self.grid[axis]
            flat = flat // self.grid[axis]
            start = start + (cell if axis == len(self.grid) - 1 else cell * (patch[axis] * strides[axis + 1]))
        both = (start.unsqueeze(-1) + offsets).reshape(2, -1)
        return both[0], both[1]


@functools.lru_cache(maxsize=32)
def _row_offsets(channels: int, patch: tuple[int, ...], strides: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Row offsets of every (channel, within-patch row) relative to a patch's first row, in row-major order."""
    offsets = torch.arange(channels, device=device) * strides[0]
    for axis, size in enumerate(patch):
        offsets = (offsets.unsqueeze(-1) + torch.arange(size, device=device) * strides[axis + 1]).reshape(-1)
    return offsets


def plan_patch_mix(
    scores: torch.Tensor,
    aux_scores: torch.Tensor,
    n: torch.Tensor,
    hard: torch.Tensor,
    grid: tuple[int, ...],
    max_n: int | None = None,
) -> PatchPlan:
    """Pair patches by confidence rank, per image.

    Ranks use a stable sort, so ties keep the row-major patch order. For a "hard" image the original's
    patches are ranked most confident first and the auxiliary's least confident first; for an "easy" image
    the other way round. Rank ``k`` of the original is paired with rank ``k`` of the auxiliary.

    Args:
        scores: ``(B, L)`` patch scores of the originals.
        aux_scores: ``(B, L)`` patch scores of the auxiliary images.
        n: ``(B,)`` integer number of patches to replace per image, ``0 <= n_i <= L``.
        hard: ``(B,)`` boolean direction per image.
        grid: patches per spatial axis (``prod(grid) == L``).
        max_n: an upper bound of ``n`` (AdaMix's ``topk``): the plan then keeps ``K = max_n`` ranks, a shape known
            without reading ``n`` back from the device; None keeps ``K = max(n)`` (one host read).

    Returns:
        The :class:`PatchPlan`; it stores only the ``K`` leading ranks.
    """
    n = n.to(device=scores.device, dtype=torch.long)
    hard = hard.to(device=scores.device, dtype=torch.bool)
    if max_n is not None:  # a static K: no host read of n
        k = int(max_n)
    else:
        k = int(n.max().item()) if n.numel() else 0
    # sort ascending on +-score: -score for the side that must be ranked most confident first
    sign = torch.where(hard, -1.0, 1.0).unsqueeze(1).to(scores.dtype)
    dst = torch.sort(scores * sign, dim=1, stable=True).indices[:, :k]
    src = torch.sort(aux_scores * -sign, dim=1, stable=True).indices[:, :k]
    return PatchPlan(grid=tuple(grid), dst=dst, src=src, n=n, hard=hard)


def apply_patch_plan(x: torch.Tensor, aux: torch.Tensor, plan: PatchPlan, static: bool | None = None) -> torch.Tensor:
    """Apply a :class:`PatchPlan`: a copy of ``x`` whose planned patches come from ``aux``.

    The work is one clone of ``x`` plus a row-wise gather of the selected auxiliary patches and a row-wise
    scatter into the clone (see :meth:`PatchPlan.row_indices`); nothing else is touched.

    Args:
        x: ``(B, C, *spatial)`` or ``(B, *spatial)`` originals.
        aux: auxiliary tensor of the same shape.
        plan: the plan, computed for this batch and spatial grid.
        static: copy all ``B x K`` pairs, the unused ones onto themselves (:meth:`PatchPlan.static_row_indices`:
            shapes known in advance, no host synchronisation); None: on accelerators only. Both give the same
            tensor, bit for bit.

    Returns:
        The mixed tensor, same shape, dtype and device as ``x`` (a plain, contiguous tensor).
    """
    nd = len(plan.grid)
    out = x.clone(memory_format=torch.contiguous_format)
    channels = math.prod(x.shape[1:-nd]) if x.ndim > nd + 1 else 1
    width = x.shape[-1] // plan.grid[-1]
    if static is None:
        static = x.device.type != "cpu"
    if static and plan.dst.shape[1]:
        dst, src, used = plan.static_row_indices(channels, x.shape[-nd:])
        rows_out = _rows_view(out, width)
        taken = _rows_view(aux.contiguous(), width).index_select(0, src)
        kept = rows_out.index_select(0, dst)
        rows_out.index_copy_(0, dst, torch.where(used.unsqueeze(1), taken, kept))
        return out
    rows = plan.row_indices(channels, x.shape[-nd:]) if plan.dst.shape[1] else None
    if rows is None:
        return out
    source = _rows_view(aux.contiguous(), width).index_select(0, rows[1])
    _rows_view(out, width).index_copy_(0, rows[0], source)
    return out


# widest first: the row copy costs per element, and some element types (int64, uint8) take a slow path
_COPY_DTYPES = (torch.complex128, torch.float64, torch.float32, torch.int16, torch.uint8)


def _rows_view(x: torch.Tensor, width: int) -> torch.Tensor:
    """``x`` (contiguous) as rows of ``width`` values, reinterpreted as the widest element type that tiles a row.

    Only copies go through this view, so the result is bit-exact for every dtype (labels, masks, half floats).
    """
    rows = x.view(-1, width)
    row_bytes = width * x.element_size()
    offset_bytes = x.storage_offset() * x.element_size()
    for dtype in _COPY_DTYPES:
        size = torch.empty((), dtype=dtype).element_size()
        if size <= x.element_size() and dtype != x.dtype:
            break  # never narrower than the original element
        if row_bytes % size == 0 and offset_bytes % size == 0:
            return rows if dtype == x.dtype else rows.view(dtype)
    return rows


def apply_mask(x: torch.Tensor, aux: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CutMix-style blend: ``aux`` where ``mask`` is true, ``x`` elsewhere.

    Args:
        x: ``(B, C, *spatial)`` or ``(B, *spatial)`` originals.
        aux: auxiliary tensor of the same shape.
        mask: ``(B, *spatial)`` boolean mask.

    Returns:
        The blended tensor (a plain tensor).
    """
    m = mask
    for _ in range(x.ndim - mask.ndim):  # one singleton channel axis for (B, C, *spatial) tensors
        m = m.unsqueeze(1)
    return torch.where(m, aux, x)


def apply_plan(x: torch.Tensor, aux: torch.Tensor, plan: PatchPlan | torch.Tensor) -> torch.Tensor:
    """Apply a patch plan or a box mask to one tensor (see :func:`apply_patch_plan`, :func:`apply_mask`)."""
    if isinstance(plan, PatchPlan):
        return apply_patch_plan(x, aux, plan)
    return apply_mask(x, aux, plan)


BOX_RULES = ("toggle", "union")


def boxes_to_mask(
    starts: torch.Tensor, ends: torch.Tensor, plane: Sequence[int], rule: str = "toggle"
) -> torch.Tensor:
    """Rasterise boxes ``[start, end)`` on a 2D plane.

    Args:
        starts, ends: ``(B, n_boxes, 2)`` integer corners (row, column), ``end`` exclusive.
        plane: ``(H, W)``.
        rule: ``"toggle"``: each box flips the pixels it covers, so a pixel is in the mask when an odd number of
            boxes cover it (the reference's box mask generator, after French et al.); ``"union"``: in the mask
            when any box covers it.

    Returns:
        ``(B, H, W)`` boolean mask.
    """
    if rule not in BOX_RULES:
        raise ValueError(f"box rule must be one of {BOX_RULES}, got '{rule}'.")
    device = starts.device
    ys = torch.arange(int(plane[0]), device=device).view(1, 1, -1, 1)
    xs = torch.arange(int(plane[1]), device=device).view(1, 1, 1, -1)
    inside_y = (ys >= starts[..., 0, None, None]) & (ys < ends[..., 0, None, None])  # (B, n_boxes, H, 1)
    inside_x = (xs >= starts[..., 1, None, None]) & (xs < ends[..., 1, None, None])  # (B, n_boxes, 1, W)
    mask = torch.zeros(starts.shape[0], int(plane[0]), int(plane[1]), dtype=torch.bool, device=device)
    for b in range(starts.shape[1]):  # one box at a time: no (B, n_boxes, H, W) intermediate
        box = inside_y[:, b] & inside_x[:, b]
        mask = mask | box if rule == "union" else mask ^ box
    return mask


def box_mask(
    batch_size: int,
    spatial_shape: Sequence[int],
    rng: np.random.RandomState,
    n_boxes: int = 3,
    area: tuple[float, float] = (0.25, 0.5),
    device: torch.device | str | None = None,
    rule: str = "toggle",
) -> torch.Tensor:
    """Random CutMix boxes, drawn as the reference's box mask generator draws them (the default).

    ``rule="toggle"`` (the reference's generator, after French et al.'s CutMix for segmentation): each of the
    ``n_boxes`` boxes draws its own area proportion ``a ~ U(area)``, has a log-uniform aspect ratio, sides scaled
    by ``sqrt(1 / n_boxes)``, and lies inside the image; the mask starts empty and each box toggles the pixels it
    covers, so where two boxes overlap the overlap is *not* mixed. The mean mixed area is about 0.25 for the
    default range at 256x256. ``rule="union"`` (this project's earlier generator): one area per image shared by
    its boxes, and the mask is the union of the boxes (mean mixed area about 0.31). In 3D the boxes are drawn on
    the last two axes and extended over the first, as the reference does for (D, H, W) volumes.

    Args:
        batch_size: number of masks.
        spatial_shape: ``(H, W)`` or ``(D, H, W)``.
        rng: the numpy random state to draw from.
        n_boxes: boxes per image.
        area: range of the area proportion (per box with ``toggle``, per image with ``union``).
        device: where to build the mask.
        rule: ``"toggle"`` or ``"union"``, see above.

    Returns:
        ``(B, *spatial_shape)`` boolean mask.
    """
    spatial_shape = tuple(int(s) for s in spatial_shape)
    if len(spatial_shape) not in (2, 3):
        raise ValueError(f"box_mask supports 2D or 3D images, got spatial shape {spatial_shape}.")
    if rule not in BOX_RULES:
        raise ValueError(f"box_mask: rule must be one of {BOX_RULES}, got '{rule}'.")
    plane = np.array(spatial_shape[-2:], dtype=np.float64)
    if rule == "toggle":
        props = rng.uniform(area[0], area[1], size=(batch_size, n_boxes))
    else:
        props = rng.uniform(area[0], area[1], size=(batch_size, 1)).repeat(n_boxes, axis=1)
    y_props = np.exp(rng.uniform(0.0, 1.0, size=(batch_size, n_boxes)) * np.log(props))
    x_props = props / y_props
    scale = math.sqrt(1.0 / n_boxes)
    sizes = np.round(np.stack([y_props, x_props], axis=2) * scale * plane)  # (B, n_boxes, 2)
    starts = np.round((plane - sizes) * rng.uniform(0.0, 1.0, size=sizes.shape))
    starts_t = torch.as_tensor(starts, device=device, dtype=torch.long)
    ends_t = starts_t + torch.as_tensor(sizes, device=device, dtype=torch.long)
    mask = boxes_to_mask(starts_t, ends_t, spatial_shape[-2:], rule)  # (B, H, W)
    if len(spatial_shape) == 3:
        mask = mask.unsqueeze(1).expand(batch_size, *spatial_shape)
    return mask
