# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``adamix-monai`` command line (built on ``fire``).

``train``, ``evaluate`` and ``infer`` run a bundle's configs (``bundles/<bundle>/configs``) exactly as
``python -m monai.bundle run --config_file [...]`` does, choosing the config files from a few options, so users
need not write configs; every other bundle id can still be set with ``--<id> <value>``.
"""

from __future__ import annotations

import glob
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fire

from adamix_monai.demo import run_demo
from adamix_monai.errors import BundleInputError

__all__ = ["Commands", "bundle_configs", "main", "resolve_bundle"]

_PICTURES = (".png", ".jpg", ".jpeg")


def resolve_bundle(bundle: str) -> Path:
    """A bundle folder from a short name (``acdc``), a folder name (``adamix_acdc``) or a path.

    Raises:
        BundleInputError: naming what was looked for and the bundles that exist.
    """
    from adamix_monai.paths import BUNDLES_DIR, bundle_candidates

    candidates = bundle_candidates(bundle)
    for folder in candidates:
        if (folder / "configs" / "train.json").is_file() or (folder / "configs" / "inference.json").is_file():
            return folder.resolve()
    known = sorted(p.name.removeprefix("adamix_") for p in BUNDLES_DIR.glob("adamix_*") if (p / "configs").is_dir())
    raise BundleInputError(
        f"adamix-monai: no bundle '{bundle}' (looked for {', '.join(str(c) for c in candidates)}); "
        f"known bundles: {', '.join(known) or 'none'}, or give a bundle folder."
    )


def bundle_configs(folder: Path, names: Sequence[str]) -> list[str]:
    """The config files ``names`` of a bundle, checked to exist (a clear error names a missing one)."""
    files = [folder / "configs" / n for n in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise BundleInputError(f"adamix-monai: bundle '{folder}' lacks {', '.join(missing)}.")
    return [str(f) for f in files]


def _run_bundle(folder: Path, names: Sequence[str], overrides: dict[str, Any]) -> None:
    from monai.bundle import run

    from adamix_monai.workflows import config_literal, install_error_hook

    install_error_hook()
    meta = folder / "configs" / "metadata.json"
    extra = {"meta_file": str(meta)} if meta.is_file() else {}
    files = bundle_configs(folder, names)
    _check_known_ids(files, overrides)
    # every value (file names, paths, option text) reaches the config parser as data, never as an expression
    values = {k: config_literal(v) for k, v in overrides.items() if v is not None}
    with warnings.catch_warnings():
        # MONAI warns on every parse that configs run code; these are the bundle's own configs, and user values
        # reach them only as data (config_literal)
        warnings.filterwarnings("ignore", message="parsing config_file", category=UserWarning)
        run(config_file=files, **extra, **values)


def _check_known_ids(files: Sequence[str], overrides: dict[str, Any]) -> None:
    """Refuse an option that no config of the run defines, suggesting the closest id (a typo must not be ignored).

    Raises:
        BundleInputError: ``unknown option --labled_fraction (did you mean --labeled_fraction?)``.
    """
    from monai.bundle import ConfigParser

    from adamix_monai.workflows import BundleInputError
    from adamix_monai.workflows.settings import closest_id_hint, is_config_id

    parser = ConfigParser(ConfigParser.load_config_files(list(files)))
    for key, value in overrides.items():
        if value is None or is_config_id(parser, key):
            continue
        hint = closest_id_hint(parser, key)
        raise BundleInputError(
            f"unknown option --{key}{hint}; the options are the ids of {', '.join(Path(f).name for f in files)}."
        )


#: Options whose value is a path or a name: fire turns a bare ``--dataset_dir`` into True and ``--run_name 7`` into 7.
_PATH_OPTIONS = ("datalist", "dataset_dir", "unlabeled_dir", "bundle_root", "output_dir", "run_name", "checkpoint", "input", "ckpt_dir")


def _path_options(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the path options as text (a number given as a folder name is that name).

    Raises:
        BundleInputError: for a path option given without a value.
    """
    from adamix_monai.workflows import BundleInputError

    checked = dict(values)
    for key in _PATH_OPTIONS:
        value = checked.get(key)
        if isinstance(value, bool) or (value is not None and not isinstance(value, (str, int, float, os.PathLike))):
            raise BundleInputError(f"--{key} needs a value (a path or a name), e.g. --{key} <path>.")
        if isinstance(value, (int, float)):
            checked[key] = str(value)
    return checked


