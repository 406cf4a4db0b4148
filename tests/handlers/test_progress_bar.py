# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""On a terminal, the progress bar and the log lines share the screen without overwriting each other (run in a real
pseudo-terminal and replayed as a terminal shows it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s")
from tests.helpers.ssl_fixtures import make_trainer
from adamix_monai.handlers import attach_training_logs
trainer = make_trainer("self_training", "adamix", max_epochs=2)
attach_training_logs(trainer, None, progress=True, log_every=1)
trainer.run()
"""


def _run_in_a_terminal(args: list[str]) -> str:
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 columns, as a real terminal
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=REPO_ROOT,
                            env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore"))  # fmt: skip
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=300) == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


def _screen_lines(text: str) -> list[str]:
    """What a terminal shows: a carriage return goes back to the line's start, later characters overwrite."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    lines = []
    for raw in text.split("\n"):
        line: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        lines.append("".join(line).rstrip())
    return lines


def test_log_lines_are_whole_beside_the_progress_bar():
    lines = _screen_lines(_run_in_a_terminal([sys.executable, "-c", SCRIPT]))
    logs = [line for line in lines if " - INFO - " in line]
    assert len(logs) >= 8 and any("%|" in line for line in lines)  # both were on the screen
    for line in logs:
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - ", line), line  # the line starts at its start
