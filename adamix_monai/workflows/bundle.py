# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Helpers that the bundles' JSON configs call: where the bundle and its data are, run names, input checks.

Everything here is shared by every bundle (ACDC, LA, ISIC), so their configs hold only what differs.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

from adamix_monai.errors import BundleInputError, CheckpointError, InputError, find_input_error
from adamix_monai.handlers.checkpoint import atomic_save
from adamix_monai.paths import bundle_dir, default_dataset_dir
from adamix_monai.utils import atomic_open, is_rank0

__all__ = [
    "BundleInputError",
    "bundle_dir",
    "check_model_info",
    "checked_weights_path",
    "choice",
    "config_literal",
    "default_dataset_dir",
    "first_existing",
    "load_weights",
    "image_datalist",
    "labeled_label",
    "install_error_hook",
    "model_info",
    "publish_model",
    "record_run",
    "running_config",
    "run_details",
    "require_dataset",
    "run_name",
    "save_model",
    "write_model_info",
]



def config_literal(value: Any) -> Any:
    """``value`` in a form that MONAI's config parser keeps as data, never as an expression, reference or macro.

    MONAI's parser evaluates every string that starts with ``$`` as Python, resolves ``@id`` references and ``%``
    macros, and rewrites ``::`` to ``#`` in strings. A file name, a datalist path or an option value given as text
    must reach the bundle unchanged, so every string is handed over as an expression whose only content is the
    string's bytes in hexadecimal: ``$bytes.fromhex('...').decode(...)`` evaluates to exactly the original text,
    and hexadecimal digits hold no ``$``, ``@``, ``%``, ``#`` or ``:``. Lists and dicts are converted item by item
    (MONAI parses inside them); tuples, numbers, booleans, None and objects pass unchanged (MONAI parses neither).

    Args:
        value: an override value.

    Returns:
        The value to give as a config override.
    """
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogateescape").hex()
        return f"$bytes.fromhex('{data}').decode('utf-8', 'surrogateescape')"
    if isinstance(value, list):
        return [config_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: config_literal(v) for k, v in value.items()}
    return value


def install_error_hook() -> bool:
    """Make an uncaught input error (even wrapped by MONAI's config parser) print as one clear line, exit status 2.

    Input errors are :class:`~adamix_monai.errors.InputError` and its subclasses; other errors keep Python's usual
    traceback. Called from the bundles' ``initialize`` section.

    Returns:
        True (so it can sit in a config list).
    """
    previous: Callable[..., Any] = sys.excepthook
    if getattr(previous, "_adamix_hook", False):
        return True

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        found = find_input_error(value)
        if found is not None:
            print(f"error: {found}", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)  # the input-error status; nothing was written that needs interpreter clean-up
        previous(kind, value, tb)

    hook._adamix_hook = True  # type: ignore[attr-defined]
    sys.excepthook = hook
    return True


def require_dataset(
    factory: Callable[..., Any], dataset_dir: str, option: str = "--dataset_dir", lazy: bool = False, **kwargs: Any
) -> Any:
    """Open a dataset folder (or datalist file), turning any layout error into a :class:`BundleInputError` that
    names the option.

    Args:
        factory: the dataset class, e.g. :class:`~adamix_monai.data.sources.ACDC`.
        dataset_dir: the folder (or file).
        option: the command-line option that sets it.
        lazy: return a :class:`~adamix_monai.workflows.datastore.DeferredDataset` that opens the dataset on first
            use (the bundles' ``datasource``: a training on injected data, as MONAI Label's, never needs it).
        kwargs: more arguments of ``factory``.

    Returns:
        The dataset object.

    Raises:
        BundleInputError: naming the folder, what was expected, where to get the data and the option to set (at
            once, or on first use when ``lazy``).
    """

    def open_it() -> Any:
        try:
            return factory(dataset_dir, **kwargs)
        except (FileNotFoundError, NotADirectoryError, ValueError) as e:
            what = "folder" if option == "--dataset_dir" else "file"
            sep = "\n" if "\n" in str(e) else " "
            also = " (or ADAMIX_DATA_DIR to the folder that holds it)" if option == "--dataset_dir" else ""
            raise BundleInputError(f"{e}{sep}Set the {what} with {option} <{what}>{also}.") from None

    if lazy:
        from adamix_monai.workflows.datastore import DeferredDataset

        return DeferredDataset(open_it, str(dataset_dir))
    return open_it()


