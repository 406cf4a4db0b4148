# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""ISIC 2018 Task 1: both layouts, lists and the seeded 7:1:2 split, labeled subsets, mask checks, RGB views."""

from __future__ import annotations

import colorsys
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.transforms import HistogramNormalize, SaveImage
from PIL import Image

from adamix_monai.data.io import isic_loading
from adamix_monai.data.labels import EnsureBinaryMask, EnsureBinaryMaskd
from adamix_monai.data.sources import ISIC, split_sizes
from adamix_monai.data.views import isic_eval_preprocessing, isic_views
from adamix_monai.data.views import (
    IMAGENET_MEAN_STD,
    EqualizeHistogramd,
    PILLikeResized,
    RandColorJitterd,
    RandPosterized,
    shift_hue,
    weak_strong_views_2d,
)
from adamix_monai.workflows.bundle import BundleInputError, require_dataset
from tests.helpers.isic_fixtures import OFFICIAL_IMAGES, OFFICIAL_MASKS, lesion_mask, make_mini_isic

REPO_ROOT = Path(__file__).resolve().parents[2]
MEAN = torch.tensor(IMAGENET_MEAN_STD[0]).reshape(3, 1, 1)
STD = torch.tensor(IMAGENET_MEAN_STD[1]).reshape(3, 1, 1)


def _unnormalise(x) -> torch.Tensor:
    return torch.as_tensor(x) * STD + MEAN


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> str:
    (Image.fromarray(array) if mode is None else Image.fromarray(array, mode=mode)).save(path)
    return str(path)


def _raises(error: type[Exception], match: str, fn, *args) -> None:
    """``fn(*args)`` raises ``error`` matching ``match``, directly or as the cause of MONAI's ``RuntimeError``
    ("applying transform ..."), which is what a ``Compose`` raises around a transform's error."""
    with pytest.raises((error, RuntimeError)) as info:
        fn(*args)
    exc: BaseException | None = info.value
    while exc is not None and not isinstance(exc, error):
        exc = exc.__cause__
    assert exc is not None, f"no {error.__name__} in the chain of {info.value!r}"
    assert re.search(match, str(exc)), f"'{match}' not in '{exc}'"


def labeled(source, fraction: float) -> list:
    """The labeled items of ``source`` at another labeled fraction."""
    source.labeled_fraction = fraction
    return source.labeled_items()


# --- the dataset folder -----------------------------------------------------------------------------------------


def test_plain_layout_with_lists(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path / "isic", n=10))
    assert ds.layout == "plain" and ds.lists_given
    ids = [f"IMG{i:03d}" for i in range(10)]
    assert ds.ids == ids
    # list order is kept; CRLF, a trailing blank line and ids given with an extension are tolerated
    assert ds.split_ids("train") == ids[::-1][:7]
    assert ds.split_ids("val") == ["IMG002"] and ds.split_ids("test") == ["IMG001", "IMG000"]
    item = labeled(ds, 0.5)[0]
    assert item == {
        "image": str(tmp_path / "isic" / "images" / "IMG009.jpg"),
        "label": str(tmp_path / "isic" / "masks" / "IMG009_segmentation.png"),
        "id": "IMG009",
    }
    unlabeled = ds.unlabeled_items()
    assert [u["id"] for u in unlabeled] == ds.split_ids("train")  # labeled images stream too (reference)
    assert all(set(u) == {"image", "id"} for u in unlabeled)  # no label path reachable
    rest = ISIC(tmp_path / "isic", labeled_fraction=0.5).unlabeled_items(include_labeled=False)
    assert [u["id"] for u in rest] == ds.split_ids("train")[3:]
    assert [v["id"] for v in ds.items("val")] == ["IMG002"] == [v["id"] for v in ds.items("validation")]
    assert [t["id"] for t in ds.items("test")] == ["IMG001", "IMG000"]
    assert [t["id"] for t in ds.items("train")] == ds.split_ids("train")
    with pytest.raises(ValueError, match="unknown split 'training'"):
        ds.items("training")
    with pytest.raises(ValueError, match="split must be"):
        ds.split_ids("validation")


def test_plain_layout_masks_without_suffix(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path, n=10, mask_suffix=""))
    assert ds.mask_path("IMG004") == str(tmp_path / "masks" / "IMG004.png")
    (tmp_path / "masks" / "IMG004_segmentation.png").write_bytes((tmp_path / "masks" / "IMG004.png").read_bytes())
    with pytest.raises(ValueError, match="two masks for id 'IMG004'"):
        ISIC(tmp_path)


