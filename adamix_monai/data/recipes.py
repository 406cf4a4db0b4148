# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Data recipes: the official downloads turned into the layouts the bundles read (``adamix-monai prepare``).

* **ACDC** (MICCAI 2017 challenge, ``training/patientXXX/patientXXX_frameYY[_gt].nii.gz``) -> the SSL4MIS layout
  (``data/<volume>.h5`` and ``data/slices/<volume>_slice_<k>.h5``, keys ``image`` float32 min-max normalised per
  volume to [0, 1] and ``label`` uint8, arrays ``(D, H, W)``; ``train.list``, ``val.list``, ``test.list``,
  ``train_slices.list``), as SSL4MIS's ``acdc_data_processing.py`` makes it: SimpleITK's ``(z, y, x)`` arrays are
  nibabel's ``(x, y, z)`` transposed. Slices are 1-based (``slice_k`` is ``volume[k - 1]``). The split is
  SSL4MIS's (70 / 10 / 20 patients; ``adamix_monai/data/splits/acdc``, copied from the SSL4MIS lists), and
  ``train_slices.list`` lists the training volumes in ``train.list`` order, so the first 3 / 7 / 14 patients (the
  paper's 5 / 10 / 20 % labeled sets) are SSL4MIS's. ``--format datalist`` writes a MONAI datalist over the NIfTI
  files instead (no copy).
* **LA** (2018 Atrial Segmentation Challenge, ``<ID>/lgemri.nrrd`` and ``<ID>/laendo.nrrd``) -> UA-MT's layout
  (``2018LA_Seg_Training Set/<ID>/mri_norm2.h5``, ``image`` float32 z-score normalised over the volume, ``label``
  uint8 {0, 1} from the endocardium mask 255, arrays ``(x, y, z)``, cropped around the atrium with margins drawn
  uniformly from 10-19 voxels in x, y and 5-9 in z, seeded; ``train.list`` 80 / ``test.list`` 20 ids, UA-MT's:
  ``adamix_monai/data/splits/la``). UA-MT's margins were random and unseeded, so its files differ from ours by
  their crop.
* **ISIC 2018 Task 1** (``ISIC2018_Task1-2_Training_Input/*.jpg``, ``ISIC2018_Task1_Training_GroundTruth/*.png``)
  is read as it comes; the recipe adds the reference's split lists (``train.list`` 1815, ``val.list`` 260,
  ``test.list`` 519; ``Senyh/AdaMix`` ``exp_isic/data/`` at commit ``85361fb9``, ``adamix_monai/data/splits/isic2018``)
  to a copy of the folder, or in place with ``--in_place``.

Every recipe writes into ``<output>.partial`` and renames it to ``<output>`` only when complete, so an interrupted
run leaves no half-written dataset; an existing ``<output>`` is refused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from adamix_monai.errors import BundleInputError

__all__ = ["SPLITS_DIR", "prepare_acdc", "prepare_isic", "prepare_la", "split_list"]

logger = logging.getLogger(__name__)

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
_ACDC_SOURCE = "https://www.creatis.insa-lyon.fr/Challenge/acdc/ (the 'training' folder of the challenge download)"
_LA_SOURCE = "the 2018 Atrial Segmentation Challenge training set (one folder per case: lgemri.nrrd, laendo.nrrd)"
_ISIC_SOURCE = "https://challenge.isic-archive.com/data/#2018 (Task 1 training input and ground truth)"


def split_list(dataset: str, split: str) -> list[str]:
    """The ids of one reference split (``acdc``/``la``/``isic2018``; ``train``, ``val``, ``test``)."""
    return (SPLITS_DIR / dataset / f"{split}.list").read_text().split()


def _fresh(output: Path) -> Path:
    """The partial folder of ``output`` (refusing an existing ``output``)."""
    if output.exists():
        raise BundleInputError(f"output '{output}' exists; give a new folder (nothing was written).")
    partial = output.with_name(output.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def _finish(partial: Path, output: Path, notes: dict) -> Path:
    (partial / "PREPARED.json").write_text(json.dumps(notes, indent=2) + "\n")
    os.replace(partial, output)
    return output


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def _check_present(wanted: Sequence[str], present: set[str], what: str, allow_missing: bool, source: str) -> list[str]:
    missing = [w for w in wanted if w not in present]
    if missing and not allow_missing:
        raise BundleInputError(
            f"{len(missing)} of the {len(wanted)} {what} of the reference split are not in the download (e.g. "
            f"'{missing[0]}'); give the complete download ({source}), or --allow_missing to prepare what is there."
        )
    return [w for w in wanted if w in present]


def _acdc_frames(download: Path) -> dict[str, tuple[Path, Path]]:
    """volume id -> (image, label) NIfTI files of an ACDC download (``training/``, ``database/training/`` or the
    patient folders themselves)."""
    roots = [download / "database" / "training", download / "training", download]
    root = next((r for r in roots if r.is_dir() and any(r.glob("patient*/patient*_frame*_gt.nii*"))), None)
    if root is None:
        raise BundleInputError(
            f"'{download}' is not an ACDC download: no 'training/patientXXX/patientXXX_frameYY_gt.nii.gz' found; get "
            f"it from {_ACDC_SOURCE} and give the folder that holds 'training'."
        )
    frames = {}
    for label in sorted(root.glob("patient*/patient*_frame*_gt.nii*")):
        image = label.with_name(label.name.replace("_gt", ""))
        if not image.is_file():
            raise BundleInputError(f"ACDC download: '{label}' has no image '{image.name}' beside it.")
        frames[label.name.split("_gt")[0]] = (image, label)
    return frames


def _acdc_arrays(image: Path, label: Path) -> tuple[np.ndarray, np.ndarray]:
    """SSL4MIS's arrays of one frame: ``(D, H, W)``, image min-max to [0, 1] (float32), label uint8."""
    import nibabel as nib

    x = np.asarray(nib.load(str(image)).dataobj, dtype=np.float32).transpose(2, 1, 0)
    y = np.asarray(nib.load(str(label)).dataobj).transpose(2, 1, 0)
    if x.shape != y.shape:
        raise BundleInputError(f"ACDC download: '{image}' {x.shape} and its label {y.shape} differ in shape.")
    span = float(x.max() - x.min())
    x = ((x - x.min()) / span if span > 0 else np.zeros_like(x)).astype(np.float32)
    return x, y.astype(np.uint8)


def prepare_acdc(
    download: str | os.PathLike, output: str | os.PathLike, fmt: str = "ssl4mis", allow_missing: bool = False
) -> Path:
    """ACDC's official download -> the SSL4MIS layout (or a MONAI datalist; module docstring).

    Args:
        download: the challenge download (the folder holding ``training/``).
        output: the folder to write (must not exist).
        fmt: ``ssl4mis`` (h5 files and lists, what ``--dataset_dir`` reads) or ``datalist`` (``datalist.json`` over
            the download's NIfTI files, for ``--datalist``; 10% labeled: the SSL4MIS 7 patients).
        allow_missing: prepare a partial download (the lists keep the volumes present).

    Returns:
        The output folder.
    """
    import h5py

    if fmt not in ("ssl4mis", "datalist"):
        raise BundleInputError(f"--format {fmt!r}: use 'ssl4mis' or 'datalist'.")
    download, output = Path(download), Path(output)
    frames = _acdc_frames(download)
    splits = {
        s: _check_present(split_list("acdc", s), set(frames), f"{s} volumes", allow_missing, _ACDC_SOURCE)
        for s in ("train", "val", "test")
    }
    partial = _fresh(output)
    try:
        if fmt == "datalist":
            patients = list(dict.fromkeys(v.split("_")[0] for v in split_list("acdc", "train")))[:7]
            pair = lambda v: {"image": str(frames[v][0].resolve()), "label": str(frames[v][1].resolve())}  # noqa: E731
            datalist = {
                "training": [pair(v) for v in splits["train"] if v.split("_")[0] in patients],
                "unlabeled": [{"image": pair(v)["image"]} for v in splits["train"] if v.split("_")[0] not in patients],
                "validation": [pair(v) for v in splits["val"]],
                "test": [pair(v) for v in splits["test"]],
            }
            (partial / "datalist.json").write_text(json.dumps(datalist, indent=2) + "\n")
        else:
            (partial / "data" / "slices").mkdir(parents=True)
            slices = []
            for split, volumes in splits.items():
                for vid in volumes:
                    image, label = _acdc_arrays(*frames[vid])
                    with h5py.File(partial / "data" / f"{vid}.h5", "w") as f:
                        f.create_dataset("image", data=image, compression="gzip")
                        f.create_dataset("label", data=label, compression="gzip")
                    if split == "train":
                        for k in range(image.shape[0]):
                            name = f"{vid}_slice_{k + 1}"
                            with h5py.File(partial / "data" / "slices" / f"{name}.h5", "w") as f:
                                f.create_dataset("image", data=image[k], compression="gzip")
                                f.create_dataset("label", data=label[k], compression="gzip")
                            slices.append(name)
                _write_lines(partial / f"{split}.list", volumes)
            _write_lines(partial / "train_slices.list", slices)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    counts = {s: len(v) for s, v in splits.items()}
    return _finish(partial, output, {"dataset": "ACDC", "format": fmt, "from": str(download), "volumes": counts})


def _la_cases(download: Path) -> dict[str, tuple[Path, Path]]:
    cases = {}
    for image in sorted(download.rglob("lgemri.nrrd")):
        label = image.with_name("laendo.nrrd")
        if not label.is_file():
            raise BundleInputError(f"LA download: '{image.parent}' has lgemri.nrrd but no laendo.nrrd.")
        cases[image.parent.name] = (image, label)
    if not cases:
        raise BundleInputError(f"'{download}' is not an LA download: no '<ID>/lgemri.nrrd' found ({_LA_SOURCE}).")
    return cases


def _read_xyz(path: Path) -> np.ndarray:
    """A volume as an ``(x, y, z)`` array (as pynrrd and UA-MT read it)."""
    from monai.data import ITKReader

    reader = ITKReader()
    array, _ = reader.get_data(reader.read(str(path)))
    return np.asarray(array)


def la_crop(label: np.ndarray, rng: np.random.RandomState) -> tuple[slice, ...]:
    """The crop around the atrium: its bounding box, widened by margins of 10-19 (x, y) and 5-9 (z) voxels."""
    nonzero = np.nonzero(label)
    if not nonzero[0].size:
        raise ValueError("the label is empty")
    out = []
    for axis, (low, high) in enumerate(((10, 20), (10, 20), (5, 10))):
        lo, hi = int(nonzero[axis].min()), int(nonzero[axis].max()) + 1
        out.append(slice(max(lo - rng.randint(low, high), 0), min(hi + rng.randint(low, high), label.shape[axis])))
    return tuple(out)


def prepare_la(
    download: str | os.PathLike, output: str | os.PathLike, seed: int = 0, allow_missing: bool = False
) -> Path:
    """The LA challenge's training set -> UA-MT's h5 layout (module docstring).

    Args:
        download: the folder holding the case folders (searched recursively for ``lgemri.nrrd``).
        output: the folder to write (must not exist).
        seed: seeds the crop margins.
        allow_missing: prepare a partial download.

    Returns:
        The output folder.
    """
    import h5py

    download, output = Path(download), Path(output)
    cases = _la_cases(download)
    splits = {
        s: _check_present(split_list("la", s), set(cases), f"{s} cases", allow_missing, _LA_SOURCE)
        for s in ("train", "test")
    }
    rng = np.random.RandomState(seed)
    partial = _fresh(output)
    try:
        for split, ids in splits.items():
            for case in ids:
                image = _read_xyz(cases[case][0]).astype(np.float32)
                label = (_read_xyz(cases[case][1]) > 0).astype(np.uint8)
                if image.shape != label.shape:
                    raise BundleInputError(f"LA download: case '{case}' image {image.shape} and label {label.shape}.")
                try:
                    crop = la_crop(label, rng)
                except ValueError:
                    raise BundleInputError(f"LA download: the label of case '{case}' is empty.") from None
                image = ((image - image.mean()) / max(float(image.std()), 1e-8)).astype(np.float32)
                folder = partial / "2018LA_Seg_Training Set" / case
                folder.mkdir(parents=True)
                with h5py.File(folder / "mri_norm2.h5", "w") as f:
                    f.create_dataset("image", data=image[crop], compression="gzip")
                    f.create_dataset("label", data=label[crop], compression="gzip")
            _write_lines(partial / f"{split}.list", ids)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    counts = {s: len(v) for s, v in splits.items()}
    return _finish(partial, output, {"dataset": "LA", "from": str(download), "seed": seed, "cases": counts})


def prepare_isic(
    download: str | os.PathLike,
    output: str | os.PathLike | None = None,
    in_place: bool = False,
    allow_missing: bool = False,
) -> Path:
    """ISIC 2018 Task 1 with the reference's split lists (module docstring).

    Args:
        download: the folder holding ``ISIC2018_Task1-2_Training_Input`` and ``ISIC2018_Task1_Training_GroundTruth``.
        output: where the copy goes (must not exist); not with ``in_place``.
        in_place: write the three lists into ``download`` instead of copying it.
        allow_missing: prepare a partial download (the lists keep the images present).

    Returns:
        The folder the bundle reads.
    """
    download = Path(download)
    inputs, truths = download / "ISIC2018_Task1-2_Training_Input", download / "ISIC2018_Task1_Training_GroundTruth"
    if not inputs.is_dir() or not truths.is_dir():
        raise BundleInputError(
            f"'{download}' is not an ISIC 2018 Task 1 download: it needs '{inputs.name}/' and '{truths.name}/' "
            f"({_ISIC_SOURCE})."
        )
    present = {p.stem for p in inputs.glob("ISIC_*.jpg")}
    masks = {p.stem.removesuffix("_segmentation") for p in truths.glob("ISIC_*_segmentation.png")}
    if present - masks:
        raise BundleInputError(f"ISIC download: image '{sorted(present - masks)[0]}' has no *_segmentation.png mask.")
    splits = {
        s: _check_present(split_list("isic2018", s), present, f"{s} images", allow_missing, _ISIC_SOURCE)
        for s in ("train", "val", "test")
    }
    if in_place:
        if output is not None:
            raise BundleInputError("give either --output or --in_place, not both.")
        existing = [s for s in splits if (download / f"{s}.list").exists()]
        if existing:
            raise BundleInputError(f"'{download / (existing[0] + '.list')}' exists; remove the lists to write them.")
        for split, ids in splits.items():
            tmp = download / f".{split}.list.partial"
            _write_lines(tmp, ids)
            os.replace(tmp, download / f"{split}.list")
        return download
    if output is None:
        raise BundleInputError("give --output <folder> (a copy with the lists) or --in_place.")
    output = Path(output)
    partial = _fresh(output)
    try:
        for folder in (inputs, truths):
            shutil.copytree(folder, partial / folder.name)
        for split, ids in splits.items():
            _write_lines(partial / f"{split}.list", ids)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    counts = {s: len(v) for s, v in splits.items()}
    source = "Senyh/AdaMix exp_isic/data/{train,val,test}.list at 85361fb9"
    return _finish(partial, output, {"dataset": "ISIC2018", "from": str(download), "lists": source, "images": counts})
