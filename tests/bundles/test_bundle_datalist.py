# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Own data end to end: a datalist of NIfTI volumes (real ACDC converted, as a user's data arrives), PNG/JPG images
(ISIC) and 3D NIfTI (LA) trained with every paradigm, evaluated in mm, segmented by ``adamix-monai infer``, and bad
input stopped before anything is written. Also MONAI Label's way of training: NIfTI pairs in ``train#dataset#data``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from adamix_monai.metrics import case_metrics
from tests.helpers.acdc_fixtures import make_mini_acdc
from tests.helpers.acdc_nifti import SPACING, write_datalist
from tests.helpers.bundle_runs import bundle_run, check
from tests.conftest import DATA_DIR, REPO_ROOT
from tests.helpers.isic_fixtures import make_mini_isic

TINY_2D = [
    "--image_size", "[32,32]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
    "--cache_rate", "0", "--log_every", "1", "--history_every", "1", "--progress", "False",
]  # fmt: skip


def cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``adamix-monai <args>`` as a user runs it (one OpenMP thread)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "adamix_monai", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def absolute(datalist: Path, entries: list[dict[str, str]]) -> list[dict[str, str]]:
    """Datalist entries with their paths made absolute (so the list can move)."""
    return [{k: str(datalist.parent / v) for k, v in e.items()} for e in entries]


@pytest.fixture(scope="module")
def acdc_source(tmp_path_factory) -> Path:
    """Real ACDC when present (the point of this test), else the synthetic mini ACDC in the same layout."""
    real = DATA_DIR / "ACDC"
    return real if (real / "train_slices.list").is_file() else make_mini_acdc(tmp_path_factory.mktemp("acdc"))


@pytest.fixture(scope="module")
def acdc_datalist(acdc_source, tmp_path_factory) -> Path:
    return write_datalist(acdc_source, tmp_path_factory.mktemp("own_acdc"), labeled=2, unlabeled=2)


@pytest.mark.parametrize(
    "paradigm,mix,method",
    [
        ("supervised", "none", "Supervised"),
        ("self_training", "adamix", "AdaMix-ST"),
        ("mean_teacher", "umix", "UMix-MT"),
        ("co_training", "cutmix", "CutMix-CT"),
    ],
)
def test_every_paradigm_trains_from_a_datalist(acdc_datalist, tmp_path, paradigm, mix, method):
    common = ["--datalist", str(acdc_datalist), "--profile", "cpu", "--paradigm", paradigm, "--mix", mix]
    common += ["--bundle_root", str(tmp_path), *TINY_2D]
    check(cli("train", "acdc", *common))
    run = tmp_path / "runs" / f"{paradigm}-{mix}-2labeled-seed1"
    assert (run / "model.pt").is_file() and (tmp_path / "models" / "model.pt").is_file()
    # the training size travels with the published weights, so inference and MONAI Label use it
    assert json.loads((tmp_path / "models" / "model.json").read_text()) == {"image_size": [32, 32], "num_classes": 4}
    with open(run / "history.csv") as f:
        assert [int(r["iteration"]) for r in csv.DictReader(f)] == [1, 2]
    if paradigm != "self_training":
        return
    proc = cli("evaluate", "acdc", *common)
    check(proc)
    assert f"| {method} | 2labeled |" in proc.stdout
    out = run / "eval-test-best"
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {r["class_name"] for r in rows} == {"RV", "Myo", "LV"}
    # HD95/ASD in mm: the label files' voxel size, slices first as the network saw them
    case = np.load(next((out / "cases").glob("*.npz")))
    spacing = (SPACING[2], SPACING[0], SPACING[1])
    expected = case_metrics(case["prediction"], case["label"], 4, spacing=spacing)
    for row in rows:
        got, want = float(row["hd95"]), expected[int(row["class"])]["hd95"]
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["honest"]["cases"] == 1

    # inference on the test volumes with the trained model: shape and affine of each input kept
    inputs = acdc_datalist.parent / "imagesTs"
    proc = cli("infer", "acdc", str(inputs), "--output_dir", str(tmp_path / "pred"),
               "--checkpoint", str(run / "model.pt"))  # fmt: skip
    check(proc)
    for source in sorted(inputs.glob("*.nii.gz")):
        pred = nib.load(tmp_path / "pred" / source.name.replace(".nii.gz", "_seg.nii.gz"))
        image = nib.load(source)
        assert pred.shape == image.shape
        np.testing.assert_allclose(pred.affine, image.affine)
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1, 2, 3}


