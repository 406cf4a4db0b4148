# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``adamix-monai`` command line (built on ``fire``)."""

from __future__ import annotations

import glob
from pathlib import Path

import fire

from adamix_monai.demo import run_demo

__all__ = ["Commands", "main"]


class Commands:
    """adamix-monai: AdaMix for semi-supervised segmentation on MONAI."""

    demo = staticmethod(run_demo)

    @staticmethod
    def figures(
        *runs: str,
        output_dir: str = "figures",
        evaluation: str = "eval-test-best",
        cases: int = 3,
        class_names: tuple[str, ...] | None = None,
    ) -> list[str]:
        """Write the figures of bundle runs: training curves, AdaMix samples over training, test predictions.

        Example: ``adamix-monai figures bundles/adamix_acdc/runs/*-seed1 --output_dir figs``.

        Args:
            runs: run folders (``bundles/<bundle>/runs/<run name>``); shell patterns are expanded.
            output_dir: where the PNG files go (``curves_<run>.png``, ``mix_samples_<run>.png``,
                ``qualitative.png``).
            evaluation: the evaluation sub-folder whose kept test cases are shown (``eval-test-best`` or
                ``eval-test-final``).
            cases: test cases in the qualitative figure.
            class_names: names of the foreground classes (default RV, Myo, LV for 3 classes).

        Returns:
            The files written.
        """
        from adamix_monai.workflows.figures import make_run_figures

        folders = [p for pattern in runs for p in (sorted(glob.glob(pattern)) or [pattern])]
        files = make_run_figures(folders, output_dir, evaluation=evaluation, cases=cases, class_names=class_names)
        return [str(f) for f in files]

    @staticmethod
    def configs(bundle: str | None = None, check: bool = False) -> list[str]:
        """Compose the bundles' runnable configs from ``bundles/common`` and each bundle's ``parts/``.

        Developers edit ``bundles/common/*.json`` (shared wiring) or ``bundles/<name>/parts/*.json`` (what the bundle
        changes), then run this; the tests fail while a composed file is stale.

        Args:
            bundle: one bundle folder name (e.g. ``adamix_la``); all bundles by default.
            check: only list the stale files and exit with status 1 if there are any.

        Returns:
            The files rewritten (or, with ``--check``, the stale ones).
        """
        from adamix_monai.workflows.compose import compose_bundle, stale_configs

        if check:
            stale = [str(p) for p in stale_configs()]
            if stale:
                raise SystemExit("stale composed configs (run `adamix-monai configs`): " + ", ".join(stale))
            return []
        return [str(p) for p in compose_bundle(bundle)]

    @staticmethod
    def table(*summaries: str, mode: str = "honest", title: str | None = None, output: str | None = None) -> str:
        """Gather evaluations into one paper-style table, mean ± std over runs (seeds) of each method.

        Example: ``adamix-monai table "bundles/adamix_acdc/runs/*/eval-test-best/summary.json"``.

        Args:
            summaries: ``summary.json`` files written by an evaluation (or run folders, whose
                ``eval-test-best/summary.json`` is used); shell patterns are expanded.
            mode: ``honest`` (a missed class's distances left out) or ``paper`` (scored 0, as the reference).
            title: table heading.
            output: also write the table to this Markdown file.

        Returns:
            The table.
        """
        from adamix_monai.reporting import collect_table
        from adamix_monai.utils import atomic_open

        files = []
        for pattern in summaries:
            for path in sorted(glob.glob(pattern)) or [pattern]:
                p = Path(path)
                files.append(p / "eval-test-best" / "summary.json" if p.is_dir() else p)
        missing = [str(f) for f in files if not f.is_file()]
        if not files or missing:
            raise FileNotFoundError(f"adamix-monai table: no summary file at {missing or list(summaries)}.")
        text = collect_table(files, mode=mode, title=title)
        if output:
            with atomic_open(output) as f:
                f.write(text.encode())
        return text


def main() -> None:
    """Entry point of the ``adamix-monai`` console script."""
    fire.Fire(Commands, name="adamix-monai")


if __name__ == "__main__":
    main()