def test_official_layout(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path, layout="official", n=10, lists=False))
    assert ds.layout == "official" and not ds.lists_given
    assert ds.ids == [f"ISIC_{i:07d}" for i in range(10)]  # LICENSE.txt / ATTRIBUTION.txt are ignored
    item = ds.items("test")[0]
    assert item["image"].endswith(f"{OFFICIAL_IMAGES}/{item['id']}.jpg")
    assert item["label"].endswith(f"{OFFICIAL_MASKS}/{item['id']}_segmentation.png")
    with pytest.raises(FileNotFoundError, match="not in the plain layout; missing folder"):
        ISIC(tmp_path, layout="plain")


def test_seeded_split_without_lists(tmp_path):
    root = make_mini_isic(tmp_path, n=20, lists=False)
    a, b, other = ISIC(root, seed=0), ISIC(root, seed=0), ISIC(root, seed=1)
    assert {k: len(v) for k, v in a.splits.items()} == {"train": 14, "val": 2, "test": 4}
    assert a.splits == b.splits  # deterministic
    assert a.splits != other.splits  # and seeded
    everything = a.split_ids("train") + a.split_ids("val") + a.split_ids("test")
    assert sorted(everything) == a.ids  # disjoint and covering
    assert a.split_ids("train") != sorted(a.split_ids("train"))  # shuffled: the labeled subset is a random one
    assert split_sizes(2594) == (1815, 260, 519)  # the paper's ISIC lists
    assert split_sizes(200) == (140, 20, 40) and split_sizes(10) == (7, 1, 2)


def test_labeled_fractions(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path, n=40))
    train = ds.split_ids("train")
    assert len(train) == 28
    assert ds.labeled_ids(0.05) == train[:1]  # int(1.4)
    assert ds.labeled_ids(0.1) == train[:2]  # int(2.8)
    assert ds.labeled_ids(0.2) == train[:5]
    assert ds.labeled_ids(0.001) == train[:1]  # at least one
    assert ds.labeled_ids(1.0) == train
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
            labeled(ds, bad)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder.*official layout.*plain layout.*ISIC archive"):
        ISIC(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="not an ISIC 2018 Task 1 folder.*challenge.isic-archive.com.*PH2"):
        ISIC(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="it has only 'images'"):
        ISIC(tmp_path)
    (tmp_path / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        ISIC(tmp_path)
    with pytest.raises(ValueError, match="layout must be"):
        ISIC(tmp_path, layout="isic")
    # the bundles turn these into one line naming the option
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleInputError, match="not an ISIC 2018.*Set the folder with --dataset_dir"):
        require_dataset(ISIC, str(tmp_path / "empty"))


def test_missing_pairs(tmp_path):
    root = make_mini_isic(tmp_path / "a", n=10)
    (root / "masks" / "IMG003_segmentation.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing pair: image '.*IMG003\.jpg' has no mask"):
        ISIC(root)
    root = make_mini_isic(tmp_path / "b", n=10)
    (root / "images" / "IMG005.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing pair: mask '.*IMG005_segmentation\.png' has no image"):
        ISIC(root)
    root = make_mini_isic(tmp_path / "c", n=10)
    (root / "images" / "IMG005.png").write_bytes(b"")
    with pytest.raises(ValueError, match="two images for id 'IMG005'"):
        ISIC(root)


def test_list_errors(tmp_path):
    root = make_mini_isic(tmp_path / "a", n=10)
    (root / "val.list").unlink()
    with pytest.raises(FileNotFoundError, match="has train.list, test.list but not val.list"):
        ISIC(root)
    root = make_mini_isic(tmp_path / "b", n=10)
    (root / "test.list").write_text("IMG000\nIMG042\n")
    with pytest.raises(FileNotFoundError, match=r"test\.list' names 1 id\(s\) with no image and mask.*'IMG042'"):
        ISIC(root)
    root = make_mini_isic(tmp_path / "c", n=10)
    (root / "test.list").write_text("IMG000\nIMG009\n")  # IMG009 is also in train.list
    with pytest.raises(ValueError, match="'IMG009' is in both the train and the test split"):
        ISIC(root)
    (root / "test.list").write_text("\n")
    with pytest.raises(ValueError, match="test split .* is empty"):
        ISIC(root)
    with pytest.raises(ValueError, match="split of 3.*is empty"):
        ISIC(make_mini_isic(tmp_path / "d", n=3, lists=False))


