# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""case_metrics against hand computations and a brute-force surface distance; LCC post-processing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from monai.transforms import KeepLargestConnectedComponentd
from scipy import ndimage

from adamix_monai.metrics import case_metrics


def brute_surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: foreground voxels with a face neighbour outside the mask or the image."""
    coords = []
    for idx in zip(*np.nonzero(mask)):
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            n = list(idx)
            n[axis] += step
            if not (0 <= n[axis] < mask.shape[axis]) or not mask[tuple(n)]:
                coords.append(idx)
                break
    return np.array(coords, dtype=float)


def brute_metrics(p: np.ndarray, g: np.ndarray, spacing=None):
    sp = np.ones(p.ndim) if spacing is None else np.asarray(spacing, float)
    sp_, sg = brute_surface(p) * sp, brute_surface(g) * sp
    d = np.sqrt(((sp_[:, None, :] - sg[None, :, :]) ** 2).sum(-1))
    forward, backward = d.min(1), d.min(0)
    return float(np.percentile(np.hstack([forward, backward]), 95)), float(forward.mean())


def test_identical_masks():
    label = np.zeros((12, 12), dtype=np.int64)
    label[2:6, 3:9] = 1
    label[7:10, 2:5] = 2
    m = case_metrics(label, label, num_classes=3)
    for c in (1, 2):
        assert m[c]["dice"] == 1.0 and m[c]["jaccard"] == 1.0 and m[c]["hd95"] == 0.0 and m[c]["asd"] == 0.0


def test_shifted_square_by_hand():
    pred, ref = np.zeros((10, 10), int), np.zeros((10, 10), int)
    ref[3:7, 2:6] = 1  # 4x4
    pred[3:7, 4:8] = 1  # shifted by 2 columns: overlap 4x2 = 8
    m = case_metrics(pred, ref, 2)[1]
    assert m["dice"] == pytest.approx(2 * 8 / 32) and m["jaccard"] == pytest.approx(8 / 24)
    # surfaces are the 12-voxel rings; every pred ring voxel is within 2 of the ref ring, some at 0, some at 1
    hd95, asd = brute_metrics(pred == 1, ref == 1)
    assert m["hd95"] == pytest.approx(hd95) and m["asd"] == pytest.approx(asd)
    assert m["hd95"] == pytest.approx(2.0)


def test_single_voxels_and_spacing():
    pred, ref = np.zeros((8, 8), int), np.zeros((8, 8), int)
    pred[1, 1], ref[4, 5] = 1, 1  # 3-4-5 triangle
    m = case_metrics(pred, ref, 2)[1]
    assert m["hd95"] == pytest.approx(5.0) and m["asd"] == pytest.approx(5.0) and m["dice"] == 0.0
    scaled = case_metrics(pred, ref, 2, spacing=(2.0, 0.5))[1]
    assert scaled["hd95"] == pytest.approx(math.hypot(3 * 2.0, 4 * 0.5))


def test_asd_is_directed_and_hd95_pools_both_directions():
    pred, ref = np.zeros((20, 20), int), np.zeros((20, 20), int)
    ref[5:15, 5:15] = 1
    pred[5:15, 5:15] = 1
    pred[2, 2] = 1  # an outlier voxel in the prediction only
    m = case_metrics(pred, ref, 2)[1]
    hd95, asd = brute_metrics(pred == 1, ref == 1)
    assert m["asd"] == pytest.approx(asd) and m["hd95"] == pytest.approx(hd95)
    reverse = case_metrics(ref, pred, 2)[1]
    assert reverse["asd"] == 0.0 and m["asd"] > 0  # the reference's surface lies on the prediction's


@pytest.mark.parametrize("seed", range(5))
def test_random_3d_blobs_match_brute_force(seed):
    rng = np.random.RandomState(seed)
    pred = (rng.rand(6, 9, 8) > 0.6).astype(int)
    ref = (rng.rand(6, 9, 8) > 0.5).astype(int)
    spacing = (2.5, 1.0, 0.8)
    m = case_metrics(torch.as_tensor(pred), ref, 2, spacing=spacing)[1]
    hd95, asd = brute_metrics(pred == 1, ref == 1, spacing)
    assert m["hd95"] == pytest.approx(hd95) and m["asd"] == pytest.approx(asd)
    inter = np.logical_and(pred, ref).sum()
    assert m["dice"] == pytest.approx(2 * inter / (pred.sum() + ref.sum()))


def test_empty_prediction_honest_and_paper():
    pred, ref = np.zeros((6, 6), int), np.zeros((6, 6), int)
    ref[1:3, 1:3] = 1
    honest = case_metrics(pred, ref, 3)
    assert honest[1]["dice"] == 0.0 and math.isnan(honest[1]["hd95"]) and honest[1]["empty_prediction"]
    assert math.isnan(honest[2]["dice"]) and honest[2]["empty_reference"]  # absent in both: not applicable
    paper = case_metrics(pred, ref, 3, empty="paper")
    assert (paper[1]["dice"], paper[1]["jaccard"], paper[1]["hd95"], paper[1]["asd"]) == (0.0, 0.0, 0.0, 0.0)


def test_bad_input():
    a = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match="differs from label shape"):
        case_metrics(a, np.zeros((4, 5), int), 2)
    with pytest.raises(ValueError, match=r"expected classes in \[0, 2\)"):
        case_metrics(a + 2, a, 2)
    with pytest.raises(ValueError, match="integer label map"):
        case_metrics(a + 0.5, a, 2)
    with pytest.raises(ValueError, match="spacing"):
        case_metrics(a, a, 2, spacing=(1.0,))
    with pytest.raises(ValueError, match="empty must be"):
        case_metrics(a, a, 2, empty="zero")


def _reference_lcc(arr: np.ndarray) -> np.ndarray:
    """The reference evaluation's post-processing: the largest fully connected component of the foreground union."""
    components, count = ndimage.label(arr > 0, structure=np.ones((3,) * arr.ndim, dtype=bool))
    if count <= 1:
        return arr
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return np.where(components == sizes.argmax(), arr, 0)


def test_monai_largest_component_transform_matches_the_reference_post_processing():
    """The bundles use MONAI's KeepLargestConnectedComponentd(independent=False) for the paper's post-processing."""
    lcc = KeepLargestConnectedComponentd(keys="pred", applied_labels=[1, 2, 3], independent=False)
    pred = np.zeros((10, 10), int)
    pred[1:5, 1:5] = 1
    pred[2:4, 2:4] = 3  # inside the big blob: kept with its class
    pred[8, 8] = 2  # an isolated voxel: removed
    pred[5, 5] = 2  # diagonal neighbour of the blob: connected with full connectivity
    out = lcc({"pred": torch.as_tensor(pred)[None]})["pred"][0].numpy()
    assert out[8, 8] == 0 and out[5, 5] == 2 and (out[2:4, 2:4] == 3).all() and out[1, 1] == 1
    rng = np.random.RandomState(0)
    for shape in [(12, 12), (6, 10, 10)]:
        for _ in range(5):
            arr = rng.randint(0, 4, size=shape) * (rng.rand(*shape) < 0.15)
            got = lcc({"pred": torch.as_tensor(arr)[None]})["pred"][0].numpy()
            np.testing.assert_array_equal(got, _reference_lcc(arr))
    empty = torch.zeros(1, 4, 4, dtype=torch.long)
    assert not lcc({"pred": empty})["pred"].any()  # an empty prediction passes (the reference code crashes)
