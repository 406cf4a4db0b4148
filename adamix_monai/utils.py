# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Small shared helpers."""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

__all__ = [
    "atomic_open",
    "is_rank0",
    "numpy_state_from_dict",
    "numpy_state_to_dict",
    "read_csv_columns",
    "write_csv",
]


def is_rank0() -> bool:
    """True outside ``torch.distributed`` and on its rank 0 (the process that writes files and logs)."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing; on success flush it to disk and rename it over ``path``.

    A reader sees the old file or the new one, never a partial one; on an error the temporary file is removed
    and ``path`` is untouched.

    Args:
        path: the destination (its folder is created).

    Yields:
        The binary file to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the permissions of a plain open()
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        from adamix_monai.errors import no_space_error

        full = no_space_error(e, path)
        if full is not None and full is not e:
            raise full from e
        raise


def numpy_state_to_dict(state: tuple) -> dict[str, Any]:
    """A legacy numpy RandomState state tuple as tensors and plain values (``torch.load(weights_only=True)``-safe).

    Args:
        state: ``RandomState.get_state(legacy=True)`` or ``np.random.get_state(legacy=True)``.

    Returns:
        ``{"name", "keys", "pos", "has_gauss", "cached_gaussian"}``.
    """
    name, keys, pos, has_gauss, cached = state
    return {
        "name": str(name),
        "keys": torch.as_tensor(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def numpy_state_from_dict(state: Any) -> tuple:
    """The inverse of :func:`numpy_state_to_dict`, for ``RandomState.set_state`` / ``np.random.set_state``."""
    keys = np.asarray(torch.as_tensor(state["keys"]).cpu().numpy(), dtype=np.uint32)
    return (state["name"], keys, int(state["pos"]), int(state["has_gauss"]), float(state["cached_gaussian"]))


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write rows as CSV with the given columns (others ignored, None as an empty cell), atomically.

    Args:
        path: destination.
        columns: the header, in order.
        rows: one mapping per row.

    Returns:
        The path.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(path) as f:
        f.write(buffer.getvalue().encode())
    return Path(path)


def read_csv_columns(path: str | os.PathLike) -> dict[str, list[float]]:
    """Read a numeric CSV (e.g. a training history) into columns of floats; empty cells become NaN.

    Args:
        path: the CSV file.

    Returns:
        Column name -> values (empty for a file without rows).
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {key: [float(r[key]) if r[key] not in ("", None) else math.nan for r in rows] for key in rows[0]}