# --- loading: axes, image modes, mask checks --------------------------------------------------------------------


def test_loading_keeps_rows_and_columns(tmp_path):
    image = np.zeros((30, 40, 3), np.uint8)
    image[3, 17] = (255, 10, 20)
    mask = np.zeros((30, 40), np.uint8)
    mask[3, 17] = 255
    item = {"image": _save(tmp_path / "x.png", image), "label": _save(tmp_path / "x_segmentation.png", mask)}
    out = isic_loading()(item)
    assert out["image"].shape == (3, 30, 40) and out["label"].shape == (1, 30, 40)  # (C, H, W), not (C, W, H)
    assert torch.allclose(out["image"][:, 3, 17], torch.tensor([1.0, 10 / 255, 20 / 255]))
    assert out["label"][0, 3, 17] == 1 and out["label"].sum() == 1
    # the documented way back to a PNG
    saver = SaveImage(output_dir=tmp_path / "out", output_ext=".png", writer="PILWriter", output_dtype=np.uint8)
    saver.set_options(init_kwargs={"scale": 255}, write_kwargs={"reverse_indexing": False})
    saver(out["label"])
    saved = next((tmp_path / "out").rglob("*.png"))
    assert np.array_equal(np.asarray(Image.open(saved)), mask)


def test_image_modes_become_rgb(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (12, 16), dtype=np.uint8)
    rgba = np.dstack([gray, gray // 2, gray // 3, np.full_like(gray, 7)])
    load = isic_loading(label_key=None)
    out = load({"image": _save(tmp_path / "g.jpg", gray, "L")})["image"]
    assert out.shape == (3, 12, 16) and torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])
    out = load({"image": _save(tmp_path / "a.png", rgba, "RGBA")})["image"]
    assert out.shape == (3, 12, 16)  # alpha dropped, as PIL's convert("RGB") in the reference
    assert torch.allclose(out * 255, torch.as_tensor(rgba[..., :3].transpose(2, 0, 1), dtype=torch.float32))
    deep = _save(tmp_path / "d.png", gray.astype(np.uint16) * 200)  # a 16-bit grayscale PNG
    _raises(ValueError, r"d\.png' has PIL mode 'I;16'", load, {"image": deep})  # no silent fallback reader
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    _raises(OSError, "cannot identify image file", load, {"image": str(tmp_path / "broken.jpg")})


def _mask_item(tmp_path, mask: np.ndarray, mode: str | None = None) -> dict:
    image = np.zeros(mask.shape[:2] + (3,), np.uint8)
    return {"image": _save(tmp_path / "i.png", image), "label": _save(tmp_path / "m_segmentation.png", mask, mode)}