def run_name(
    paradigm: str,
    mix: str,
    labeled_fraction: float | str,
    seed: int,
    data: dict[str, Any] | None = None,
    own_data: dict[str, Any] | None = None,
    injected: bool | None = None,
) -> str:
    """The output folder name of a run, e.g. ``self_training-adamix-10pct-seed1``.

    Args:
        paradigm: the training paradigm.
        mix: the mix strategy.
        labeled_fraction: the labeled share (or a label such as ``"7-cases"``).
        seed: the run's seed.
        data: the datalists the run trains and validates on (``train#dataset#data``, ``validate#dataset#data``).
        own_data: the bundle's own datalists (from its dataset or ``--datalist``). When ``data`` differs, the data
            was injected over the bundle's own (MONAI Label does this on every training request, with the labels
            annotated so far): the name gets the data's digest (``...-seed1-data3f2a9c1e``), so each labeled set
            trains in a folder of its own and the same set resumes in the same folder.
        injected: whether ``data`` was injected (:func:`~adamix_monai.workflows.datastore.data_injected`), instead
            of comparing it with ``own_data``.
    """
    fraction = labeled_fraction if isinstance(labeled_fraction, str) else f"{round(float(labeled_fraction) * 100):g}pct"
    name = f"{paradigm}-{mix}-{fraction}-seed{int(seed)}"
    if injected is None:
        injected = data is not None and own_data is not None and _plain(data) != _plain(own_data)
    if injected and data is not None:
        name += f"-data{_data_identity(data)[:8]}"
    return name


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def labeled_label(labeled_fraction: float | str) -> str:
    """``0.1`` -> ``10%`` (the summary tables' labeled column)."""
    if isinstance(labeled_fraction, str):
        return labeled_fraction
    return f"{round(float(labeled_fraction) * 100):g}%"


def publish_model(source: str | os.PathLike, destination: str | os.PathLike) -> bool:
    """Copy a trained model file (a plain state dict) to ``destination`` atomically, e.g. the run's best model to
    the bundle's ``models/model.pt`` that ``inference.json`` and MONAI Label load, with its
    :func:`model_info` file when there is one. Rank 0 only; a missing source (no validation ran) is skipped.

    Returns:
        Whether a file was written.
    """
    if not is_rank0() or not Path(source).is_file():
        return False
    info = _info_path(source)
    with open(source, "rb") as src, atomic_open(destination) as dst:
        shutil.copyfileobj(src, dst)
    if info.is_file():
        with open(info, "rb") as src, atomic_open(_info_path(destination)) as dst:
            shutil.copyfileobj(src, dst)
    return True


def _info_path(model_file: str | os.PathLike) -> Path:
    return Path(model_file).with_suffix(".json")


def write_model_info(output_dir: str | os.PathLike, **info: Any) -> bool:
    """Record what inference needs to know about the models of a run (``<output_dir>/model.json``), e.g. the
    ``image_size`` they were trained at: a plain state dict does not say, and a 2D network trained at 128x128 and
    served at 256x256 predicts nothing useful without any error. :func:`publish_model` copies it along.

    Args:
        output_dir: the run folder (where ``model.pt`` is written).
        info: JSON-serialisable values (lists, numbers, strings).

    Returns:
        Whether the file was written (rank 0 only; never over the ``model.json`` of a run that has a checkpoint,
        so a resumed run keeps the description of what it was trained with).
    """
    if not is_rank0():
        return False
    folder = Path(output_dir)
    if (folder / "checkpoint.pt").is_file() and (folder / "model.json").is_file():
        return False  # a resumed run: its models were trained with what model.json already says
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(folder / "model.json") as f:
        f.write(
            (json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in info.items()}, indent=2) + "\n").encode()
        )
    return True


