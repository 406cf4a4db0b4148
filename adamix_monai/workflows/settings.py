# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Range and type checks of a bundle's settings, run first in ``initialize`` (before anything is written).

Each problem is named by its option and the valid range, all in one line, e.g.
``--threshold 2: expected a number in [0, 1]; --seed 1.5: expected a whole number >= 0``.
"""

from __future__ import annotations

import ast
import difflib
import math
import sys
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import torch

from adamix_monai.errors import InputError

__all__ = ["SettingsError", "check_settings", "warn_unknown_overrides"]

PARADIGMS = ("supervised", "self_training", "mean_teacher", "co_training")
MIXES = ("none", "cutmix", "umix", "iumix", "adamix_v1", "adamix_v2", "adamix")
#: Where the training views are made: per sample in the loader's workers, or per batch on the training device
#: (:mod:`adamix_monai.data.device_views`).
VIEWS = ("workers", "device")
#: On/off options (``--amp True``); MONAI's command line gives them as Python booleans.
FLAGS = ("amp", "fuse_forwards", "skip_unused_passes", "channels_last", "fast_dropout")
#: The networks halve every side four times.
SIZE_MULTIPLE = 16


class SettingsError(InputError, ValueError):
    """A bundle setting is out of range or of the wrong type; the message names each option."""


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _sides(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _device_problem(device: Any) -> str | None:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        return "expected cpu, cuda or cuda:<index>"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return "no CUDA device is available here; use cpu"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    elif dev.type not in ("cpu", "mps"):
        return "expected cpu, cuda or cuda:<index>"
    return None


def check_settings(**settings: Any) -> bool:
    """Check the settings a bundle was given; every one is optional (``None`` is skipped).

    Known settings: ``paradigm``, ``mix``, ``labeled_fraction`` (0 < f <= 1), ``seed`` (whole number >= 0),
    ``epochs``, ``batch_size``, ``val_interval``, ``save_every``, ``log_every``, ``history_every`` (whole numbers
    >= 1), ``num_workers`` (>= 0), ``learning_rate`` (> 0), ``threshold``, ``mix_prob``, ``ema_decay``,
    ``cache_rate``, ``lr_decay_fraction`` (in [0, 1]), ``image_size`` (``spatial_dims`` sides, divisible by 16 and
    by ``grid``),
    ``grid``, ``topk`` (1 <= topk <= the number of patches), ``device`` (one that exists here), ``views``
    (``workers`` or ``device``), and the on/off options :data:`FLAGS` (``True`` or ``False``).

    Returns:
        True (so it can sit in a config's ``initialize`` list).

    Raises:
        SettingsError: one line naming every option that is wrong and what was expected.
    """
    problems: list[str] = []

    def bad(name: str, expected: str) -> None:
        problems.append(f"--{name} {settings[name]!r}: {expected}")

    given = {k: v for k, v in settings.items() if v is not None}
    if "paradigm" in given and given["paradigm"] not in PARADIGMS:
        bad("paradigm", f"expected one of {', '.join(PARADIGMS)}")
    if "mix" in given and given["mix"] not in MIXES:
        bad("mix", f"expected one of {', '.join(MIXES)}")
    if "labeled_fraction" in given:
        f = given["labeled_fraction"]
        from_datalist = isinstance(f, str) and f.endswith("labeled") and f[: -len("labeled")].isdigit()
        if not from_datalist and not (_is_number(f) and 0.0 < float(f) <= 1.0):
            bad("labeled_fraction", "expected a number in (0, 1], e.g. 0.1 for 10%")
    if "seed" in given and not (_is_int(given["seed"]) and given["seed"] >= 0):
        bad("seed", "expected a whole number >= 0")
    for name in ("epochs", "batch_size", "val_interval", "save_every", "log_every", "history_every"):
        if name in given and not (_is_int(given[name]) and given[name] >= 1):
            bad(name, "expected a whole number >= 1")
    if "num_workers" in given and not (_is_int(given["num_workers"]) and given["num_workers"] >= 0):
        bad("num_workers", "expected a whole number >= 0")
    if "learning_rate" in given and not (_is_number(given["learning_rate"]) and given["learning_rate"] > 0):
        bad("learning_rate", "expected a number > 0")
    for name in ("threshold", "mix_prob", "ema_decay", "cache_rate", "lr_decay_fraction"):
        if name in given and not (_is_number(given[name]) and 0.0 <= float(given[name]) <= 1.0):
            bad(name, "expected a number in [0, 1]")
    grid_ok = True
    if "grid" in given:
        grid = _sides(given["grid"])
        if not all(_is_int(g) and g >= 1 for g in grid):
            bad("grid", "expected a whole number >= 1 of patches per side, or one per axis")
            grid_ok = False
    dims = given.get("spatial_dims")
    size = given.get("image_size")
    if isinstance(size, (list, tuple)) and _is_int(dims) and len(size) != dims:
        bad("image_size", f"expected {dims} sides (this bundle's network is {dims}D)")
    elif "image_size" in given:
        sides = _sides(given["image_size"])
        if not all(_is_int(s) and s >= SIZE_MULTIPLE and s % SIZE_MULTIPLE == 0 for s in sides):
            bad("image_size", f"expected sides that are multiples of {SIZE_MULTIPLE} (the network halves them 4 times)")
        elif "grid" in given and grid_ok:
            grid = given["grid"]
            grid = list(grid) if isinstance(grid, (list, tuple)) else [grid] * len(sides)
            if len(grid) != len(sides) or any(side % g for side, g in zip(sides, grid)):
                bad("image_size", f"expected sides divisible by --grid {given['grid']!r} (whole patches)")
    if "topk" in given:
        topk, patches = given["topk"], None
        if "grid" in given and grid_ok:
            grid = given["grid"]
            dims = given["spatial_dims"] if _is_int(dims) else len(_sides(given.get("image_size", [0, 0])))
            patches = math.prod(grid) if isinstance(grid, (list, tuple)) else int(grid) ** dims
        if not (_is_int(topk) and topk >= 1 and (patches is None or topk <= patches)):
            bad("topk", f"expected a whole number in [1, {patches}], the patches of the grid" if patches else
                "expected a whole number >= 1")  # fmt: skip
    for name in FLAGS:
        if name in given and not isinstance(given[name], bool):
            bad(name, "expected True or False")
    if "views" in given:
        if given["views"] not in VIEWS:
            bad("views", f"expected one of {', '.join(VIEWS)}")
    if "device" in given:
        problem = _device_problem(given["device"])
        if problem:
            bad("device", problem)
    if problems:
        raise SettingsError("; ".join(problems) + ".")
    return True


#: Arguments of ``monai.bundle run`` itself (not config ids).
_RUN_ARGUMENTS = {"run_id", "init_id", "final_id", "meta_file", "config_file", "logging_file", "tracking", "args_file",
                  "workflow_name", "workflow_type"}  # fmt: skip


def warn_unknown_overrides(argv: Sequence[str] | None = None) -> list[str]:
    """Warn about ``--id`` options of ``python -m monai.bundle run`` that no config of the run defines.

    MONAI accepts any id on its command line, so a typo (``--labled_fraction 0.05``) would silently train with the
    default. The ``adamix-monai`` command line refuses such options; under MONAI's own command this logs a warning
    naming each one and the closest id. Called from the bundles' ``initialize``; does nothing when the process is
    not ``monai.bundle run``.

    Args:
        argv: the command line (default ``sys.argv``).

    Returns:
        The unknown ids.
    """
    from monai.bundle import ConfigParser

    args = list(sys.argv if argv is None else argv)
    if len(args) < 2 or "monai" not in str(args[0]) or "bundle" not in str(args[0]) or args[1] != "run":
        return []
    options, files = [], []
    for i, token in enumerate(args[2:], start=2):
        if token.startswith("--"):
            key, _, inline = token[2:].partition("=")
            if key == "config_file":
                value = inline or (args[i + 1] if i + 1 < len(args) else "")
                try:
                    parsed = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    parsed = value
                files = list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
            elif key not in _RUN_ARGUMENTS:
                options.append(key)
    if not files:
        return []
    try:
        parser = ConfigParser(ConfigParser.load_config_files([str(f) for f in files]))
    except Exception:  # noqa: BLE001 - MONAI reports unreadable configs itself
        return []
    unknown = [key for key in options if not is_config_id(parser, key)]
    for key in unknown:
        message = f"--{key} is not an id of {', '.join(map(str, files))}; nothing reads it{closest_id_hint(parser, key)}"
        print(f"warning: {message}", file=sys.stderr)
    return unknown


def is_config_id(parser: Any, key: str) -> bool:
    """Whether an override ``key`` names something of the config: an id, or a new argument of a component
    (``network_def#channels`` when ``network_def`` is a dict)."""
    if key in parser:
        return True
    parent = key.replace("::", "#").rpartition("#")[0]
    return bool(parent) and parent in parser and isinstance(parser[parent], dict)


def closest_id_hint(parser: Any, key: str) -> str:
    """`` (did you mean --<id>?)`` for the closest top-level id, or ''."""
    close = difflib.get_close_matches(key.split("#")[0], [str(k) for k in parser.get()], n=1, cutoff=0.6)
    return f" (did you mean --{close[0]}?)" if close else ""
