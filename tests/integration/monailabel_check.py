# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Python side of ``tests/integration/monailabel_smoke.sh``: weights, served configs, HTTP calls and checks.

Only the standard library, numpy and nibabel are needed at module level, so the helper runs in either the main
venv or the MONAI Label venv; ``random-weights`` and ``served-configs`` import MONAI (and ``adamix_monai`` for the
network) when they run. Each sub-command prints what it found and exits non-zero with a ``FAIL:`` line when a
check does not hold.

Sub-commands::

    free-port
    pick-weights   --repo R [--weights W]                       -> JSON {path, source, image_size, trained, ...}
    random-weights --config inference.json --out model.pt
    served-configs --repo R --dest D [--image-size 128,128] [--train-overrides JSON]
    wait-server    --url U --pid P --timeout S --log F
    check-info     --url U --model M --labels JSON
    infer          --url U --model M --image ID --out label.nii.gz
    compare        --studies S --labels L --served D --ours D [--min-agree 0.99] [--min-dice X] [--summary F]
    train          --url U --model M --params JSON --timeout S --log F
    check-label    --image I --label L [--classes 4]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import glob
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

BUNDLE = "adamix_acdc"


class CheckError(RuntimeError):
    """A smoke-test check that does not hold."""


def fail(message: str) -> None:
    raise CheckError(message)


