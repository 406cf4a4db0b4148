# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""Two-process DDP check on CPU (gloo), launched by tests/engines/test_distributed.py through torchrun.

Usage: torchrun --standalone --nproc_per_node=2 -m tests.scripts.ddp_run OUT_JSON [--paradigm P]
Each rank trains a few iterations on its shard, validates with a MONAI evaluator on its shard of the
validation set, and rank 0 writes what every rank saw to OUT_JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
from monai.data import DataLoader, Dataset
from monai.data import DistributedSampler as MonaiDistributedSampler
from monai.engines import SupervisedEvaluator
from monai.handlers import MeanDice, ValidationHandler, from_engine
from monai.metrics import compute_dice
from monai.transforms import AsDiscreted, Compose

from tests.helpers.ssl_fixtures import make_trainer, synthetic_items


def checksum(module: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum() for p in module.parameters()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_json")
    parser.add_argument("--paradigm", default="self_training")
    parser.add_argument("--mix", default="adamix")
    args = parser.parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast rank 0's

    trainer = make_trainer(args.paradigm, args.mix, max_epochs=2, n_labeled=4, n_unlabeled=8, prob=1.0)
    val_items = synthetic_items(6, 32, 2, seed=9)
    val_loader = DataLoader(
        Dataset(val_items),
        batch_size=1,
        sampler=MonaiDistributedSampler(Dataset(val_items), shuffle=False, even_divisible=False),
    )
    post = Compose([AsDiscreted(keys="pred", argmax=True, to_onehot=4), AsDiscreted(keys="label", to_onehot=4)])
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=val_loader,
        network=trainer.network,
        postprocessing=post,
        key_val_metric={
            "val_dice": MeanDice(include_background=False, output_transform=from_engine(["pred", "label"]))
        },
    )
    ValidationHandler(validator=evaluator, interval=1, epoch_level=True).attach(trainer)
    print(f"rank {rank}: training", flush=True)
    trainer.run()
    print(f"rank {rank}: trained", flush=True)

    mine = {
        "rank": rank,
        "iterations": trainer.state.iteration,
        "checksum": checksum(trainer.students[0]),
        "val_dice": float(evaluator.state.metrics["val_dice"]),
        "shard": sorted(int(i) for i in trainer.data_loader.sampler.order(0)[rank::world]),
        "buffers": float(sum(b.double().sum() for b in trainer.students[0].buffers())),
    }
    gathered: list = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        # the all-reduced metric equals the metric over the whole validation set computed on one process
        net = trainer.network.eval()
        scores = []
        with torch.no_grad():  # compute_dice does not synchronise ranks, unlike the cumulative metrics
            for item in val_items:
                pred = net(item["image"][None]).argmax(1)
                scores.append(
                    compute_dice(
                        torch.nn.functional.one_hot(pred, 4).movedim(-1, 1),
                        torch.nn.functional.one_hot(item["label"].long(), 4).movedim(-1, 1),
                        include_background=False,
                    )
                )
        single = float(torch.nanmean(torch.cat(scores)))
        with open(args.out_json, "w") as f:
            json.dump({"ranks": gathered, "single_process_val_dice": single}, f)
    print(f"rank {rank}: done", flush=True)
    dist.barrier()  # tear down together: a rank leaving while gloo still talks to it can abort
    dist.destroy_process_group()
    sys.stdout.flush()
    # skip the interpreter's teardown of C++ statics: gloo's threads there aborted a rank now and then
    # ("terminate called without an active exception") after all the work was done and reported
    os._exit(0)


if __name__ == "__main__":
    main()
