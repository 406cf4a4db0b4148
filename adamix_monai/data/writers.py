# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Image writers that never leave a partial prediction: MONAI's writers, writing to a temporary file that is renamed
over the destination once complete (a kill or a full disk mid-write leaves the old file, or none, never half a one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from monai.data import image_writer
from monai.utils import optional_import

__all__ = ["atomic_writer"]

_CACHE: dict[type, type] = {}


def _temporary(path: Path) -> Path:
    """``dir/.name.<pid>.tmp<ext>``: beside the destination (same file system) with its extension (writers pick the
    format from it)."""
    name = path.name
    ext = ".nii.gz" if name.lower().endswith(".nii.gz") else path.suffix
    stem = name[: len(name) - len(ext)] if ext else name
    return path.with_name(f".{stem}.{os.getpid()}.tmp{ext}")


def atomic_writer(output_ext: str = ".nii.gz", writer: str | type | None = None) -> type:
    """A writer class for ``SaveImage(d)(writer=...)`` that writes atomically.

    Args:
        output_ext: the predictions' extension; picks MONAI's writer when ``writer`` is None (the first of
            ``monai.data.image_writer.resolve_writer(output_ext)``: ITK for NIfTI when installed, PIL for PNG).
        writer: a MONAI writer class or its name (``"PILWriter"``), to use instead.

    Returns:
        A subclass of the writer whose ``write`` goes through a temporary file and ``os.replace``.
    """
    if writer is None:
        base = image_writer.resolve_writer(output_ext)[0]
    elif isinstance(writer, str):
        base, found = optional_import("monai.data", name=writer)
        if not found:
            raise ValueError(f"output_writer '{writer}' is not a MONAI image writer (e.g. 'ITKWriter', 'PILWriter').")
    else:
        base = writer
    if base not in _CACHE:

        def write(self: Any, filename: str | os.PathLike, verbose: bool = False, **kwargs: Any) -> None:
            path = Path(filename)
            tmp = _temporary(path)
            try:
                base.write(self, str(tmp), verbose=verbose, **kwargs)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        _CACHE[base] = type(f"Atomic{base.__name__}", (base,), {"write": write, "__module__": __name__})
    return _CACHE[base]