def test_masks_accepted(tmp_path):
    binary = lesion_mask(0, (20, 24))
    load = isic_loading()
    for array, mode in [
        (binary.astype(np.uint8) * 255, "L"),
        (binary.astype(np.uint8), "L"),
        (np.repeat(binary[..., None].astype(np.uint8) * 255, 3, -1), "RGB"),  # a gray mask stored as RGB
        (np.dstack([binary.astype(np.uint8) * 255] * 3 + [np.full(binary.shape, 255, np.uint8)]), "RGBA"),
        (binary, None),  # a bool array: PIL mode "1"
    ]:
        label = load(_mask_item(tmp_path, array, mode))["label"]
        assert label.shape == (1, 20, 24), mode
        assert torch.equal(label[0].bool(), torch.as_tensor(binary)), mode
    palette = Image.fromarray(binary.astype(np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.save(tmp_path / "m_segmentation.png")
    label = load({"image": str(tmp_path / "i.png"), "label": str(tmp_path / "m_segmentation.png")})["label"]
    assert torch.equal(label[0].bool(), torch.as_tensor(binary))
    empty = EnsureBinaryMask()(torch.zeros(1, 4, 4))
    assert empty.shape == (1, 4, 4) and empty.sum() == 0


def test_masks_rejected(tmp_path):
    binary = lesion_mask(1, (20, 24)).astype(np.uint8) * 255
    load = isic_loading()
    colour = np.dstack([binary, binary // 2, np.zeros_like(binary)])
    _raises(
        ValueError,
        r"m_segmentation\.png' is a colour mask \(3 channels\) whose channels differ",
        load,
        _mask_item(tmp_path, colour, "RGB"),
    )
    three = binary.copy()
    three[0, :4] = 128
    _raises(
        ValueError,
        r"m_segmentation\.png' has values \{0, 128, 255\} \(3 distinct\)",
        load,
        _mask_item(tmp_path, three, "L"),
    )
    Image.fromarray(binary).save(tmp_path / "lossy.jpg", quality=50)  # a mask that went through JPEG
    noisy = np.asarray(Image.open(tmp_path / "lossy.jpg"))
    assert len(np.unique(noisy)) > 2
    _raises(ValueError, r"distinct\); expected \{0, 255\} or \{0, 1\}.*JPEG", load, _mask_item(tmp_path, noisy, "L"))
    with pytest.raises(ValueError, match="key 'label' has 5 channels"):
        EnsureBinaryMaskd(keys="label")({"label": torch.zeros(5, 4, 4)})
    item = {
        "image": _save(tmp_path / "small.png", np.zeros((10, 24, 3), np.uint8)),
        "label": _mask_item(tmp_path, binary)["label"],
    }
    _raises(ValueError, r"mask '.*m_segmentation\.png' is \(20, 24\) but image '.*small\.png' is", load, item)


# --- RGB photometric transforms ---------------------------------------------------------------------------------


def test_rgb_jitter_acts_on_all_channels_alike():
    x = torch.rand(3, 8, 8) * 0.5 + 0.1
    brightness = RandColorJitterd(keys="x", brightness=0.5, contrast=0.0, prob=1.0)
    brightness.set_random_state(0)
    y = brightness({"x": x})["x"]
    ratio = y / x
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), atol=1e-5)  # one factor for R, G and B
    contrast = RandColorJitterd(keys="x", brightness=0.0, contrast=0.5, prob=1.0)
    contrast.set_random_state(1)
    y = contrast({"x": x})["x"]
    slope = (y[:, 0, 0] - y[:, 1, 1]) / (x[:, 0, 0] - x[:, 1, 1])  # one blend, around the mean luminance
    assert torch.allclose(slope, slope[:1].expand(3), atol=1e-4)
    # saturation and hue leave gray pixels gray; with them the four operations are drawn in a random order
    gray = torch.rand(1, 8, 8).expand(3, 8, 8).clone()
    jitter = RandColorJitterd(keys="x", brightness=0.0, contrast=0.0, saturation=0.5, hue=0.05, prob=1.0)
    orders = set()
    for seed in range(8):
        jitter.set_random_state(seed)
        assert torch.allclose(jitter({"x": gray})["x"], gray, atol=1e-5)
        orders.add(tuple(jitter._order))
    assert len(orders) > 1
    with pytest.raises(ValueError, match="hue must be"):
        RandColorJitterd(keys="x", hue=0.6)


def test_saturation_and_hue():
    x = torch.tensor([0.8, 0.4, 0.2]).reshape(3, 1, 1).repeat(1, 2, 2)
    jitter = RandColorJitterd(keys="x", brightness=0.0, contrast=0.0, saturation=0.5, hue=0.0, prob=1.0)
    jitter.set_random_state(3)
    y = jitter({"x": x})["x"]
    s = jitter._factors[2]
    luma = 0.299 * 0.8 + 0.587 * 0.4 + 0.114 * 0.2
    assert torch.allclose(y[:, 0, 0], ((torch.tensor([0.8, 0.4, 0.2]) - luma) * s + luma).clamp(0, 1), atol=1e-6)
    rng = np.random.default_rng(0)
    pixels = torch.as_tensor(rng.random((3, 5, 5)), dtype=torch.float32)
    for shift in (0.0, 0.05, -0.3):
        out = shift_hue(pixels, shift)
        for i in range(5):
            h, sat, v = colorsys.rgb_to_hsv(*pixels[:, i, i].tolist())
            assert np.allclose(colorsys.hsv_to_rgb((h + shift) % 1.0, sat, v), out[:, i, i].tolist(), atol=1e-5)
    with pytest.raises(ValueError, match="expected an RGB image"):
        shift_hue(torch.rand(1, 4, 4), 0.1)


def test_posterize_and_equalize():
    x = torch.rand(3, 6, 6)
    post = RandPosterized(keys="x", bits=5, prob=1.0)({"x": x})["x"]
    levels = post * 255
    assert torch.allclose(levels, torch.round(levels)) and torch.all(torch.round(levels) % 8 == 0)
    assert torch.equal(RandPosterized(keys="x", prob=0.0)({"x": x})["x"], x)
    with pytest.raises(ValueError, match="bits must be"):
        RandPosterized(keys="x", bits=0)
    y = torch.rand(1, 6, 6)
    eq = EqualizeHistogramd(keys="y")({"y": y})["y"]
    assert torch.allclose(torch.as_tensor(eq), torch.as_tensor(HistogramNormalize(min=0, max=1)(y)))
    rgb = torch.stack([torch.rand(6, 6), torch.rand(6, 6) * 0.1, torch.rand(6, 6) * 0.5 + 0.5])
    eq = torch.as_tensor(EqualizeHistogramd(keys="x")({"x": rgb})["x"])
    assert eq.shape == (3, 6, 6) and torch.allclose(eq.amax((1, 2)), torch.ones(3))  # every channel stretched


def test_resize_matches_pil():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (75, 101, 3), dtype=np.uint8)
    mask = (rng.random((75, 101)) > 0.5).astype(np.uint8) * 255
    item = {"image": torch.as_tensor(image).permute(2, 0, 1) / 255.0, "label": torch.as_tensor(mask)[None] / 255.0}
    out = PILLikeResized(keys=["image", "label"], spatial_size=(32, 24), mode=["bilinear", "nearest"])(item)
    assert out["image"].shape == (3, 32, 24) and out["image"].dtype == torch.float32
    pil_image = np.asarray(Image.fromarray(image).resize((24, 32), Image.BILINEAR)).transpose(2, 0, 1) / 255.0
    pil_mask = np.asarray(Image.fromarray(mask).resize((24, 32), Image.NEAREST)) / 255.0
    assert np.abs(out["image"].numpy() - pil_image).max() <= 2 / 255  # PIL rounds to 8 bits
    assert np.array_equal(out["label"][0].numpy(), pil_mask)
    with pytest.raises(ValueError, match="mode must be"):
        PILLikeResized(keys="image", spatial_size=(4, 4), mode="bicubic")


def test_grayscale_views_have_no_rgb_steps():
    names = [type(t).__name__ for t in weak_strong_views_2d().transforms]
    assert "RandPosterized" not in names and "NormalizeIntensityd" not in names and "PILLikeResized" not in names


# --- the ISIC views ---------------------------------------------------------------------------------------------


def test_views_shapes_and_normalisation(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path, n=10, size=(30, 40)))
    views = isic_views(spatial_size=(32, 32))
    assert type(views.transforms[0]).__name__ == "LoadPILImaged"  # flat: CacheDataset caches the loading
    pickle.loads(pickle.dumps(views))  # picklable for DataLoader workers
    strong_differs = 0
    for seed in range(6):
        views.set_random_state(seed)
        out = views(labeled(ds, 1.0)[seed])
        assert out["image"].shape == out["image_strong"].shape == (3, 32, 32)
        assert out["label"].shape == (1, 32, 32)
        assert out["image"].dtype == out["image_strong"].dtype == torch.float32
        assert set(torch.unique(out["label"]).tolist()) <= {0.0, 1.0}
        for key in ("image", "image_strong"):  # both views normalised, after the photometric changes
            raw = _unnormalise(out[key])
            assert float(raw.min()) >= -1e-5 and float(raw.max()) <= 1 + 1e-5
        strong_differs += int(not torch.allclose(out["image"], out["image_strong"]))
    assert strong_differs == 6  # the blur is always applied
    unlabeled = isic_views(spatial_size=(32, 32), label_key=None)(ds.unlabeled_items()[0])
    assert "label" not in unlabeled and unlabeled["image"].shape == (3, 32, 32)
    weak_only = isic_views(spatial_size=(32, 32), strong=False)(labeled(ds, 1.0)[0])
    assert "image_strong" not in weak_only