# --------------------------------------------------------------------------------------------------------------
# set-up
# --------------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_summary(model_path: Path) -> dict | None:
    """The ``eval-test-best/summary.json`` written beside a run's ``model.pt``, if any."""
    summary = model_path.parent / "eval-test-best" / "summary.json"
    if not summary.is_file():
        return None
    try:
        return json.loads(summary.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _summary_facts(summary: dict | None) -> dict:
    """Test Dice (0..1) and training image size recorded in a run summary."""
    if not summary:
        return {"test_dice": None, "image_size": None}
    dice = summary.get("honest", {}).get("mean", {}).get("dice")
    size = summary.get("details", {}).get("image_size")
    if isinstance(size, str):
        try:
            size = json.loads(size)
        except json.JSONDecodeError:
            size = None
    return {
        "test_dice": None if dice is None else float(dice) / 100.0,  # summaries hold percentages
        "image_size": [int(v) for v in size] if isinstance(size, list) and len(size) == 2 else None,
    }


def pick_weights(repo: Path, weights: str | None) -> dict:
    """The weights to serve: ``weights``, else the bundle's ``models/model.pt``, else the run with the best test
    Dice in ``runs/*/model.pt`` (newest when none has a summary), else none (untrained)."""
    bundle = repo / "bundles" / BUNDLE
    if weights and weights != "random":
        path = Path(weights).resolve()
        if not path.is_file():
            fail(f"WEIGHTS={weights} is not a file")
        return {"path": str(path), "source": "WEIGHTS", "trained": True, **_summary_facts(_run_summary(path))}
    if weights == "random":
        return {
            "path": None,
            "source": "random (WEIGHTS=random)",
            "trained": False,
            "test_dice": None,
            "image_size": None,
        }
    shipped = bundle / "models" / "model.pt"
    if shipped.is_file():
        return {
            "path": str(shipped),
            "source": "bundle models/model.pt",
            "trained": True,
            "test_dice": None,
            "image_size": None,
        }
    runs = [Path(p) for p in glob.glob(str(bundle / "runs" / "*" / "model.pt"))]
    if runs:
        facts = {p: _summary_facts(_run_summary(p)) for p in runs}
        scored = [p for p in runs if facts[p]["test_dice"] is not None]
        if scored:
            best = max(scored, key=lambda p: facts[p]["test_dice"])
            source = f"best run by test Dice: runs/{best.parent.name}"
        else:
            best = max(runs, key=lambda p: p.stat().st_mtime)
            source = f"newest run (no test summary): runs/{best.parent.name}"
        return {"path": str(best), "source": source, "trained": True, **facts[best]}
    return {
        "path": None,
        "source": "random (no trained weights found)",
        "trained": False,
        "test_dice": None,
        "image_size": None,
    }


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


def check_info(url: str, model: str, labels: dict[str, int]) -> dict:
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
    trainers = sorted(info.get("trainers", {}))
    print(
        f"/info/: {info.get('name')}; model '{model}' type {entry['type']}, labels {got}, "
        f"dimension {entry.get('dimension')}, version {entry.get('version')}; trainers {trainers}"
    )
    return info


def _multipart_file(content_type: str, body: bytes) -> tuple[bytes, dict]:
    """The label file and the params JSON of MONAI Label's default multipart infer answer."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    data, params = None, {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "params":
            params = json.loads(payload or b"{}")
        elif name == "image":
            data = payload
    if data is None:
        fail("the multipart infer answer holds no 'image' part")
    return data, params


def infer(url: str, model: str, image: str, out: Path) -> None:
    """``POST /infer/<model>?image=<id>`` with the default (multipart) answer; saves the label file."""
    boundary = "smoke-boundary-7e1f"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n'
        f"{json.dumps({'device': 'cpu'})}\r\n--{boundary}--\r\n"
    ).encode()
    start = time.monotonic()
    status, headers, body = _request(
        f"{url}/infer/{model}?image={urllib.request.quote(image)}",
        "POST",
        form,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if status != 200:
        fail(f"POST /infer/{model}?image={image} returned HTTP {status}: {body[:500]!r}")
    ctype = headers.get("content-type", headers.get("Content-Type", ""))
    if ctype.startswith("multipart/"):
        data, params = _multipart_file(ctype, body)
    elif ctype.startswith("application/json"):
        fail(f"POST /infer/{model}?image={image} answered JSON only (no label file): {body[:500]!r}")
    else:
        data, params = body, {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(
        f"infer {image}: HTTP {status}, {ctype.split(';')[0]}, {len(data)} bytes in "
        f"{time.monotonic() - start:.1f} s; params {json.dumps(params)[:200]}"
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
) -> None:
    cases = sorted(p.name[: -len(".nii.gz")] for p in studies.glob("*.nii.gz"))
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
    s.add_argument("--weights", default=None)
    s = sub.add_parser("random-weights")
    s.add_argument("--config", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("served-configs")
    s.add_argument("--repo", type=Path, required=True)
    s.add_argument("--dest", type=Path, required=True)
    s.add_argument("--image-size", default="")
    s.add_argument("--train-overrides", default="{}")
    s = sub.add_parser("wait-server")
    s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--log", type=Path, required=True)
    s = sub.add_parser("check-info")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--labels", required=True)
    s = sub.add_parser("infer")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--image", required=True)
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("compare")
    s.add_argument("--studies", type=Path, required=True)
    s.add_argument("--labels", type=Path, required=True)
    s.add_argument("--served", type=Path, required=True)
    s.add_argument("--ours", type=Path, required=True)
    s.add_argument("--classes", type=int, default=4)
    s.add_argument("--min-agree", type=float, default=0.99)
    s.add_argument("--min-dice", type=float, default=None)
    s.add_argument("--summary", type=Path, default=None)
    s = sub.add_parser("train")
    s.add_argument("--url", required=True)
    s.add_argument("--model", default=BUNDLE)
    s.add_argument("--params", default="{}")
    s.add_argument("--timeout", type=float, default=900)
    s.add_argument("--log", type=Path, required=True)
    s = sub.add_parser("check-label")
    s.add_argument("--image", type=Path, required=True)
    s.add_argument("--label", type=Path, required=True)
    s.add_argument("--classes", type=int, default=4)
    a = p.parse_args(argv)
    try:
        if a.cmd == "free-port":
            print(free_port())
        elif a.cmd == "pick-weights":
            print(json.dumps(pick_weights(a.repo, a.weights)))
        elif a.cmd == "random-weights":
            random_weights(a.config, a.out)
        elif a.cmd == "served-configs":
            size = [int(v) for v in a.image_size.replace("[", "").replace("]", "").split(",") if v.strip()]
            served_configs(a.repo, a.dest, size or None, json.loads(a.train_overrides))
        elif a.cmd == "wait-server":
            wait_server(a.url.rstrip("/"), a.pid, a.timeout, a.log)
        elif a.cmd == "check-info":
            check_info(a.url.rstrip("/"), a.model, json.loads(a.labels))
        elif a.cmd == "infer":
            infer(a.url.rstrip("/"), a.model, a.image, a.out)
        elif a.cmd == "compare":
            compare(a.studies, a.labels, a.served, a.ours, a.classes, a.min_agree, a.min_dice, a.summary)
        elif a.cmd == "train":
            train(a.url.rstrip("/"), a.model, json.loads(a.params), a.timeout, a.log)
        elif a.cmd == "check-label":
            check_label(a.image, a.label, a.classes)
    except CheckError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
