# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Python side of ``tests/integration/monailabel_smoke.sh``: weights, served configs, HTTP calls and checks.

Only the standard library, numpy and nibabel are needed at module level, so the helper runs in either the main
venv or the MONAI Label venv; ``random-weights`` and ``served-configs`` import MONAI (and ``adamix_monai`` for the
network) when they run. Each sub-command prints what it found and exits non-zero with a ``FAIL:`` line when a
check does not hold.

Sub-commands::

    free-port
    pick-weights   --repo R [--bundle B] [--weights W]          -> JSON {path, source, image_size, trained, ...}
    random-weights --config inference.json --out model.pt
    served-configs --repo R --dest D [--image-size 128,128] [--train-overrides JSON]
    serve-bundle   --repo R --bundle B --pick JSON --dest D     (LA, ISIC: configs, model.pt, model.json)
    size-args      --model-json F                               -> --image_size [..] [--sw_strides [..]], one a line
    la-study       --data D --studies S --gt G [--case ID]      -> the case id
    isic-study     --data D --studies S --gt G [--case ID]      -> the case id
    wait-server    --url U --pid P --timeout S --log F
    check-info     --url U --model M --labels JSON [--dimension N]
    infer          --url U --model M --image ID --out label.nii.gz
    compare        --studies S --labels L --served D --ours D [--cases IDS] [--classes 4] [--min-agree 0.99]
                   [--min-dice X] [--summary F]
    compare-2d     --image I --served F --ours D --gt G [--min-agree 0.99] [--summary F]
    train          --url U --model M --params JSON --timeout S --log F
    active-learning --url U --bundle B --studies S [--strategy adamix_uncertainty]
    check-streams  --bundle B --studies S
    check-label    --image I --label L [--classes 4]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import glob
import json
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

import numpy as np

BUNDLE = "adamix_acdc"
# spatial dimensions of each bundle's network input size (image_size)
SIZE_DIMS = {"adamix_acdc": 2, "adamix_la": 3, "adamix_isic": 2}


class CheckError(RuntimeError):
    """A smoke-test check that does not hold."""


def fail(message: str) -> NoReturn:
    raise CheckError(message)


# --------------------------------------------------------------------------------------------------------------
# set-up
# --------------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _run_summary(model_path: Path) -> dict | None:
    """The ``eval-test-best/summary.json`` written beside a run's ``model.pt``, if any."""
    return _read_json(model_path.parent / "eval-test-best" / "summary.json")


def _model_json(model_path: Path) -> dict:
    """The ``model.json`` written beside ``model.pt`` by training (``image_size``, LA ``sw_strides``), if any."""
    return _read_json(model_path.with_suffix(".json")) or {}