def test_eval_preprocessing_normalises_exactly(tmp_path):
    colour = np.array([200, 100, 50], np.uint8)
    image = np.broadcast_to(colour, (30, 40, 3)).copy()
    mask = lesion_mask(2, (30, 40)).astype(np.uint8) * 255
    item = {"image": _save(tmp_path / "c.png", image), "label": _save(tmp_path / "c_segmentation.png", mask)}
    out = isic_eval_preprocessing(spatial_size=(16, 16))(item)
    assert out["image"].shape == (3, 16, 16) and out["label"].shape == (1, 16, 16)
    expected = (torch.tensor(colour / 255.0, dtype=torch.float32).reshape(3, 1, 1) - MEAN) / STD
    assert torch.allclose(torch.as_tensor(out["image"]), expected.expand(3, 16, 16), atol=1e-5)
    assert set(torch.unique(out["label"]).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("seed", range(8))
def test_views_move_image_and_label_together(tmp_path, seed):
    ds = ISIC(make_mini_isic(tmp_path, n=10, size=(48, 64)))
    views = isic_views(spatial_size=(48, 48))
    views.set_random_state(seed)
    out = views(labeled(ds, 1.0)[seed % 7])
    raw = _unnormalise(out["image"])
    label = torch.as_tensor(out["label"])[0].bool()
    # the rotation fills with black, so read the lesion as dark *and* brownish-red (r > b), not as dark alone
    lesion = (raw.mean(0) < 0.4) & (raw[0] > raw[2] + 0.05)
    assert (lesion == label).float().mean() > 0.9
    rows, cols = torch.nonzero(label, as_tuple=True)
    lrows, lcols = torch.nonzero(lesion, as_tuple=True)
    assert abs(rows.float().mean() - lrows.float().mean()) < 2 and abs(cols.float().mean() - lcols.float().mean()) < 2


def test_views_do_move_the_lesion(tmp_path):
    ds = ISIC(make_mini_isic(tmp_path, n=10, size=(48, 64)))
    views = isic_views(spatial_size=(48, 48), strong=False)
    item = labeled(ds, 1.0)[0]
    centres = set()
    for seed in range(12):
        views.set_random_state(seed)
        rows, cols = torch.nonzero(torch.as_tensor(views(item)["label"])[0], as_tuple=True)
        centres.add((round(float(rows.float().mean()) / 4), round(float(cols.float().mean()) / 4)))
    assert len(centres) >= 3  # flips and rotations happened, and the label went with the image (test above)


# --- the real stand-in -----------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_ph2(ph2_dir):
    ds = ISIC(ph2_dir)
    assert ds.layout == "plain" and ds.lists_given
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 140, "val": 20, "test": 40}
    assert len(labeled(ds, 0.05)) == 7 and len(labeled(ds, 0.1)) == 14
    assert ds.labeled_ids(0.05) == ds.split_ids("train")[:7]
    item = labeled(ds, 0.05)[0]
    views = isic_views()
    views.set_random_state(0)
    out = views(item)
    assert out["image"].shape == out["image_strong"].shape == (3, 256, 256)
    assert out["label"].shape == (1, 256, 256)
    assert set(torch.unique(out["label"]).tolist()) == {0.0, 1.0}
    native = Image.open(item["image"])
    loaded = isic_loading()(item)
    assert loaded["image"].shape == (3, native.height, native.width) and loaded["label"].shape[1:] == (
        native.height,
        native.width,
    )
    test = isic_eval_preprocessing()(ds.items("test")[0])
    assert test["image"].shape == (3, 256, 256) and set(torch.unique(test["label"]).tolist()) <= {0.0, 1.0}


