# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Post-processing of predicted label maps."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import ndimage

__all__ = ["largest_connected_component"]


def largest_connected_component(label_map: Any) -> Any:
    """Keep the largest connected component of the union of all foreground classes (full connectivity).

    As the AdaMix evaluation does: voxels of any foreground class outside that component become background;
    classes inside it keep their values. An empty prediction is returned unchanged (the reference code crashes).

    Args:
        label_map: integer label map, 2D or 3D, numpy array or tensor (no channel axis).

    Returns:
        The post-processed map, of the input's type.
    """
    is_tensor = isinstance(label_map, torch.Tensor)
    arr = label_map.detach().cpu().numpy() if is_tensor else np.asarray(label_map)
    foreground = arr > 0
    if not foreground.any():
        return label_map
    components, count = ndimage.label(foreground, structure=np.ones((3,) * arr.ndim, dtype=bool))
    if count > 1:
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        arr = np.where(components == int(sizes.argmax()), arr, 0).astype(arr.dtype)
    return torch.as_tensor(arr, device=label_map.device) if is_tensor else arr