def _size(value, dims: int) -> list[int] | None:
    """``value`` (a list or its JSON text) as a list of ``dims`` ints, else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, list) and len(value) == dims and all(isinstance(v, (int, float)) for v in value):
        return [int(v) for v in value]
    return None


def _summary_facts(summary: dict | None, dims: int = 2) -> dict:
    """Test Dice (0..1) and training image size recorded in a run summary."""
    if not summary:
        return {"test_dice": None, "image_size": None}
    dice = summary.get("honest", {}).get("mean", {}).get("dice")
    return {
        "test_dice": None if dice is None else float(dice) / 100.0,  # summaries hold percentages
        "image_size": _size(summary.get("details", {}).get("image_size"), dims),
    }


def _facts(path: Path, dims: int) -> dict:
    """Test Dice and input size of weights: the size from ``model.json`` when recorded, else from the summary."""
    facts = _summary_facts(_run_summary(path), dims)
    info = _model_json(path)
    size = _size(info.get("image_size"), dims)
    return {
        **facts,
        "image_size": size or facts["image_size"],
        "size_source": "model.json" if size else ("run summary" if facts["image_size"] else None),
        "sw_strides": _size(info.get("sw_strides"), dims),
    }


def _untrained(source: str) -> dict:
    return {
        "path": None,
        "source": source,
        "trained": False,
        "test_dice": None,
        "image_size": None,
        "size_source": None,
        "sw_strides": None,
    }


def pick_weights(repo: Path, weights: str | None, bundle: str = BUNDLE, variable: str = "WEIGHTS") -> dict:
    """The weights to serve: ``weights`` (the environment ``variable``; ``random`` for none), else the bundle's
    ``models/model.pt``, else the run with the best test Dice in ``runs/*/model.pt`` (newest when none has a
    summary), else none (untrained)."""
    root = repo / "bundles" / bundle
    dims = SIZE_DIMS[bundle]
    if weights and weights != "random":
        path = Path(weights).resolve()
        if not path.is_file():
            fail(f"{variable}={weights} is not a file")
        return {"path": str(path), "source": variable, "trained": True, **_facts(path, dims)}
    if weights == "random":
        return _untrained(f"random ({variable}=random)")
    shipped = root / "models" / "model.pt"
    if shipped.is_file():
        return {"path": str(shipped), "source": "bundle models/model.pt", "trained": True, **_facts(shipped, dims)}
    runs = [Path(p) for p in glob.glob(str(root / "runs" / "*" / "model.pt"))]
    if runs:
        facts = {p: _facts(p, dims) for p in runs}
        scored = [p for p in runs if facts[p]["test_dice"] is not None]
        if scored:
            best = max(scored, key=lambda p: facts[p]["test_dice"])
            source = f"best run by test Dice: runs/{best.parent.name}"
        else:
            best = max(runs, key=lambda p: p.stat().st_mtime)
            source = f"newest run (no test summary): runs/{best.parent.name}"
        return {"path": str(best), "source": source, "trained": True, **facts[best]}
    return _untrained("random (no trained weights found)")


def random_weights(config: Path, out: Path) -> None:
    """Instantiate the bundle's ``network_def`` (seeded) and save its state dict."""
    import torch
    from monai.bundle import ConfigParser

    torch.manual_seed(0)
    parser = ConfigParser()
    parser.read_config(str(config))
    net = parser.get_parsed_content("network_def", instantiate=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out)
    print(f"random weights: {sum(p.numel() for p in net.parameters())} parameters -> {out}")


def served_configs(repo: Path, dest: Path, image_size: list[int] | None, train_overrides: dict) -> None:
    """Write the served bundle's ``inference.json`` (the repository's, with ``image_size`` when given) and
    ``train.json`` (``train.json`` merged with ``cpu.json`` and ``train_overrides``, later keys replacing)."""
    from monai.bundle import ConfigParser

    src = repo / "bundles" / BUNDLE / "configs"
    dest.mkdir(parents=True, exist_ok=True)

    infer = ConfigParser()
    infer.read_config(str(src / "inference.json"))
    if image_size:
        infer["image_size"] = list(image_size)
    ConfigParser.export_config_file(infer.get(), str(dest / "inference.json"), indent=4)

    train = ConfigParser()
    train.read_config([str(src / "train.json"), str(src / "cpu.json")])
    for key, value in train_overrides.items():
        train[key] = value
    ConfigParser.export_config_file(train.get(), str(dest / "train.json"), indent=4)
    print(
        f"served configs: inference.json (image_size {infer['image_size']}), "
        f"train.json = train.json + cpu.json + {json.dumps(train_overrides)}"
    )


def _cpu_profile(repo: Path, bundle: str) -> dict:
    """``image_size`` (and ``sw_strides`` where the bundle has them) of the bundle's ``configs/cpu.json``."""
    cpu = _read_json(repo / "bundles" / bundle / "configs" / "cpu.json") or {}
    return {k: cpu[k] for k in ("image_size", "sw_strides") if k in cpu}


def serve_bundle(repo: Path, bundle: str, pick: dict, dest: Path) -> None:
    """A served copy of ``bundles/<bundle>`` at ``dest``: its ``configs/`` unchanged, ``models/model.pt`` (the
    picked weights, else random ones) and ``models/model.json`` with the input size to serve them at.

    The size is the one the weights were trained at (their ``model.json``, else their run summary; LA strides not
    recorded are the CPU profile's when the size is the CPU profile's); random weights get the CPU profile of
    ``configs/cpu.json``, so that the check stays fast on a CPU.
    """
    src = repo / "bundles" / bundle
    shutil.copytree(src / "configs", dest / "configs")
    if (src / "LICENSE").is_file():
        shutil.copy2(src / "LICENSE", dest / "LICENSE")
    models = dest / "models"
    models.mkdir(parents=True, exist_ok=True)
    profile = _cpu_profile(repo, bundle)
    uses_strides = "sw_strides" in (dest / "configs" / "inference.json").read_text()
    if pick.get("trained"):
        shutil.copy2(pick["path"], models / "model.pt")
        info: dict = {}
        if pick.get("image_size"):
            info["image_size"] = pick["image_size"]
            why = f"the size the weights were trained at, from their {pick.get('size_source')}"
            strides = pick.get("sw_strides")
            if uses_strides and not strides and pick["image_size"] == profile.get("image_size"):
                strides = profile.get("sw_strides")
                why += "; the strides of the CPU profile (cpu.json) their run used"
            if uses_strides and strides:
                info["sw_strides"] = strides
        else:
            why = "no size recorded for these weights: the bundle's default sizes"
    else:
        random_weights(dest / "configs" / "inference.json", models / "model.pt")
        info = {k: v for k, v in profile.items() if uses_strides or k != "sw_strides"}
        why = "random weights: the CPU profile of configs/cpu.json"
    if info:
        (models / "model.json").write_text(json.dumps(info) + "\n")
    weights = pick["source"]
    if pick.get("path"):
        dice = pick.get("test_dice")
        weights += f" ({pick['path']}" + ("" if dice is None else f"; recorded test Dice {dice:.3f}") + ")"
    print(f"served {bundle}: configs/ unchanged; weights: {weights}; models/model.json {json.dumps(info)} ({why})")


def size_args(model_json: Path) -> list[str]:
    """``monai.bundle run`` arguments with the sizes of a served ``model.json`` (the reference runs at the same)."""
    info = _read_json(model_json) or {}
    args = []
    for key in ("image_size", "sw_strides"):
        if key in info:
            args += [f"--{key}", json.dumps(info[key])]
    return args


def la_study(data: Path, studies: Path, gt: Path, case: str | None) -> str:
    """One real LA case as NIfTI: the h5 ``image`` as float32 in its stored ``(W, H, D)`` order with an affine
    diag(0.625, 0.625, 0.625) (how the LA bundle reads NIfTI: its ``TransposedInferer`` reverses the axes), and its
    ``label`` (uint8) under ``gt``. ``case`` defaults to the first id of ``test.list``."""
    import h5py
    import nibabel as nib

    from adamix_monai.data.sources import LA

    try:
        la = LA(data)
    except FileNotFoundError as e:
        fail(str(e))
    case = case or la.test_cases()[0]
    with h5py.File(la.case_path(case), "r") as f:
        image, label = np.asarray(f["image"], dtype=np.float32), np.asarray(f["label"], dtype=np.uint8)
    aff = np.diag([0.625, 0.625, 0.625, 1.0])
    studies.mkdir(parents=True, exist_ok=True)
    gt.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image, aff), str(studies / f"{case}.nii.gz"))
    nib.save(nib.Nifti1Image(label, aff), str(gt / f"{case}.nii.gz"))
    classes = sorted(int(v) for v in np.unique(label))
    return f"{case}\tNIfTI float32 {image.shape} (W, H, D), 0.625 mm, label classes {classes}"


def isic_study(data: Path, studies: Path, gt: Path, case: str | None) -> str:
    """One real ISIC (or PH2) test image as an RGB PNG (the decoded pixels of the JPEG, written losslessly) and
    its mask under ``gt``. ``case`` defaults to the first id of the test split."""
    from PIL import Image

    from adamix_monai.data.sources import ISIC

    try:
        isic = ISIC(data)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    case = case or isic.split_ids("test")[0]
    studies.mkdir(parents=True, exist_ok=True)
    gt.mkdir(parents=True, exist_ok=True)
    with Image.open(isic.image_path(case)) as im:
        source = f"{Path(isic.image_path(case)).name} ({im.format} {im.mode})"
        im.convert("RGB").save(studies / f"{case}.png")
        size = im.size
    shutil.copyfile(isic.mask_path(case), gt / f"{case}.png")
    return f"{case}\tRGB PNG {size[0]}x{size[1]} (W x H) from {source}"


# --------------------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------------------
def _request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, timeout: float = 600.0
) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def _server_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_server(url: str, pid: int, timeout: float, log: Path) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not _server_alive(pid):
            fail(f"MONAI Label server (pid {pid}) exited before answering; see {log}")
        try:
            status, _, _ = _request(url + "/info/", timeout=10)
            if status == 200:
                print(f"server up after {time.monotonic() - start:.0f} s at {url}")
                return
        except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
            pass
        time.sleep(2)
    fail(f"MONAI Label server did not answer {url}/info/ within {timeout:.0f} s; see {log}")


def check_info(url: str, model: str, labels: dict[str, int], dimension: int | None = None) -> dict:
    status, _, body = _request(url + "/info/")
    if status != 200:
        fail(f"GET /info/ returned HTTP {status}: {body[:300]!r}")
    info = json.loads(body)
    models = info.get("models", {})
    if model not in models:
        fail(f"GET /info/ does not list model '{model}'; models: {sorted(models)}")
    entry = models[model]
    if entry.get("type") != "segmentation":
        fail(f"model '{model}' has type {entry.get('type')!r}, expected 'segmentation'")
    got = {str(k): int(v) for k, v in (entry.get("labels") or {}).items()}
    if got != labels:
        fail(f"model '{model}' labels {got} != expected {labels}")
    if dimension is not None and entry.get("dimension") != dimension:
        fail(f"model '{model}' has dimension {entry.get('dimension')!r}, expected {dimension}")
    trainers = sorted(info.get("trainers", {}))
    print(
        f"/info/: {info.get('name')}; model '{model}' type {entry['type']}, labels {got}, "
        f"dimension {entry.get('dimension')}, version {entry.get('version')}; trainers {trainers}"
    )
    return info


def _multipart_file(content_type: str, body: bytes) -> tuple[bytes, dict, str | None]:
    """The label file, the params JSON and the label's file name in MONAI Label's default multipart answer."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    data, params, filename = None, {}, None
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "params":
            params = json.loads(payload or b"{}")
        elif name == "image":
            data, filename = payload, part.get_filename()
    if data is None:
        fail("the multipart infer answer holds no 'image' part")
    return data, params, filename


def _log_size(log: Path | None) -> int:
    return log.stat().st_size if log is not None and log.is_file() else 0


def _server_error(log: Path | None, start: int, wait: float = 5.0) -> str:
    """The last exception (type and message lines) the server log shows after byte ``start``, or ''. The server
    writes the traceback after it answers, so the log is read again for up to ``wait`` seconds."""
    if log is None:
        return ""
    deadline = time.monotonic() + wait
    while True:
        with open(log, "rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
        for i in range(len(lines) - 1, -1, -1):
            head = lines[i].split(":", 1)[0]
            if head.endswith(("Error", "Exception")) and " " not in head and not lines[i].startswith(" "):
                tail = [lines[i]] + [t for t in lines[i + 1 : i + 3] if t and not t.startswith("[")]
                return " ".join(t.strip() for t in tail)
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.5)


def infer(url: str, model: str, image: str, out: Path, params: dict | None = None, log: Path | None = None) -> None:
    """``POST /infer/<model>?image=<id>`` (request params ``{"device": "cpu"}`` plus ``params``) with the default
    (multipart) answer; saves the label file. On an HTTP error, the server's last exception (from ``log``) is
    named."""
    boundary = "smoke-boundary-7e1f"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n'
        f"{json.dumps({'device': 'cpu', **(params or {})})}\r\n--{boundary}--\r\n"
    ).encode()
    start, log_start = time.monotonic(), _log_size(log)
    status, headers, body = _request(
        f"{url}/infer/{model}?image={urllib.request.quote(image)}",
        "POST",
        form,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if status != 200:
        error = _server_error(log, log_start)
        fail(
            f"POST /infer/{model}?image={image} returned HTTP {status}: {body[:500]!r}"
            + (f"; server log: {error}" if error else "")
        )
    ctype = headers.get("content-type", headers.get("Content-Type", ""))
    filename = None
    if ctype.startswith("multipart/"):
        data, params, filename = _multipart_file(ctype, body)
    elif ctype.startswith("application/json"):
        fail(f"POST /infer/{model}?image={image} answered JSON only (no label file): {body[:500]!r}")
    else:
        data, params = body, {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(
        f"infer {image}: HTTP {status}, {ctype.split(';')[0]}, {len(data)} bytes in "
        f"{time.monotonic() - start:.1f} s; params {json.dumps(params)[:200]}"
        + ("" if filename is None else f"; file {Path(filename).name}")
    )


def train(url: str, model: str, params: dict, timeout: float, log: Path) -> None:
    """``POST /train/<model>`` and poll ``GET /train/`` until the task is DONE (else fail with its last lines)."""
    status, _, body = _request(
        f"{url}/train/{model}", "POST", json.dumps(params).encode(), {"Content-Type": "application/json"}
    )
    if status != 200:
        fail(f"POST /train/{model} returned HTTP {status}: {body[:500]!r}")
    task = json.loads(body)
    print(f"train task {task.get('id')} {task.get('status')}; request {json.dumps(params)}")
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(3)
        status, _, body = _request(f"{url}/train/")
        if status != 200:
            continue
        task = json.loads(body)
        if task.get("status") in ("DONE", "ERROR", "STOPPED"):
            break
    else:
        _request(f"{url}/train/", "DELETE")
        fail(f"training did not finish within {timeout:.0f} s (stopped); see {log}")
    details = task.get("details") or []
    if task.get("status") != "DONE":
        tail = "\n    ".join(details[-12:])
        fail(
            f"training ended {task.get('status')} after {time.monotonic() - start:.0f} s; last lines:\n    {tail}"
            f"\n  full log: {log}"
        )
    metrics = [line.split(" - INFO - ", 1)[-1] for line in details if "Metrics --" in line]
    print(f"training DONE in {time.monotonic() - start:.0f} s" + (f"; {metrics[-1]}" if metrics else ""))


def _unlabeled_studies(studies: Path, labels_dir: str = "labels/final", suffix: str | None = None) -> list[Path]:
    """The datastore's studies without a final label (optionally only those ending with ``suffix``)."""
    out = []
    for path in sorted(studies.iterdir()):
        if path.is_file() and path.name.lower().endswith((".nii.gz", ".nii", ".png", ".jpg", ".jpeg")):
            if not (studies / labels_dir / path.name).is_file() and (suffix is None or path.name.endswith(suffix)):
                out.append(path)
    return out


def active_learning(url: str, strategy: str, bundle: Path, studies: Path) -> None:
    """``POST /activelearning/<strategy>`` returns an unlabeled study, the one our own ranking
    (:class:`adamix_monai.active_learning.BundleUncertainty` on the served bundle) puts first."""
    from adamix_monai.active_learning import BundleUncertainty

    status, _, body = _request(f"{url}/activelearning/{strategy}", "POST", b"{}", {"Content-Type": "application/json"})
    if status != 200:
        fail(f"POST /activelearning/{strategy} returned HTTP {status}: {body[:500]!r}")
    answer = json.loads(body)
    unlabeled = _unlabeled_studies(studies)
    ids = {p.name.split(".")[0]: p for p in unlabeled}
    if answer.get("id") not in ids:
        fail(f"/activelearning/{strategy} returned {answer!r}, not one of the unlabeled studies {sorted(ids)}")
    ranked = BundleUncertainty(bundle, device="cpu").rank(unlabeled)
    top = Path(ranked[0][0]).name.split(".")[0] if ranked else None
    listing = ", ".join(f"{Path(p).name.split('.')[0]} {s:.4f}" for p, s in ranked)
    if answer["id"] != top:
        fail(f"/activelearning/{strategy} returned {answer['id']}, our own ranking puts {top} first ({listing})")
    if abs(float(answer.get("weight", -1)) - ranked[0][1]) > 1e-6:
        fail(f"/activelearning/{strategy} weighted {answer['id']} {answer.get('weight')}, our ranking {ranked[0][1]:.6f}")
    print(f"/activelearning/{strategy} -> {answer['id']} (uncertainty ranking of {len(ranked)} unlabeled: {listing})")


def check_streams(bundle: Path, studies: Path, suffix: str = ".nii.gz") -> None:
    """The newest training of the served bundle read the datastore's unlabeled studies (of the labeled images' file
    type) as its unlabeled stream, and only labeled studies as its labeled and validation streams
    (``runs/<run>/datalists.json``)."""
    lists = sorted((bundle / "runs").glob("*/datalists.json"), key=lambda p: p.stat().st_mtime)
    if not lists:
        fail(f"no runs/*/datalists.json in {bundle}: the training wrote no record of its streams")
    streams = json.loads(lists[-1].read_text())
    expected = sorted(str(p.resolve()) for p in _unlabeled_studies(studies, suffix=suffix))
    read = sorted(str(Path(p).resolve()) for p in streams["unlabeled"]["images"])
    if read != expected:
        fail(f"the unlabeled stream read {read}, the datastore's unlabeled studies are {expected} ({lists[-1]})")
    labeled = {str(p.resolve()) for p in studies.glob("*") if (studies / "labels" / "final" / p.name).is_file()}
    for role in ("train", "validation"):
        wrong = [p for p in streams[role]["images"] if str(Path(p).resolve()) not in labeled]
        if wrong or not streams[role]["images"]:
            fail(f"the {role} stream read {streams[role]['images']}, expected labeled studies only ({lists[-1]})")
    names = lambda key: ", ".join(Path(p).name for p in streams[key]["images"])  # noqa: E731
    print(f"streams of {lists[-1].parent.name}: unlabeled {names('unlabeled')}; train {names('train')}; "
          f"validation {names('validation')}")  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# checks on label maps