def test_unusable_isic_pairs_are_named_before_a_run(tmp_path):
    from adamix_monai.errors import DatasetError, InputError

    root = make_mini_isic(tmp_path / "isic", layout="plain", n=10)
    isic = ISIC(root)
    train = isic.split_ids("train")
    mask = lambda case: Path(isic.mask_path(case))  # noqa: E731
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(mask(train[0]))  # another size than its image
    Image.fromarray(np.array([[0, 1], [255, 0]], np.uint8).repeat(15, 0).repeat(20, 1)).save(mask(train[1]))
    Image.fromarray(np.full((30, 40), 300, np.uint16)).save(Path(isic.image_path(train[2])).with_suffix(".png"))
    Path(isic.image_path(train[2])).unlink()
    Path(isic.image_path(train[3])).write_bytes(b"not a jpeg")
    isic = ISIC(root)
    with pytest.raises(DatasetError) as info:
        labeled(isic, 1.0)
    text = str(info.value)
    assert isinstance(info.value, InputError) and "labeled images: 4 unusable pair(s)" in text
    assert f"mask '{mask(train[0])}' is 40x20, its image 40x30" in text
    assert "has values {0, 1, 255}" in text and "PIL mode 'I;16'" in text and "cannot be read as an image" in text
    assert len(labeled(ISIC(root, check=False), 1.0)) == len(train)
    assert len(isic.items("val")) == len(isic.split_ids("val"))  # the other splits are intact
