# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The input-error family: what the command line and the bundles print as one ``error:`` line (exit status 2).

Every error about what a user gave (a file, a folder, a datalist, an option value, a checkpoint) derives from
:class:`InputError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "BundleInputError",
    "CheckpointError",
    "DatasetError",
    "InputError",
    "NoSpaceError",
    "find_input_error",
    "no_space_error",
]


import errno
import os

#: ``OSError`` numbers of a full disk or an exhausted quota.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class InputError(Exception):
    """A user input is missing or unusable; the message names it and says what was expected."""


class BundleInputError(InputError, FileNotFoundError):
    """A bundle's input (dataset folder, datalist, option) is missing or malformed; the message says what was
    expected and where to get it. On the command line it is printed as one line, without a traceback."""


class CheckpointError(InputError, ValueError):
    """A weights or checkpoint file cannot be used: not a PyTorch file, damaged, or made for another network."""


class DatasetError(InputError, ValueError):
    """A file of a dataset folder is unusable (unreadable, wrong dtype, image and label shapes that differ, label
    values outside the classes); the message names every such file."""


class NoSpaceError(InputError, OSError):
    """The disk (or the quota) is full: what was written before is intact, and the same command resumes the run."""


def no_space_error(exc: BaseException, path: str | os.PathLike | None = None) -> NoSpaceError | None:
    """A :class:`NoSpaceError` naming the file for an ``OSError`` of a full disk or quota (``exc`` or one of its
    causes), else None.

    Args:
        exc: the error raised by a write.
        path: the file being written (default: the error's own ``filename``).
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # torch.save reports a full disk as a RuntimeError over it
        if isinstance(exc, NoSpaceError) or (isinstance(exc, OSError) and exc.errno in _NO_SPACE):
            break
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    else:
        return None
    if isinstance(exc, NoSpaceError):
        return exc
    where = path if path is not None else exc.filename
    target = f" writing '{where}'" if where else ""
    full = NoSpaceError(
        f"no space left on the device{target} ({os.strerror(exc.errno)}); files written before are intact "
        "(checkpoints are replaced atomically): free space, then run the same command again to resume"
    )
    full.errno = exc.errno
    return full


def find_input_error(exc: BaseException | None) -> Exception | None:
    """The input error (an :class:`InputError`, or a full disk as a :class:`NoSpaceError`) in ``exc`` or its chain
    of causes (MONAI's config parser wraps what an expression raises), else None: a bug, which keeps its traceback.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, InputError):
            return exc
        full = no_space_error(exc)
        if full is not None:
            return full
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