# --------------------------------------------------------------------------------------------------------------
def _load(path: Path):
    import nibabel as nib

    img = nib.load(str(path))
    return img, np.asanyarray(img.dataobj)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks; 1 when both are empty."""
    denom = int(a.sum()) + int(b.sum())
    return 1.0 if denom == 0 else 2.0 * int(np.logical_and(a, b).sum()) / denom


def _squeeze_to(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Drop singleton axes beyond the image's rank (a saved ``(1, H, W, D)`` or ``(H, W, D, 1)`` label)."""
    while arr.ndim > len(shape) and 1 in arr.shape:
        arr = np.squeeze(arr, axis=arr.shape.index(1) if arr.shape[0] == 1 else arr.ndim - 1)
    return arr


def _check_label(name: str, path: Path, image, n_classes: int) -> np.ndarray:
    if not path.is_file():
        fail(f"{name}: no label file at {path}")
    lab, arr = _load(path)
    arr = _squeeze_to(arr, image.shape)
    if arr.shape != image.shape:
        fail(f"{name}: label shape {arr.shape} != image shape {image.shape} ({path})")
    if not np.allclose(lab.affine, image.affine, atol=1e-3):
        fail(f"{name}: label affine differs from the image's ({path})\n label:\n{lab.affine}\n image:\n{image.affine}")
    zl, zi = lab.header.get_zooms()[: image.ndim], image.header.get_zooms()[: image.ndim]
    if not np.allclose(zl, zi, atol=1e-3):
        fail(f"{name}: label spacing {tuple(map(float, zl))} != image spacing {tuple(map(float, zi))}")
    if not np.array_equal(arr, np.round(arr)):
        fail(f"{name}: label holds non-integer values ({path})")
    classes = sorted(int(v) for v in np.unique(arr))
    if not set(classes) <= set(range(n_classes)):
        fail(f"{name}: label classes {classes} outside 0..{n_classes - 1} ({path})")
    return arr.astype(np.int64)