def _run_training_workflow(
    bundle: str,
    datalist: str | None,
    profile: str | None,
    bundle_root: str | None,
    extra_configs: Sequence[str],
    settings: dict[str, Any],
) -> None:
    """``train.json`` [+ ``<profile>.json``] [+ ``datalist.json``] + ``extra_configs`` of a bundle, run with
    ``settings`` (ids; None values keep the config's own)."""
    folder = resolve_bundle(bundle)
    settings = _path_options(settings)
    datalist = _path_options({"datalist": datalist})["datalist"]
    bundle_root = _path_options({"bundle_root": bundle_root})["bundle_root"]
    names = ["train.json"] + ([f"{profile}.json"] if profile else []) + (["datalist.json"] if datalist else [])
    settings = dict(
        settings, datalist=str(Path(datalist).resolve()) if datalist else None, bundle_root=bundle_root or str(folder)
    )
    if datalist:
        settings["labeled_fraction"] = None  # the datalist says what is labeled
    _run_bundle(folder, [*names, *extra_configs], settings)


def _stem(path: str) -> str:
    from adamix_monai.workflows.bundle import IMAGE_SUFFIXES

    name = Path(path).name
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _plan_outputs(items: list[dict[str, str]], source: Path, out: Path) -> list[dict[str, str]]:
    """Check that no two inputs write the same prediction, and leave out predictions already in the input folder.

    Each input ``<stem>.<ext>`` is written as ``<stem>_seg.nii.gz`` (volumes) or ``<stem>_seg.png`` (pictures); when
    the output folder is the input folder, files named ``*_seg.<ext>`` are this command's earlier outputs and are not
    segmented again.

    Raises:
        BundleInputError: naming two inputs that would write the same file.
    """
    from adamix_monai.workflows import BundleInputError

    if source.is_dir() and source.resolve() == out:
        items = [i for i in items if not _stem(i["image"]).endswith("_seg")]
    seen: dict[str, str] = {}
    for item in items:
        picture = item["image"].lower().endswith(_PICTURES)
        target = f"{_stem(item['image'])}_seg{'.png' if picture else '.nii.gz'}"
        if target in seen:
            raise BundleInputError(
                f"adamix-monai infer: inputs '{seen[target]}' and '{item['image']}' would both be written as "
                f"'{out / target}'; rename one of them or segment them separately."
            )
        seen[target] = item["image"]
    if not items:
        raise BundleInputError(f"adamix-monai infer: '{source}' holds only earlier predictions (*_seg files).")
    return items


