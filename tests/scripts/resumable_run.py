# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A small deterministic CPU training run with a resumable checkpoint (driven by tests/test_resume.py).

Usage: python -m tests.scripts.resumable_run OUT_DIR [--slow SECONDS] [--paradigm P] [--mix M]
Running the same command again after the process was killed resumes from OUT_DIR/checkpoint.pt. At the end the
final weights are written to OUT_DIR/final.pt.
"""

from __future__ import annotations

import argparse
import time

import torch
from ignite.engine import Events

from adamix_monai.handlers import ResumableCheckpoint, atomic_save
from tests.ssl_fixtures import make_trainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--slow", type=float, default=0.0, help="sleep after each iteration (to be killed mid-way)")
    parser.add_argument("--paradigm", default="mean_teacher")
    parser.add_argument("--mix", default="adamix")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    trainer = make_trainer(args.paradigm, args.mix, max_epochs=args.epochs, n_labeled=4, n_unlabeled=8, prob=0.5)
    ckpt = ResumableCheckpoint(args.out_dir, trainer.checkpoint_objects(), save_every=2)
    ckpt.attach(trainer)
    if args.slow:
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED,
            lambda e: (print(f"iteration {e.state.iteration}", flush=True), time.sleep(args.slow)),
        )
    trainer.run()
    final = {"network": trainer.students[0].state_dict()}
    if trainer.teacher is not None:
        final["teacher"] = trainer.teacher.state_dict()
    if trainer.network2 is not None:
        final["network2"] = trainer.network2.state_dict()
    atomic_save(final, f"{args.out_dir}/final.pt")
    print(f"done at iteration {trainer.state.iteration}, resumed from {ckpt.resumed_from}", flush=True)


if __name__ == "__main__":
    main()