def _find(folder: Path, case: str) -> Path:
    """``<case>.nii.gz`` or ``<case>_seg.nii.gz`` (our bundle's SaveImaged postfix) in ``folder``."""
    for name in (f"{case}.nii.gz", f"{case}_seg.nii.gz", f"{case}.nii", f"{case}_seg.nii"):
        if (folder / name).is_file():
            return folder / name
    hits = sorted(folder.rglob(f"{case}*.nii*"))
    if not hits:
        fail(f"no label for case '{case}' under {folder}")
    return hits[0]


def compare(
    studies: Path,
    labels: Path,
    served: Path,
    ours: Path,
    n_classes: int,
    min_agree: float,
    min_dice: float | None,
    summary: Path | None,
    cases: list[str] | None = None,
) -> None:
    """Label maps of NIfTI studies (``cases``, default all): geometry and classes of MONAI Label's, ours and the
    ground truth; agreement of MONAI Label's with ours; mean Dice vs the ground truth (bounded by ``min_dice``)."""
    cases = cases or sorted(p.name[: -len(".nii.gz")] for p in studies.glob("*.nii.gz"))
    if not cases:
        fail(f"no studies under {studies}")
    rows, gt_means, problems = [], [], []
    for case in cases:
        image = _load(studies / f"{case}.nii.gz")[0]
        served_arr = _check_label(f"{case} (MONAI Label)", _find(served, case), image, n_classes)
        ours_arr = _check_label(f"{case} (monai.bundle run)", _find(ours, case), image, n_classes)
        gt = _check_label(f"{case} (ground truth)", labels / f"{case}.nii.gz", image, n_classes)
        present = [c for c in range(1, n_classes) if (served_arr == c).any() or (ours_arr == c).any()]
        agree = {c: _dice(served_arr == c, ours_arr == c) for c in present}
        identical = bool(np.array_equal(served_arr, ours_arr))
        low = {c: d for c, d in agree.items() if d < min_agree}
        if low and not identical:
            problems.append(
                f"{case}: MONAI Label vs monai.bundle run Dice below {min_agree} for classes "
                + ", ".join(f"{c}: {d:.4f}" for c, d in low.items())
            )
        gt_dice = {c: _dice(served_arr == c, gt == c) for c in range(1, n_classes)}
        gt_means.append(float(np.mean(list(gt_dice.values()))))
        rows.append(
            {
                "case": case,
                "shape": list(image.shape),
                "spacing": [round(float(z), 3) for z in image.header.get_zooms()[: image.ndim]],
                "classes": sorted(int(v) for v in np.unique(served_arr)),
                "identical": identical,
                "voxels_differing": int((served_arr != ours_arr).sum()),
                "agreement_dice": {str(c): round(d, 4) for c, d in agree.items()},
                "gt_dice": {str(c): round(d, 4) for c, d in gt_dice.items()},
                "gt_dice_mean": round(gt_means[-1], 4),
            }
        )
    mean_gt = float(np.mean(gt_means))
    for r in rows:
        agree = ", ".join(f"{c}:{d:.4f}" for c, d in r["agreement_dice"].items()) or "no foreground"
        gtd = ", ".join(f"{c}:{d:.3f}" for c, d in r["gt_dice"].items())
        print(
            f"  {r['case']}: shape {tuple(r['shape'])} spacing {tuple(r['spacing'])} classes {r['classes']} | "
            f"vs ours: {'identical' if r['identical'] else str(r['voxels_differing']) + ' voxels differ'}, "
            f"Dice {agree} | vs GT: {gtd} (mean {r['gt_dice_mean']:.3f})"
        )
    print(
        f"  mean GT Dice over {len(rows)} cases x {n_classes - 1} classes: {mean_gt:.4f}"
        + ("" if min_dice is None else f" (MIN_DICE {min_dice})")
    )
    if summary:
        summary.write_text(json.dumps({"cases": rows, "mean_gt_dice": mean_gt, "min_dice": min_dice}, indent=2))
    if problems:
        fail("MONAI Label does not reproduce our bundle inference:\n  " + "\n  ".join(problems))
    if min_dice is not None and mean_gt < min_dice:
        fail(f"mean Dice vs ground truth {mean_gt:.4f} < MIN_DICE {min_dice}")


