# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``adamix-monai`` command line (built on ``fire``)."""

from __future__ import annotations

import fire

__all__ = ["Commands", "main"]


class Commands:
    """adamix-monai: AdaMix for semi-supervised segmentation on MONAI."""

    def demo(self, output_dir: str = "outputs/demo", iterations: int = 16400, batch: int = 6, seed: int = 0) -> str:
        """Show AdaMix's self-paced curriculum on a synthetic cardiac batch (no download needed).

        Args:
            output_dir: where to write the figure.
            iterations: run length whose schedule is shown (16400 = ACDC at the paper's settings).
            batch: images in the demo batch.
            seed: random seed.

        Returns:
            The output folder.
        """
        from adamix_monai.demo import run_demo

        return str(run_demo(output_dir=output_dir, iterations=iterations, batch=batch, seed=seed))


def main() -> None:
    """Entry point of the ``adamix-monai`` console script."""
    fire.Fire(Commands, name="adamix-monai")


if __name__ == "__main__":
    main()