def test_bad_datalist_stops_before_any_output(acdc_datalist, tmp_path):
    data = json.loads(acdc_datalist.read_text())
    first = data["training"][0]
    label = nib.load(acdc_datalist.parent / first["label"])
    wrong = np.asarray(label.dataobj).copy()
    wrong[0, 0, 0] = 5
    nib.save(nib.Nifti1Image(wrong, label.affine), tmp_path / "five.nii.gz")
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b truncated")
    data = {key: absolute(acdc_datalist, entries) for key, entries in data.items()}
    data["training"].append(dict(data["training"][0], label=str(tmp_path / "five.nii.gz")))
    data["unlabeled"].append({"image": str(tmp_path / "broken.nii.gz")})
    data["test"].append({"image": str(tmp_path / "gone.nii.gz"), "label": str(tmp_path / "gone.nii.gz")})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    root = tmp_path / "root"
    proc = cli("train", "acdc", "--datalist", str(bad), "--bundle_root", str(root), *TINY_2D)
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err  # one line for every problem
    assert "has 3 problem(s)" in err and "Traceback" not in err
    assert "training[2]" in err and "unexpected values {5}" in err
    assert "unlabeled[2] (broken.nii.gz): image: cannot read" in err
    assert "test[1] (gone.nii.gz): image:" in err and "does not exist" in err
    assert not root.exists()  # nothing written: no run folder, no model
    proc = bundle_run("adamix_acdc", ["train.json", "datalist.json"], "--datalist", str(tmp_path / "nothing.json"),
                      "--bundle_root", str(root))  # fmt: skip
    assert proc.returncode != 0 and "datalist" in proc.stderr and "does not exist" in proc.stderr
    assert "Set the file with --datalist" in proc.stderr and not root.exists()
    no_test = tmp_path / "no_test.json"
    no_test.write_text(json.dumps({"training": data["training"][:2], "validation": data["validation"]}))
    proc = cli("evaluate", "acdc", "--datalist", str(no_test), "--bundle_root", str(root), *TINY_2D)
    assert proc.returncode == 2 and "has no 'test' section" in proc.stderr and "--split val" in proc.stderr
    assert "Traceback" not in proc.stderr and not root.exists()


def test_monai_label_style_training_with_nifti_pairs(acdc_source, tmp_path):
    """MONAI Label sets ``train#dataset#data`` and ``validate#dataset#data`` to its datastore's NIfTI pairs (images in
    the studies folder, labels in ``labels/final``) and passes nothing else: the unlabeled stream is the datastore's
    unlabeled studies, and the bundle's own dataset is never needed (``--dataset_dir`` points nowhere). Each labeled
    set trains in a run folder of its own (named with the data's digest): a later request with more labels is a new
    run, not a refused rerun, and not a resume of the old data's finished run."""
    from tests.helpers.acdc_nifti import write_studies

    studies = tmp_path / "studies"
    images = write_studies(acdc_source, studies, split="test", cases=5)
    label = lambda p: str(studies / "labels" / "final" / p.name)  # noqa: E731
    for image in images[3:]:  # two studies not annotated yet
        Path(label(image)).unlink()
    pairs = [{"image": str(p), "label": label(p)} for p in images[:3]]

    def train(train_pairs, val_pairs):
        return bundle_run(
            "adamix_acdc", ["train.json", "cpu.json"], "--dataset_dir", str(tmp_path / "no_bundle_dataset"),
            "--bundle_root", str(tmp_path / "bundle"), "--train#dataset#data", json.dumps(train_pairs),
            "--validate#dataset#data", json.dumps(val_pairs), *TINY_2D,
        )  # fmt: skip

    check(train(pairs[:1], pairs[2:]))
    root = tmp_path / "bundle"
    assert (root / "models" / "model.pt").is_file()
    (first,) = (root / "runs").glob("self_training-adamix-10pct-seed1-data*")
    assert "val_mean_dice" in (first / "validation.csv").read_text()
    streams = json.loads((first / "datalists.json").read_text())
    assert streams["train"]["images"] == [pairs[0]["image"]] and streams["validation"]["images"] == [pairs[2]["image"]]
    # the unlabeled stream: the studies without a label, and the labeled one not yet in the request (images[1])
    assert streams["unlabeled"]["images"] == [str(images[1]), str(images[3]), str(images[4])]
    check(train(pairs[:2], pairs[2:]))  # the datastore changed: another run, trained in its own folder
    runs = sorted((root / "runs").iterdir())
    assert len(runs) == 2 and all((run / "model_final.pt").is_file() for run in runs)
    (second,) = [r for r in runs if r != first]
    assert json.loads((second / "datalists.json").read_text())["unlabeled"]["images"] == [str(p) for p in images[3:]]