def _file_kind(path: Path) -> str:
    head = path.read_bytes()[:8]
    if head.startswith(b"\x89PNG"):
        return "PNG"
    if head.startswith(b"\xff\xd8"):
        return "JPEG"
    if head.startswith(b"\x1f\x8b") or path.name.endswith((".nii", ".nii.gz")):
        return "NIfTI"
    return f"unknown (starts {head!r})"


def _read_2d(path: Path) -> tuple[np.ndarray, str]:
    """A returned 2D label as an array in row-major ``(rows, columns)`` order, and what the file was."""
    kind = _file_kind(path)
    if kind in ("PNG", "JPEG"):
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im), f"{kind} {im.width}x{im.height} (W x H) mode {im.mode}"
    if kind == "NIfTI":
        img, arr = _load(path)
        return arr, f"NIfTI shape {arr.shape} dtype {arr.dtype}"
    fail(f"{path}: cannot read a label file of kind {kind}")


def _binary(name: str, arr: np.ndarray, problems: list[str]) -> np.ndarray:
    """A {0, 1} or {0, 255} label as a boolean mask (a problem is noted for other values)."""
    values = sorted(int(v) for v in np.unique(arr))
    if not (set(values) <= {0, 1} or set(values) <= {0, 255}):
        problems.append(f"{name}: values {values[:8]} are neither within {{0, 1}} nor within {{0, 255}}")
    return arr > 0


