"""``saliency evaluate``: a whole dataset through the pipeline, the study's tables.

Settings come from the defaults, then ``--config FILE.toml`` (a settings file such as a run's
``settings.toml``; an ``[evaluate]`` table may hold this command's own options), then the flags.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from tqdm import tqdm

from saliency_core.commands.common import (
    add_setting_flags,
    comma_list,
    download_bar,
    float_list,
    run_command,
    setting_values,
)
from saliency_core.data.csvfiles import read_csv
from saliency_core.data.datasets import Dataset, image_folder, sample_dataset
from saliency_core.evaluate import engine, summary
from saliency_core.evaluate.options import DEFAULT_METRICS
from saliency_core.evaluate.store import NOTICES, SUMMARY, ResultsFolder
from saliency_core.presets import SETTINGS_PRESETS
from saliency_core.settings import Settings, SettingsError, load_settings

SAMPLE = "sample"
ENGINES = ("local", "ray")
COMMAND_OPTIONS = (
    "dataset",
    "out",
    "metrics",
    "top_percents",
    "limit",
    "images",
    "finegrained",
    "batch_size",
    "engine",
    "ray_address",
)
"""``[evaluate]`` keys of a config file (the command's own options; the settings' flags are
derived from their declarations, :func:`saliency_core.commands.common.add_setting_flags`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency evaluate",
        description=(
            "Evaluate a dataset: every image's CAMs (detectors × CAM methods × weights), "
            "classifier maps (classifiers × methods) and type-2 maps against the references "
            "and the fixations; writes a per-image table (Parquet and CSV), IoU curves at "
            "every top-p% from 1 to 50, a manifest, and the summary "
            "(mean ± 95%% bootstrap CI, CSV and LaTeX). Rerunning the same command resumes."
        ),
        argument_default=argparse.SUPPRESS,
    )
    data = parser.add_argument_group("data and output")
    data.add_argument(
        "--dataset", help=f"dataset folder (images/, masks/, fixations/) or '{SAMPLE}'"
    )
    data.add_argument("--out", type=Path, help="results folder (never inside the dataset)")
    data.add_argument("--limit", type=int, help="only the first N images (sorted stems)")
    data.add_argument(
        "--images",
        type=Path,
        help="only the images listed in FILE (one stem per line, in that order; VOC's "
        "ImageSets/Main/test.txt works as is)",
    )
    data.add_argument(
        "--batch-size",
        type=int,
        help="images per detector and DeepGaze IIE pass (default: 8 on a GPU, 1 on CPU)",
    )
    data.add_argument("--config", type=Path, help="settings file (.toml or .json)")
    data.add_argument(
        "--preset", choices=list(SETTINGS_PRESETS), help="start from a preset (study: the study's)"
    )
    groups = add_setting_flags(parser)
    groups["scoring"].add_argument(
        "--metrics",
        type=comma_list,
        help=f"of: {', '.join(DEFAULT_METRICS)} (default: all)",
    )
    groups["scoring"].add_argument(
        "--top-percents", type=float_list, help="top-p%% values of the IoU rows (default 10)"
    )
    groups["scoring"].add_argument(
        "--no-finegrained",
        dest="finegrained",
        action="store_false",
        help="skip the onset-window curves and region shares (temporal/regions tables)",
    )
    scale = parser.add_argument_group("engine")
    scale.add_argument("--engine", choices=ENGINES, help="local (default) or ray")
    scale.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")
    return parser


def _config(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings values, [evaluate] options) of a config file."""
    if path is None:
        return {}, {}
    values = load_settings(path).to_dict() if path.suffix.lower() == ".json" else None
    if values is not None:
        return values, {}
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"--config {path}: {error}") from error
    options = raw.pop("evaluate", {})
    unknown = sorted(set(options) - set(COMMAND_OPTIONS))
    if unknown:
        raise SettingsError(f"--config [evaluate]: unknown option(s) {', '.join(unknown)}")
    settings = raw.get("settings", raw)
    Settings.from_dict(settings)  # validated here, named after the file
    return settings, options


def resolve(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """Defaults < preset < config file < flags: the settings and the command's options."""
    given = vars(args)
    base = SETTINGS_PRESETS[given["preset"]] if "preset" in given else Settings()
    from_file, options = _config(given.get("config"))
    values = {**base.to_dict(), **from_file}
    values |= setting_values(given)
    options |= {key: given[key] for key in COMMAND_OPTIONS if key in given}
    return Settings.from_dict(values), options


def dataset_of(name: str | None) -> Dataset:
    if not name:
        raise SettingsError("--dataset is required (a folder with images/, or 'sample')")
    if name == SAMPLE:
        return sample_dataset()
    root = Path(name).expanduser()
    if image_folder(root) is None:
        raise SettingsError(f"--dataset {name} has no images/ folder (nor VOC's JPEGImages/)")
    return Dataset(root.name, root)


def read_stems(path: str | Path) -> tuple[str, ...]:
    """The stems listed in ``path``: one per line, the first word of each (VOC's
    ``ImageSets/Main/<class>_test.txt`` lines carry a flag after it), blank lines skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise SettingsError(f"--images {path}: {reason}") from None
    stems = tuple(line.split()[0] for line in lines if line.strip())
    if not stems:
        raise SettingsError(f"--images {path} lists no image")
    return stems


def executor_for(options: dict[str, Any]):
    if options.get("engine", "local") == "local":
        return None
    from saliency_core.evaluate.ray_engine import ray_executor

    return ray_executor(options.get("ray_address"))


def print_summary(folder: ResultsFolder) -> None:
    """The run's summary (written by the engine) as a table on stdout."""
    wide = summary.wide(read_csv(folder.root / f"{SUMMARY}.csv"))
    if not wide.empty:
        print(wide.to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every image was evaluated, 1 when some were skipped (see errors.csv) or on a
    user error, 130 on Ctrl-C (rerun to resume)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def body() -> int:
        settings, options = resolve(args)
        dataset = dataset_of(options.get("dataset"))
        if "out" not in options:
            raise SettingsError("--out is required")
        run_options = engine.Options(
            metrics=tuple(options.get("metrics", DEFAULT_METRICS)),
            top_percents=tuple(options.get("top_percents", (settings.top_percent,))),
            limit=options.get("limit"),
            images=read_stems(options["images"]) if "images" in options else None,
            finegrained=options.get("finegrained", True),
            batch_size=options.get("batch_size"),
        )
        out = Path(options["out"])
        stems, left_out = engine.chosen_stems(dataset, run_options)
        print(f"{dataset.name}: {len(stems)} images → {out}", file=sys.stderr)
        for notice in left_out:
            print(notice, file=sys.stderr)
        bar = tqdm(unit="image", desc="evaluate", delay=0.5)

        def advance(done: int, total: int, stem: str) -> None:
            bar.total = total
            bar.update(done - bar.n)
            bar.set_postfix_str(stem)

        try:
            report = engine.run(
                dataset,
                settings,
                out,
                run_options,
                progress=advance,
                executor=executor_for(options),
                download_progress=download_bar,
            )
        finally:
            bar.close()
        print_summary(ResultsFolder(out))
        for stem, reason in report.errors.items():
            print(f"skipped {stem}: {reason}", file=sys.stderr)
        print(
            f"{report.computed} computed, {report.skipped_done} already done, "
            f"{len(report.errors)} skipped, {report.notices} notices ({NOTICES}.parquet); "
            f"results in {out}",
            file=sys.stderr,
        )
        return 1 if report.errors else 0

    return run_command(body)