def test_unlabeled_dir_gives_the_unlabeled_stream(acdc_datalist, tmp_path):
    """``--unlabeled_dir``: the unlabeled stream from a folder of images (its name is data, never an expression); a
    folder that does not exist stops the run with one line and exit status 2, before anything is written."""
    import shutil

    data = json.loads(acdc_datalist.read_text())
    folder = tmp_path / "$__import__('os').system('touch PWNED') if 1 else u"
    folder.mkdir()
    for entry in data["unlabeled"]:
        shutil.copy(acdc_datalist.parent / entry["image"], folder)
    root = tmp_path / "b"
    proc = cli("train", "acdc", "--datalist", str(acdc_datalist), "--profile", "cpu", "--bundle_root", str(root),
               "--unlabeled_dir", str(tmp_path / "missing"), *TINY_2D)  # fmt: skip
    assert proc.returncode == 2 and "--unlabeled_dir" in proc.stderr and "Traceback" not in proc.stderr
    assert not root.exists()
    check(cli("train", "acdc", "--datalist", str(acdc_datalist), "--profile", "cpu", "--bundle_root", str(root),
              "--unlabeled_dir", str(folder), *TINY_2D))  # fmt: skip
    (run,) = (root / "runs").iterdir()
    images = json.loads((run / "datalists.json").read_text())["unlabeled"]["images"]
    assert images == sorted(str(folder / Path(e["image"]).name) for e in data["unlabeled"])
    assert not list(REPO_ROOT.glob("PWNED*")) and not list(tmp_path.glob("PWNED*"))


def test_png_datalist_with_the_isic_bundle(tmp_path):
    root = make_mini_isic(tmp_path / "isic", layout="plain", n=6)
    images = sorted((root / "images").iterdir())
    pairs = [{"image": str(p), "label": str(next((root / "masks").glob(p.stem + "*")))} for p in images]
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": pairs[:3], "unlabeled": [p["image"] for p in pairs[3:]],
                                    "validation": pairs[3:4], "test": pairs[4:]}))  # fmt: skip
    common = ["--datalist", str(datalist), "--profile", "cpu", "--bundle_root", str(tmp_path / "b"), *TINY_2D]
    check(cli("train", "isic", *common, "--paradigm", "mean_teacher"))
    proc = cli("evaluate", "isic", *common, "--paradigm", "mean_teacher")
    check(proc)
    assert "| AdaMix-MT | 3labeled |" in proc.stdout
    proc = cli("infer", "isic", str(root / "images"), "--output_dir", str(tmp_path / "pred"),
               "--checkpoint", str(tmp_path / "b" / "models" / "model.pt"))  # fmt: skip
    check(proc)
    from PIL import Image

    for image in images:
        pred = Image.open(tmp_path / "pred" / f"{image.stem}_seg.png")
        assert pred.size == Image.open(image).size and set(np.unique(np.asarray(pred)).tolist()) <= {0, 255}


