# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""A small deterministic CPU training run with validation, a best-model saver and a resumable checkpoint.

Driven by tests/engines/test_resume.py. Usage::

    python -m tests.scripts.resumable_run OUT_DIR [--slow SECONDS] [--paradigm P] [--mix M] [--epochs E]
        [--pause-after-save N] [--pause-after-validation E] [--views workers|device]

Running the same command again after the process was killed resumes from OUT_DIR/checkpoint.pt. Epochs have 4
iterations; validation runs at every epoch end on a DataLoader (whose iterator draws from the global random
state, as a bundle's does) and the best model is kept. ``--pause-after-save N`` prints ``saved N`` after the
checkpoint of iteration N is written and waits (the test kills the process there); ``--pause-after-validation
E`` prints ``validated E`` after epoch E's validation, before that epoch's checkpoint, and waits. At the end the
final weights, the best model and the validation history are written to OUT_DIR/final.pt.
"""

from __future__ import annotations

import argparse
import time

import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.handlers import MeanDice, ValidationHandler, from_engine
from monai.transforms import AsDiscreted

from adamix_monai.data.device_views import BatchViews2d
from adamix_monai.handlers import BestModelSaver, ResumableCheckpoint, atomic_save
from tests.helpers.ssl_fixtures import make_trainer, synthetic_items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--slow", type=float, default=0.0, help="sleep after each iteration (to be killed mid-way)")
    parser.add_argument("--paradigm", default="mean_teacher")
    parser.add_argument("--mix", default="adamix")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pause-after-save", type=int, default=None)
    parser.add_argument("--pause-after-validation", type=int, default=None)
    parser.add_argument("--views", default="workers", choices=("workers", "device"))
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    views = dict(device_views=BatchViews2d(seed=3)) if args.views == "device" else {}
    trainer = make_trainer(
        args.paradigm, args.mix, max_epochs=args.epochs, n_labeled=4, n_unlabeled=8, prob=0.5, **views
    )
    network = trainer.students[0]
    post = AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=4)
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(Dataset(synthetic_items(2, 32, 2, seed=9)), batch_size=1, shuffle=True),
        network=network,
        postprocessing=post,
        key_val_metric={"val_mean_dice": MeanDice(include_background=False, output_transform=from_engine(["pred", "label"]))},
    )  # fmt: skip
    best = BestModelSaver(args.out_dir, network, filename="best.pt")
    best.attach(evaluator)
    ValidationHandler(validator=evaluator, epoch_level=True, interval=1).attach(trainer)
    history: list[float] = []
    evaluator.add_event_handler(Events.COMPLETED, lambda e: history.append(float(e.state.metrics["val_mean_dice"])))
    if args.pause_after_validation is not None:

        def pause_validation(e):
            if trainer.state.epoch == args.pause_after_validation:
                print(f"validated {trainer.state.epoch}", flush=True)
                time.sleep(120)

        evaluator.add_event_handler(Events.COMPLETED, pause_validation)
    ckpt = ResumableCheckpoint(args.out_dir, dict(trainer.checkpoint_objects(), best=best), save_every=2)
    if args.pause_after_save is not None:
        save = ckpt.save

        def save_then_pause(engine=None):
            save(engine)
            if engine is not None and engine.state.iteration == args.pause_after_save:
                print(f"saved {engine.state.iteration}", flush=True)
                time.sleep(120)

        ckpt.save = save_then_pause  # type: ignore[method-assign]
    ckpt.attach(trainer)
    if args.slow:
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED,
            lambda e: (print(f"iteration {e.state.iteration}", flush=True), time.sleep(args.slow)),
        )
    trainer.run()
    final = {"network": network.state_dict(), "best": torch.load(f"{args.out_dir}/best.pt", weights_only=True)}
    if trainer.teacher is not None:
        final["teacher"] = trainer.teacher.state_dict()
    if trainer.network2 is not None:
        final["network2"] = trainer.network2.state_dict()
    final["best_metric"] = {"value": torch.tensor(best.state_dict()["best"])}
    atomic_save(final, f"{args.out_dir}/final.pt")
    print(f"done at iteration {trainer.state.iteration}, resumed from {ckpt.resumed_from}", flush=True)
    print(f"validations {history}", flush=True)


if __name__ == "__main__":
    main()