def _check_writable(out: Path) -> None:
    """The output folder can be created or written to (checked without creating anything)."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise BundleInputError(f"adamix-monai infer: cannot write predictions to '{out}' ('{existing}' is not a "
                               "writable folder); choose another --output_dir.")  # fmt: skip


def _check_images(inference_config: str, items: list[dict[str, str]]) -> None:
    """Read every input once: each must be an image the bundle's network can take (before anything is written)."""
    from monai.bundle import ConfigParser

    from adamix_monai.data.io import read_case_file
    from adamix_monai.data.file_checks import image_problem

    parser = ConfigParser(ConfigParser.load_config_file(inference_config))
    channels = parser.get("network_def", {}).get("in_channels")
    dims = parser.get("image_dims")
    problems = []
    for item in items:
        try:
            image = read_case_file(item["image"]).as_tensor()
        except (FileNotFoundError, ValueError) as e:
            problems.append(str(e))
            continue
        problem = image_problem(image, channels if isinstance(channels, int) else None, dims)
        if problem:
            problems.append(f"'{item['image']}' {problem}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BundleInputError("adamix-monai infer: " + "; ".join(problems[:3]) + more + ".")


class Commands:
    """adamix-monai: AdaMix for semi-supervised segmentation on MONAI.

    train/evaluate/infer run a bundle (acdc, la, isic, or a bundle folder); demo trains on an embedded synthetic
    dataset; table and figures gather finished runs.
    """

    demo = staticmethod(run_demo)

    @staticmethod
    def train(
        bundle: str,
        datalist: str | None = None,
        profile: str | None = None,
        paradigm: str | None = None,
        mix: str | None = None,
        labeled_fraction: float | None = None,
        seed: int | None = None,
        dataset_dir: str | None = None,
        bundle_root: str | None = None,
        **overrides: Any,
    ) -> None:
        """Train a bundle's model: on the paper's dataset (``--dataset_dir``) or on your own (``--datalist``).

        Examples::

            adamix-monai train acdc --profile cpu --paradigm mean_teacher --mix adamix
            adamix-monai train acdc --datalist my_data/datalist.json --epochs 50
            adamix-monai train la --paradigm co_training --mix umix --seed 2 --amp True

        The run goes to ``<bundle_root>/runs/<paradigm>-<mix>-<labeled>-seed<seed>/`` (resumed when it exists);
        the best model on validation is also copied to ``<bundle_root>/models/model.pt``, which ``infer`` and MONAI
        Label use.

        Args:
            bundle: ``acdc``, ``la``, ``isic``, or a bundle folder.
            datalist: a datalist JSON of your own data (sections ``training``, ``unlabeled``, ``validation``,
                ``test``; see the README). Without it the bundle's own dataset is used.
            profile: an extra config of the bundle, e.g. ``cpu`` (``configs/cpu.json``: small and quick).
            paradigm: ``supervised``, ``self_training``, ``mean_teacher`` or ``co_training``.
            mix: ``adamix``, ``cutmix``, ``umix``, ``iumix``, ``adamix_v1``, ``adamix_v2``, ``none``.
            labeled_fraction: the paper's labeled subset (0.05, 0.1, 0.2); not used with ``--datalist``.
            seed: random seed.
            dataset_dir: the paper dataset's folder (default: ``$ADAMIX_DATA_DIR/<name>``, else ``data/<name>``).
            bundle_root: where ``runs/`` and ``models/`` go (default: the bundle folder).
            overrides: any other bundle id, e.g. ``--epochs 10 --batch_size 8 --device cpu``, or
                ``--unlabeled_dir <folder>`` (the unlabeled stream from a folder of images).
        """
        run = dict(paradigm=paradigm, mix=mix, seed=seed, labeled_fraction=labeled_fraction, dataset_dir=dataset_dir)
        _run_training_workflow(bundle, datalist, profile, bundle_root, [], {**run, **overrides})

    @staticmethod
    def evaluate(
        bundle: str,
        datalist: str | None = None,
        profile: str | None = None,
        paradigm: str | None = None,
        mix: str | None = None,
        labeled_fraction: float | None = None,
        seed: int | None = None,
        checkpoint: str = "best",
        split: str = "test",
        dataset_dir: str | None = None,
        bundle_root: str | None = None,
        **overrides: Any,
    ) -> None:
        """Score a trained run on the test (or validation) cases: per case and class Dice, Jaccard, HD95, ASD.

        Give the same bundle, datalist, profile, paradigm, mix, labeled fraction and seed as the training, so the
        run folder is found. Writes ``<run>/eval-<split>-<checkpoint>/`` (``metrics.csv``, ``summary.md``,
        ``summary.json``) and prints the summary table. With ``--datalist``, HD95 and ASD are in mm (voxel size from
        the label files); on the paper's datasets they are in voxels, as the paper reports them.

        Example: ``adamix-monai evaluate acdc --datalist my_data/datalist.json --checkpoint final``.

        Args:
            bundle: ``acdc``, ``la``, ``isic``, or a bundle folder.
            datalist: the datalist JSON the model was trained with (its ``test`` section is scored).
            profile: the extra config used in training, e.g. ``cpu``.
            paradigm: as in training.
            mix: as in training.
            labeled_fraction: as in training (paper datasets only).
            seed: as in training.
            checkpoint: ``best`` (best on validation) or ``final``.
            split: ``test`` or ``val``.
            dataset_dir: the paper dataset's folder.
            bundle_root: where the run is (default: the bundle folder).
            overrides: any other bundle id, e.g. ``--lcc False``.
        """
        from adamix_monai.workflows import choice

        choice(checkpoint, ("best", "final"), "adamix-monai evaluate: --checkpoint")
        choice(split, ("test", "val"), "adamix-monai evaluate: --split")
        run = dict(paradigm=paradigm, mix=mix, seed=seed, labeled_fraction=labeled_fraction, dataset_dir=dataset_dir)
        evaluation = dict(eval_checkpoint=checkpoint, eval_split=split)
        _run_training_workflow(
            bundle, datalist, profile, bundle_root, ["evaluate.json"], {**run, **evaluation, **overrides}
        )

    @staticmethod
    def infer(
        bundle: str,
        input: str,
        output_dir: str = "predictions",
        checkpoint: str | None = None,
        device: str | None = None,
        **overrides: Any,
    ) -> list[str]:
        """Segment one image or a folder of images with a trained bundle; predictions keep each input's geometry.

        NIfTI (``.nii``, ``.nii.gz``) and other volumes are written as ``<name>_seg.nii.gz`` with the input's shape
        and affine; PNG/JPG images as ``<name>_seg.png`` at the input's size (class indices, or 0/255 for the
        binary ISIC bundle).

        Examples::

            adamix-monai infer acdc patient001.nii.gz --output_dir preds
            adamix-monai infer isic my_photos/ --checkpoint bundles/adamix_isic/runs/<run>/model.pt

        Args:
            bundle: ``acdc``, ``la``, ``isic``, or a bundle folder.
            input: an image file, or a folder of them.
            output_dir: where the predictions go.
            checkpoint: the weights (a state dict file); default ``<bundle>/models/model.pt`` (written by ``train``).
            device: ``cpu`` or ``cuda`` (default: CUDA when available).
            overrides: any other id of the bundle's ``inference.json``, e.g. ``--lcc False``.

        Returns:
            The prediction files written.
        """
        import torch

        from adamix_monai.workflows import image_datalist

        paths = _path_options({"input": input, "output_dir": output_dir, "checkpoint": checkpoint, **overrides})
        input, output_dir, checkpoint = paths.pop("input"), paths.pop("output_dir"), paths.pop("checkpoint")
        overrides = paths
        folder = resolve_bundle(bundle)
        _check_known_ids(bundle_configs(folder, ["inference.json"]), overrides)
        if not Path(input).exists():
            raise BundleInputError(f"adamix-monai infer: input '{input}' does not exist; give an image or a folder.")
        items = image_datalist(input, option="the input (adamix-monai infer BUNDLE INPUT)")
        out = Path(output_dir).resolve()
        items = _plan_outputs(items, Path(input), out)
        _check_writable(out)
        _check_images(bundle_configs(folder, ["inference.json"])[0], items)
        before = {p: p.stat().st_mtime_ns for p in out.glob("*")} if out.is_dir() else {}
        groups = {
            "volumes": [i for i in items if not i["image"].lower().endswith(_PICTURES)],
            "pictures": [i for i in items if i["image"].lower().endswith(_PICTURES)],
        }
        settings: dict[str, Any] = {"output_dir": str(out), "bundle_root": str(folder)}
        if checkpoint is not None:
            if not Path(checkpoint).is_file():
                folder_given = Path(checkpoint).is_dir()
                what = "is a folder; give the weights file (model.pt)" if folder_given else "does not exist"
                raise BundleInputError(f"adamix-monai infer: --checkpoint '{checkpoint}' {what}.")
            settings["checkpoint"] = str(Path(checkpoint).resolve())
        if device is not None:
            settings["device"] = torch.device(device)
        for kind, data in groups.items():
            if not data:
                continue
            extra: dict[str, Any] = {"datalist": data}
            if kind == "pictures" and folder.name != "adamix_isic":
                extra.update(output_ext=".png", output_writer="PILWriter")
            _run_bundle(folder, ["inference.json"], {**settings, **extra, **overrides})
        written = sorted(p for p in out.glob("*") if before.get(p) != p.stat().st_mtime_ns) if out.is_dir() else []
        return [str(p) for p in written]

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
        from adamix_monai.visualize.run_figures import make_run_figures

        folders = [p for pattern in runs for p in (sorted(glob.glob(pattern)) or [pattern])]
        files = make_run_figures(folders, output_dir, evaluation=evaluation, cases=cases, class_names=class_names)
        return [str(f) for f in files]

    @staticmethod
    def prepare(
        dataset: str,
        download: str,
        output: str | None = None,
        format: str = "ssl4mis",  # noqa: A002 - the option's name
        seed: int = 0,
        in_place: bool = False,
        allow_missing: bool = False,
    ) -> str:
        """Turn an official download into the layout a bundle reads (adamix_monai.data.recipes).

        Examples::

            adamix-monai prepare acdc ~/Downloads/ACDC data/ACDC              # SSL4MIS layout, for --dataset_dir
            adamix-monai prepare acdc ~/Downloads/ACDC my_acdc --format datalist   # datalist.json, for --datalist
            adamix-monai prepare la "~/Downloads/Training Set" data/LA
            adamix-monai prepare isic ~/Downloads/ISIC2018 --in_place       # adds the reference split lists

        Args:
            dataset: ``acdc``, ``la`` or ``isic``.
            download: the official download's folder.
            output: the folder to write (must not exist; ISIC: or ``--in_place``).
            format: ACDC only: ``ssl4mis`` or ``datalist``.
            seed: LA only: seeds the crop margins.
            in_place: ISIC only: write the split lists into the download.
            allow_missing: prepare a partial download (the split lists keep what is there).

        Returns:
            The folder to give the bundle.
        """
        from adamix_monai.data import recipes

        name = str(dataset).lower()
        download = str(download)  # fire reads a folder named 2018 as a number
        output = None if output is None or isinstance(output, bool) else str(output)
        if name == "acdc":
            if output is None:
                raise BundleInputError("adamix-monai prepare acdc: give the output folder.")
            done = recipes.prepare_acdc(download, output, fmt=format, allow_missing=allow_missing)
        elif name == "la":
            if output is None:
                raise BundleInputError("adamix-monai prepare la: give the output folder.")
            done = recipes.prepare_la(download, output, seed=seed, allow_missing=allow_missing)
        elif name == "isic":
            done = recipes.prepare_isic(download, output, in_place=in_place, allow_missing=allow_missing)
        else:
            raise BundleInputError(f"adamix-monai prepare: unknown dataset '{dataset}' (acdc, la or isic).")
        return str(done)

    @staticmethod
    def label_app(folder: str, bundles: str | Sequence[str] = "acdc") -> str:
        """Write a MONAI Label app folder serving the AdaMix bundles, with active learning by AdaMix confidence.

        Example: ``adamix-monai label_app my_app --bundles acdc,isic``, then ``monailabel start_server --app my_app
        --studies <images> --conf models adamix_acdc --conf zoo_source local``. ``main.py`` imports
        :class:`adamix_monai.label_app.app.AdaMixLabelApp` (the ``monaibundle`` app's inference and training, plus the
        ``adamix_uncertainty`` strategy); ``model/<bundle>`` gets each bundle's ``configs/`` and, when trained, its
        ``models/model.pt``. Needs ``monailabel`` only to serve (README, MONAI Label).

        Args:
            folder: the app folder (created; an existing one must be an app this command wrote).
            bundles: bundles to copy into ``model/`` (comma-separated names or folders; ``""`` for none).

        Returns:
            The command that starts the server.
        """
        import shutil

        from adamix_monai.label_app import MAIN_PY
        from adamix_monai.utils import atomic_open

        app = Path(str(folder))
        main = app / "main.py"
        if main.is_file() and main.read_text() != MAIN_PY:
            raise BundleInputError(f"adamix-monai label_app: '{main}' is another app's main.py; give a new folder.")
        names = [b for b in (bundles.split(",") if isinstance(bundles, str) else [str(b) for b in bundles]) if b.strip()]
        folders = [resolve_bundle(b.strip()) for b in names]
        (app / "model").mkdir(parents=True, exist_ok=True)
        for source in folders:
            dest = app / "model" / source.name
            shutil.copytree(source / "configs", dest / "configs", dirs_exist_ok=True)
            for extra in ("LICENSE", "models/model.pt", "models/model.json"):
                if (source / extra).is_file():
                    (dest / extra).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source / extra, dest / extra)
        with atomic_open(main) as f:
            f.write(MAIN_PY.encode())
        models = ",".join(s.name for s in folders) or "<bundle>"
        command = (
            f"monailabel start_server --app {app} --studies <images> --conf models {models} --conf zoo_source local"
        )
        return command

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

        files, skipped = [], []
        for pattern in summaries:
            matches = sorted(glob.glob(pattern))
            for path in matches or [pattern]:
                p = Path(path)
                file = p / "eval-test-best" / "summary.json" if p.is_dir() else p
                if p.is_dir() and not file.is_file() and glob.has_magic(pattern):
                    skipped.append(p.name)  # a run of the pattern not evaluated (yet): left out, and said so
                    continue
                files.append(file)
        missing = [str(f) for f in files if not f.is_file()]
        if not files or missing:
            raise BundleInputError(f"adamix-monai table: no summary file at {missing or list(summaries)}.")
        if skipped:
            print(f"adamix-monai table: left out {len(skipped)} run folder(s) without an evaluation "
                  f"(eval-test-best/summary.json): {', '.join(skipped)}", file=sys.stderr)  # fmt: skip
        text = collect_table(files, mode=mode, title=title)
        if output:
            with atomic_open(output) as f:
                f.write(text.encode())
        return text


def main() -> None:
    """Entry point of the ``adamix-monai`` console script: bad input (a missing file, a malformed datalist or
    dataset folder) prints one ``error:`` line and exits with status 2; other errors keep their traceback."""
    from adamix_monai.errors import find_input_error

    argv = sys.argv[1:]
    if any(a in ("-h", "--help") for a in argv) and "--" not in argv:
        # the commands take ``**overrides``, so fire would read ``--help`` as one; ask fire for the help page
        argv = [a for a in argv if a not in ("-h", "--help")] + ["--", "--help"]
    try:
        fire.Fire(Commands, command=argv, name="adamix-monai")
    except Exception as e:  # noqa: BLE001 - only input errors are shortened, the rest is re-raised
        found = find_input_error(e)  # only input errors (adamix_monai.errors.InputError) are shortened
        if found is None:
            raise
        print(f"error: {found}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