def compare_2d(image: Path, served: Path, ours: Path, gt: Path | None, min_agree: float, summary: Path | None) -> None:
    """A 2D label returned for an RGB PNG: its size must be the image's (rows x columns as the PNG), its values
    {0, 1} or {0, 255}, and its lesion mask must agree with our ``monai.bundle run`` PNG (identical, or Dice >=
    ``min_agree``). A label of another shape is also compared after transposing or resizing it back, to say
    what went wrong."""
    from PIL import Image

    case = image.name[: -len(image.suffix)]
    with Image.open(image) as im:
        width, height = im.size
    shape = (height, width)
    if not served.is_file():
        fail(f"{case}: no label file from MONAI Label at {served}")
    ours_path = next((p for p in (ours / f"{case}_seg.png", ours / f"{case}.png") if p.is_file()), None)
    if ours_path is None:
        fail(f"{case}: no label from monai.bundle run under {ours}")
    problems: list[str] = []
    raw, served_desc = _read_2d(served)
    served_arr = np.squeeze(raw) if raw.ndim > 2 else raw
    ours_raw, ours_desc = _read_2d(ours_path)
    if ours_raw.shape != shape:
        problems.append(f"{case} (monai.bundle run): label shape {ours_raw.shape} != image {shape} ({ours_desc})")
    ours_mask = _binary(f"{case} (monai.bundle run)", ours_raw, problems)
    served_mask = _binary(f"{case} (MONAI Label)", served_arr, problems)
    row: dict = {
        "case": case,
        "image_size_wh": [width, height],
        "served_file": served_desc,
        "served_array_shape": list(raw.shape),
        "served_values": sorted(int(v) for v in np.unique(served_arr)),
        "ours_file": ours_desc,
    }
    if served_arr.shape == shape:
        identical = bool(np.array_equal(served_mask, ours_mask))
        agree = _dice(served_mask, ours_mask)
        row.update(identical=identical, pixels_differing=int((served_mask != ours_mask).sum()), agreement_dice=agree)
        if not identical and agree < min_agree:
            problems.append(f"{case}: MONAI Label vs monai.bundle run lesion Dice {agree:.4f} < {min_agree}")
        verdict = "identical" if identical else f"{row['pixels_differing']} pixels differ, Dice {agree:.4f}"
    else:
        # diagnose: the same mask transposed, or resized to another shape?
        tries = {}
        if served_arr.shape == shape[::-1]:
            tries["transposed back"] = _dice(served_mask.T, ours_mask)
        if served_arr.ndim == 2:
            for what, mask in (("resized back", served_mask), ("transposed and resized back", served_mask.T)):
                back = Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)
                tries[what] = _dice(np.asarray(back) > 0, ours_mask)
        row["diagnosis_dice_vs_ours"] = tries
        hint = "; ".join(f"{k}: Dice {v:.4f} vs ours" for k, v in tries.items()) or "no 2D array to compare"
        problems.append(
            f"{case}: MONAI Label's label has shape {served_arr.shape} (file: {served_desc}), the image is "
            f"{shape} (rows, columns) = {width}x{height} (W x H); {hint}"
        )
        verdict = f"shape {served_arr.shape} != {shape}"
    gt_text = ""
    if gt is not None and gt.is_file():
        gt_arr, _ = _read_2d(gt)
        gt_mask = gt_arr > 0
        if served_arr.shape == gt_mask.shape:
            row["gt_dice"] = _dice(served_mask, gt_mask)
            gt_text = f" | vs GT: lesion {row['gt_dice']:.3f}"
        row["ours_gt_dice"] = _dice(ours_mask, gt_mask) if ours_mask.shape == gt_mask.shape else None
    print(
        f"  {case}: image {width}x{height} (W x H); MONAI Label returned {served_desc}, values "
        f"{row['served_values']} | vs ours ({ours_desc}): {verdict}{gt_text}"
    )
    if summary:
        summary.write_text(json.dumps(row, indent=2))
    if problems:
        fail("MONAI Label's 2D label does not match:\n  " + "\n  ".join(problems))