def check_model_info(output_dir: str | os.PathLike, **expected: Any) -> bool:
    """Stop when the run's ``model.json`` says its models were trained with other values than this command's.

    Used by ``evaluate.json``: a model trained at 64x64 and scored at 128x128 would give wrong numbers without a
    word. A run without ``model.json`` (older runs) passes.

    Returns:
        True (so it can sit in a config's ``initialize`` list).

    Raises:
        BundleInputError: naming each option, the run's value and this command's.
    """
    path = Path(output_dir) / "model.json"
    if not path.is_file():
        return True
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return True
    plain = json.loads(json.dumps(expected, default=str))
    wrong = [f"--{k} {plain[k]!r}: the run's models were trained with {info[k]!r}" for k in plain if k in info and info[k] != plain[k]]
    if wrong:
        raise BundleInputError(
            f"{'; '.join(wrong)} ('{path}'); give the run's values (or the options the run was trained with)."
        )
    return True


def model_info(model_file: str | os.PathLike, key: str, default: Any) -> Any:
    """A value recorded by :func:`write_model_info` beside a model file (``model.pt`` -> ``model.json``), else
    ``default``: inference configs use it so that served weights run at the size they were trained at (an explicit
    ``--image_size`` still wins).

    Args:
        model_file: the weights file.
        key: e.g. ``image_size``.
        default: the value when nothing is recorded (the bundle's paper setting).
    """
    path = _info_path(model_file)
    try:
        return json.loads(path.read_text()).get(key, default) if path.is_file() else default
    except (OSError, ValueError):
        return default