def test_nifti_datalist_with_the_la_bundle(tmp_path):
    rng = np.random.RandomState(0)
    affine = np.diag([0.625, 0.625, 0.625, 1.0])
    entries = []
    for k in range(4):
        label = np.zeros((24, 20, 16), np.uint8)
        label[6:16, 5:14, 4:12] = 1
        image = (rng.rand(24, 20, 16) * 50 + label * 100).astype(np.float32)
        nib.save(nib.Nifti1Image(image, affine), tmp_path / f"c{k}.nii.gz")
        nib.save(nib.Nifti1Image(label, affine), tmp_path / f"c{k}_gt.nii.gz")
        entries.append({"image": f"c{k}.nii.gz", "label": f"c{k}_gt.nii.gz"})
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": entries[:2], "validation": entries[2:3], "test": entries[3:]}))
    tiny = [
        "--image_size", "[16,16,16]", "--batch_size", "2", "--epochs", "1", "--epoch_samples", "4",
        "--val_interval", "1", "--val_strides", "[16,16,16]", "--sw_strides", "[8,8,8]", "--progress", "False",
    ]  # fmt: skip
    common = ["--datalist", str(datalist), "--profile", "cpu", "--bundle_root", str(tmp_path / "b"), *tiny]
    check(cli("train", "la", *common))
    proc = cli("evaluate", "la", *common)
    check(proc)
    assert "| AdaMix-ST | 2labeled |" in proc.stdout
    info = json.loads((tmp_path / "b" / "models" / "model.json").read_text())
    assert info == {"image_size": [16, 16, 16], "num_classes": 2, "sw_strides": [8, 8, 8]}
    proc = cli("infer", "la", str(tmp_path / "c3.nii.gz"), "--output_dir", str(tmp_path / "pred"),
               "--checkpoint", str(tmp_path / "b" / "models" / "model.pt"))  # fmt: skip
    check(proc)
    pred = nib.load(tmp_path / "pred" / "c3_seg.nii.gz")
    assert pred.shape == (24, 20, 16)
    np.testing.assert_allclose(pred.affine, affine)


def test_hostile_file_names_in_datalists_and_monai_label_data_are_never_evaluated(acdc_datalist, tmp_path):
    """Datalist entries and MONAI Label's datastore paths with ``$``, ``@``, ``%``, ``#`` are data, never code: a
    datalist is read by the bundle's own code (its strings never reach MONAI's parser), and MONAI Label's absolute
    paths are plain strings to the parser (``$`` and ``%`` act only at a string's start, ``@`` only on a whole
    string)."""
    import shutil

    data = json.loads(acdc_datalist.read_text())
    names = ["$__import__('os').system('touch PWNED') if 1 else a", "@network_def", "%train#network_def", "a::b#c"]
    root = tmp_path / "$__import__('os').system('touch PWNED_DIR') if 1 else x"
    hostile: dict[str, list] = {}
    for section, entries in data.items():
        hostile[section] = []
        for i, entry in enumerate(entries):
            new = {}
            for key, rel in entry.items():
                target = f"{names[i % len(names)]}{key}{i}.nii.gz"
                (root / "%" / section).mkdir(parents=True, exist_ok=True)
                shutil.copy(acdc_datalist.parent / rel, root / "%" / section / target)
                new[key] = f"%/{section}/{target}"
            hostile[section].append(new)
    datalist = root / "@datalist.json"
    datalist.write_text(json.dumps(hostile))
    check(cli("train", "acdc", "--datalist", str(datalist), "--profile", "cpu", "--bundle_root", str(tmp_path / "b"),
              "--paradigm", "supervised", "--mix", "none", *TINY_2D))  # fmt: skip
    # MONAI Label's call: monai.bundle.run(...) with the datastore's absolute paths as Python objects
    pairs = [{k: str(root / v) for k, v in e.items()} for e in hostile["training"]]
    val = [{k: str(root / v) for k, v in e.items()} for e in hostile["validation"]]
    configs = REPO_ROOT / "bundles" / "adamix_acdc" / "configs"
    script = (
        "import json, sys, monai.bundle\n"
        "args = json.loads(sys.argv[1])\n"
        "monai.bundle.run(run_id='run', config_file=args.pop('config_file'), **args)\n"
    )
    overrides = {
        "config_file": [str(configs / n) for n in ("train.json", "cpu.json", "datalist.json")],
        "bundle_root": str(tmp_path / "ml"), "datalist": str(datalist), "train#dataset#data": pairs,
        "validate#dataset#data": val, "train#trainer#max_epochs": 1, "image_size": [32, 32], "batch_size": 2,
        "epoch_samples": 4, "cache_rate": 0, "progress": False,
    }  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(overrides)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    check(proc)
    assert (tmp_path / "ml" / "models" / "model.pt").is_file()
    assert len(list((tmp_path / "ml" / "runs").glob("self_training-adamix-*-data*"))) == 1  # trained on the pairs
    assert not list(tmp_path.rglob("PWNED*")) and not list(REPO_ROOT.glob("PWNED*"))  # nothing was executed