def check_label(image_path: Path, label_path: Path, n_classes: int) -> None:
    image = _load(image_path)[0]
    arr = _check_label(label_path.name, label_path, image, n_classes)
    print(f"  {label_path.name}: shape {arr.shape}, affine as the image's, classes {sorted(map(int, np.unique(arr)))}")


# --------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port")
    s = sub.add_parser("pick-weights")
    s.add_argument("--repo", type=Path, required=True)
    s.add_argument("--bundle", default=BUNDLE, choices=sorted(SIZE_DIMS))
    s.add_argument("--weights", default=None)
    s.add_argument("--variable", default="WEIGHTS", help="the environment variable --weights came from")
    s = sub.add_parser("random-weights")
    s.add_argument("--config", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("served-configs")
    s.add_argument("--repo", type=Path, required=True)
    s.add_argument("--dest", type=Path, required=True)
    s.add_argument("--image-size", default="")
    s.add_argument("--train-overrides", default="{}")
    s = sub.add_parser("serve-bundle")
    s.add_argument("--repo", type=Path, required=True)
    s.add_argument("--bundle", required=True, choices=sorted(SIZE_DIMS))
    s.add_argument("--pick", required=True, help="the JSON answer of pick-weights")
    s.add_argument("--dest", type=Path, required=True)
    s = sub.add_parser("size-args")
    s.add_argument("--model-json", type=Path, required=True)
    for name in ("la-study", "isic-study"):
        s = sub.add_parser(name)
        s.add_argument("--data", type=Path, required=True)
        s.add_argument("--studies", type=Path, required=True)
        s.add_argument("--gt", type=Path, required=True)
        s.add_argument("--case", default=None)
    s = sub.add_parser("wait-server")
    s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--log", type=Path, required=True)
    s = sub.add_parser("check-info")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--labels", required=True)
    s.add_argument("--dimension", type=int, default=None)
    s = sub.add_parser("infer")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--image", required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--params", default="{}", help="further request params (JSON), e.g. result_dtype")
    s.add_argument("--log", type=Path, default=None, help="the server log, to name the error of a failed call")
    s = sub.add_parser("compare")
    s.add_argument("--studies", type=Path, required=True)
    s.add_argument("--labels", type=Path, required=True)
    s.add_argument("--served", type=Path, required=True)
    s.add_argument("--ours", type=Path, required=True)
    s.add_argument("--classes", type=int, default=4)
    s.add_argument("--min-agree", type=float, default=0.99)
    s.add_argument("--min-dice", type=float, default=None)
    s.add_argument("--summary", type=Path, default=None)
    s.add_argument("--cases", default="", help="case ids (comma or space separated); default: every *.nii.gz")
    s = sub.add_parser("compare-2d")
    s.add_argument("--image", type=Path, required=True)
    s.add_argument("--served", type=Path, required=True)
    s.add_argument("--ours", type=Path, required=True)
    s.add_argument("--gt", type=Path, default=None)
    s.add_argument("--min-agree", type=float, default=0.99)
    s.add_argument("--summary", type=Path, default=None)
    s = sub.add_parser("train")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--params", default="{}")
    s.add_argument("--timeout", type=float, default=900)
    s.add_argument("--log", type=Path, required=True)
    s = sub.add_parser("active-learning")
    s.add_argument("--url", required=True)
    s.add_argument("--strategy", default="adamix_uncertainty")
    s.add_argument("--bundle", type=Path, required=True)
    s.add_argument("--studies", type=Path, required=True)
    s = sub.add_parser("check-streams")
    s.add_argument("--bundle", type=Path, required=True)
    s.add_argument("--studies", type=Path, required=True)
    s = sub.add_parser("check-label")
    s.add_argument("--image", type=Path, required=True)
    s.add_argument("--label", type=Path, required=True)
    s.add_argument("--classes", type=int, default=4)
    a = p.parse_args(argv)
    try:
        if a.cmd == "free-port":
            print(free_port())
        elif a.cmd == "pick-weights":
            print(json.dumps(pick_weights(a.repo, a.weights, a.bundle, a.variable)))
        elif a.cmd == "random-weights":
            random_weights(a.config, a.out)
        elif a.cmd == "served-configs":
            size = [int(v) for v in a.image_size.replace("[", "").replace("]", "").split(",") if v.strip()]
            served_configs(a.repo, a.dest, size or None, json.loads(a.train_overrides))
        elif a.cmd == "serve-bundle":
            serve_bundle(a.repo, a.bundle, json.loads(a.pick), a.dest)
        elif a.cmd == "size-args":
            print("\n".join(size_args(a.model_json)))
        elif a.cmd == "la-study":
            print(la_study(a.data, a.studies, a.gt, a.case))
        elif a.cmd == "isic-study":
            print(isic_study(a.data, a.studies, a.gt, a.case))
        elif a.cmd == "wait-server":
            wait_server(a.url.rstrip("/"), a.pid, a.timeout, a.log)
        elif a.cmd == "check-info":
            check_info(a.url.rstrip("/"), a.model, json.loads(a.labels), a.dimension)
        elif a.cmd == "infer":
            infer(a.url.rstrip("/"), a.model, a.image, a.out, json.loads(a.params), a.log)
        elif a.cmd == "compare":
            cases = a.cases.replace(",", " ").split()
            compare(a.studies, a.labels, a.served, a.ours, a.classes, a.min_agree, a.min_dice, a.summary, cases)
        elif a.cmd == "compare-2d":
            compare_2d(a.image, a.served, a.ours, a.gt, a.min_agree, a.summary)
        elif a.cmd == "train":
            train(a.url.rstrip("/"), a.model, json.loads(a.params), a.timeout, a.log)
        elif a.cmd == "active-learning":
            active_learning(a.url.rstrip("/"), a.strategy, a.bundle, a.studies)
        elif a.cmd == "check-streams":
            check_streams(a.bundle, a.studies)
        elif a.cmd == "check-label":
            check_label(a.image, a.label, a.classes)
    except CheckError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