def load_weights(path: str | os.PathLike, network: torch.nn.Module | None = None, device: Any = "cpu") -> dict:
    """Read a weights file (``torch.load(weights_only=True)``: a file cannot run code) and check it fits.

    Args:
        path: a state dict written by training (``model.pt``, ``model_final.pt``).
        network: when given, every key and shape of its ``state_dict`` must be in the file, and no other key.
        device: ``map_location``.

    Returns:
        The state dict.

    Raises:
        CheckpointError: one line naming the file: missing, not a PyTorch weights file (or damaged: truncated,
            empty), or made for another network.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(
            f"weights '{file}' do not exist; train first (the bundle's train.json publishes its best model there) or "
            "give the model file (model.pt). No trained weights are published to download yet (large_files.yml)."
        )
    try:
        state = torch.load(file, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - every reason means the same to the user: not usable weights
        reason = "it is empty" if file.stat().st_size == 0 else f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        raise CheckpointError(
            f"weights '{file}' are not a readable PyTorch weights file ({reason}); give a model.pt written by "
            "training, or retrain if the file was damaged."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"weights '{file}' hold no state dict of tensors; give a model.pt written by training.")
    if network is not None:
        expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
        if missing or unexpected or wrong:
            first = (wrong or missing or unexpected)[0]
            detail = (
                f"'{first}' has shape {tuple(state[first].shape)}, the network {expected[first]}"
                if wrong
                else f"{len(missing)} of the network's entries missing, {len(unexpected)} unknown (e.g. '{first}')"
            )
            raise CheckpointError(
                f"weights '{file}' were made for another network ({detail}); give a model of this bundle."
            )
    return state


def choice(value: Any, options: Sequence[Any], option: str) -> Any:
    """``value`` when it is one of ``options``, else one clear error naming ``option``.

    Raises:
        BundleInputError: ``<option> must be one of ...``.
    """
    if value not in tuple(options):
        raise BundleInputError(f"{option} must be one of {', '.join(map(str, options))}; got '{value}'.")
    return value


def checked_weights_path(path: str | os.PathLike, network: torch.nn.Module | None = None) -> str:
    """``path`` after :func:`load_weights` has checked it (for MONAI's ``CheckpointLoader`` in ``inference.json``).

    Raises:
        CheckpointError: as :func:`load_weights`.
    """
    load_weights(path, network)
    return str(path)


def lock_run(output_dir: str | os.PathLike) -> bool:
    """Claim a run folder for this process: ``<output_dir>/.lock`` names the holder's PID and host.

    A second training in the same folder while the first is alive is refused; a lock whose holder has died (a
    crash, a kill) is taken over. The lock goes when the process exits. Only rank 0 locks (DDP).

    Returns:
        True (so it can sit in a config's ``initialize`` list).

    Raises:
        BundleInputError: naming the folder and the holder while that holder runs.
    """
    import atexit
    import socket

    if not is_rank0():
        return True
    folder = Path(output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file in the way, no permission, a read-only disk
        raise BundleInputError(
            f"cannot create the run folder '{folder}' ({e.strerror or type(e).__name__}); choose another --bundle_root "
            "or --run_name."
        ) from None
    lock = folder / ".lock"
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                lock.unlink(missing_ok=True)  # unreadable: left by a write that died
                continue
            alive = host == me["host"] and pid != me["pid"] and _pid_alive(pid)
            if alive or host != me["host"]:
                raise BundleInputError(
                    f"run folder '{folder}' is in use by process {pid} on {host} ('{lock}'); wait for it to finish, or "
                    "give this run another --run_name (delete the lock file only if that process is gone)."
                ) from None
            lock.unlink(missing_ok=True)  # its holder died: take it over
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        atexit.register(lambda: lock.unlink(missing_ok=True) if lock.is_file() and _holder(lock) == me["pid"] else None)
        return True
    raise BundleInputError(f"run folder '{folder}': could not create the lock file '{lock}'.")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(lock: Path) -> int | None:
    try:
        return int(json.loads(lock.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _data_identity(data: Any) -> str:
    """A digest of datalists: each item's file names and sizes (moving the dataset folder keeps it)."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(f"[{name}]".encode())
        for item in data[name] or []:
            values = item.values() if isinstance(item, dict) else [item]
            for value in values:
                if isinstance(value, str) and os.path.isfile(value):
                    digest.update(f"{Path(value).name}:{os.path.getsize(value)};".encode())
                elif isinstance(value, (str, int, float)):
                    digest.update(f"{value};".encode())
    return digest.hexdigest()[:16]


#: Settings a run may change on resume: ``epochs`` may grow (continuing a finished run for more epochs).
_EXTENSIBLE = ("epochs",)
#: Settings added after runs were recorded, with the value a record without them ran with.
_ADDED_LATER = {"fuse_forwards": False, "skip_unused_passes": False, "views": "workers", "fast_dropout": False}


def record_run(output_dir: str | os.PathLike, settings: dict[str, Any], data: dict[str, Any]) -> bool:
    """Record what defines a run in ``<output_dir>/run.json``, or check a resumed run against it.

    The record holds the run's settings, its data's identity (a digest of the datalists' file names and sizes) and
    the package version. A folder holding a run made with the same settings and data is resumed; one made with
    more ``epochs`` than before is continued (its record is updated); any other difference (another datalist,
    ``--image_size``, ``--seed``, fewer epochs, ...) stops the command before anything is written, naming each
    difference and the two ways out.

    Args:
        output_dir: the run folder.
        settings: JSON-serialisable settings that define the run.
        data: datalists by role (``train``, ``unlabeled``, ``validation``); their image files are listed in
            ``<output_dir>/datalists.json``.

    Returns:
        True (so it can sit in a config's ``initialize`` list).

    Raises:
        BundleInputError: when the folder holds another run.
    """
    import adamix_monai

    if not is_rank0():
        return True
    plain = _plain(settings)
    record = {"settings": plain, "data": _data_identity(data), "version": adamix_monai.__version__}
    path = Path(output_dir) / "run.json"
    if path.is_file():
        try:
            before = json.loads(path.read_text())
            old = dict(before["settings"])
        except (OSError, ValueError, KeyError, TypeError):
            raise BundleInputError(
                f"'{path}' is damaged (not the JSON record a run writes); delete the run folder '{output_dir}' to "
                "start the run again."
            ) from None
        changed = [
            f"{k} {old.get(k)!r} there, {v!r} here"
            for k, v in plain.items()
            if old.get(k) != v
            and not (k in _EXTENSIBLE and _grows(old.get(k), v))
            and not (k in _ADDED_LATER and k not in old and v == _ADDED_LATER[k])  # a later option at its old value
        ]
        changed += [f"{k} {old[k]!r} there, not set here" for k in old if k not in plain]
        if before.get("data") != record["data"]:
            changed.append("the data (other files, or other file sizes, in the datalists)")
        if changed:
            raise BundleInputError(
                f"run folder '{output_dir}' holds another run ({'; '.join(changed)}); give this run a new "
                "--run_name, or delete that folder to train it again."
            )
        if old == plain:
            return True
    path.parent.mkdir(parents=True, exist_ok=True)
    config = running_config()
    if config is not None:  # the config this run trains with, beside its record (as MONAI's tracking saves it)
        with atomic_open(path.parent / "config.json") as f:
            f.write((json.dumps(config, indent=4, default=str) + "\n").encode())
    with atomic_open(path.parent / "datalists.json") as f:  # which files each stream read (MONAI Label runs)
        f.write((json.dumps(_file_lists(data), indent=1) + "\n").encode())
    with atomic_open(path) as f:
        f.write((json.dumps(record, indent=2) + "\n").encode())
    return True


def _file_lists(data: dict[str, Any]) -> dict[str, Any]:
    """``{role: {"count": n, "images": [...]}}``: the image file (or item) of each datalist entry."""
    out: dict[str, Any] = {}
    for role in sorted(data):
        items = list(data[role] or [])
        images = [str(i.get("image", "")) if isinstance(i, dict) else str(i) for i in items]
        out[role] = {"count": len(items), "images": images}
    return out


def running_parser() -> Any:
    """The ``ConfigParser`` of the running ``monai.bundle`` workflow: the one evaluating the expression that calls
    this, found on the call stack; None outside a bundle run."""
    import inspect

    from monai.bundle import ConfigParser

    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ConfigParser):
            return owner
        frame = frame.f_back
    return None


def running_config() -> dict[str, Any] | None:
    """The config of the running ``monai.bundle`` workflow, as MONAI's experiment tracking saves it ("the executed
    config"): the config files merged and the command-line overrides applied, expressions as written; None outside
    a bundle run."""
    parser = running_parser()
    return None if parser is None else copy.deepcopy(parser.get())


def _grows(before: Any, now: Any) -> bool:
    try:
        return int(now) >= int(before)
    except (TypeError, ValueError):
        return False


#: What an evaluation summary reports of the run it scores (from the run's ``run.json``).
_REPORTED = ("paradigm", "mix", "labeled_fraction", "seed", "image_size", "epochs", "batch_size", "learning_rate")


def run_details(output_dir: str | os.PathLike, evaluation: dict[str, Any], fallback: dict[str, Any]) -> dict[str, Any]:
    """The facts an evaluation summary reports: the evaluation's own (checkpoint, split, ...) and the scored
    run's settings as its ``run.json`` recorded them (the training's epochs, seed, image size, ...), not the
    evaluate command's; ``fallback`` (the command's values) only for a run without a record.

    Args:
        output_dir: the run folder.
        evaluation: the evaluation's settings.
        fallback: the command's settings, used when the run has no readable ``run.json``.
    """
    try:
        recorded = json.loads((Path(output_dir) / "run.json").read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return {**evaluation, **fallback}
    return {**evaluation, **{k: recorded[k] for k in _REPORTED if k in recorded}}


def first_existing(paths: Sequence[str | os.PathLike]) -> str:
    """The first path that exists (for a checkpoint to evaluate: the best model, else the final one).

    Raises:
        BundleInputError: when none exists.
    """
    for path in paths:
        if Path(path).is_file():
            return str(path)
    raise BundleInputError(f"no model file found; looked for {', '.join(str(p) for p in paths)}. Train first.")


def save_model(network: torch.nn.Module, path: str | os.PathLike) -> bool:
    """Save a network's weights as a plain state dict, atomically (rank 0 only; a DDP wrapper is unwrapped).

    Returns:
        Whether a file was written.
    """
    if not is_rank0():
        return False
    network = network.module if hasattr(network, "module") else network
    atomic_save(network.state_dict(), path)
    return True


IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".png", ".jpg", ".jpeg")


def image_datalist(
    folder: str | os.PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES, option: str = "--input_dir"
) -> list[dict[str, str]]:
    """A datalist ``[{"image": path}, ...]`` of the image files in a folder (or of one file), sorted by name.

    Args:
        folder: a folder, or one image file.
        suffixes: file name endings that count as images.
        option: how the error messages name the input.

    Returns:
        The datalist.

    Raises:
        BundleInputError: when the path does not exist or holds no image.
    """
    path = Path(folder)
    if path.is_file():
        return [{"image": str(path)}]
    if not path.is_dir():
        raise BundleInputError(f"input '{path}' does not exist; set {option} to a folder of images or one image.")
    files = sorted(str(p) for p in path.iterdir() if p.is_file() and p.name.lower().endswith(tuple(suffixes)))
    if not files:
        raise BundleInputError(f"input folder '{path}' holds no image ({', '.join(suffixes)}); check {option}.")
    return [{"image": f} for f in files]
