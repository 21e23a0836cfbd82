"""``python -m saliency_core.evaluate``: a whole dataset through the pipeline, the study's tables.

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

from saliency_core.commands.common import comma_list, download_bar, float_list, run_command
from saliency_core.data.csvfiles import read_csv
from saliency_core.data.datasets import Dataset, sample_dataset
from saliency_core.evaluate import engine, summary
from saliency_core.evaluate.store import NOTICES, SUMMARY, ResultsFolder
from saliency_core.maps.cams import CAM_METHODS
from saliency_core.maps.classifier_methods import METHOD_COSTS
from saliency_core.maps.references import REFERENCES
from saliency_core.models.classifiers import CLASSIFIERS
from saliency_core.models.detectors import DETECTORS
from saliency_core.models.gaze import TYPE2_MODELS
from saliency_core.models.weights import WeightSource
from saliency_core.presets import SETTINGS_PRESETS
from saliency_core.settings import TARGETS, TIES, Settings, SettingsError, load_settings
from saliency_core.study import DEEPGAZE_MAX_SIDE

SAMPLE = "sample"
ENGINES = ("local", "ray")
COMMAND_OPTIONS = (
    "dataset",
    "out",
    "metrics",
    "top_percents",
    "limit",
    "finegrained",
    "batch_size",
    "engine",
    "ray_address",
)
"""``[evaluate]`` keys of a config file (the command's own options, not settings)."""
SETTING_FLAGS: dict[str, str] = {
    "detectors": "detectors",
    "weights": "weights",
    "cams": "cams",
    "target": "target",
    "score_threshold": "score_threshold",
    "input_size": "input_size",
    "type2": "type2",
    "type2_weights": "type2_weights",
    "type2_weights_file": "type2_weights_file",
    "study_input_range": "study_input_range",
    "type2_max_side": "type2_max_side",
    "references": "references",
    "sigma": "sigma",
    "working_size": "working_size",
    "untrained_twins": "untrained_twins",
    "ties": "ties",
    "classifiers": "classifiers",
    "classifier_methods": "classifier_methods",
    "classifier_weights": "classifier_weights",
    "classifier_input_size": "classifier_input_size",
    "classifier_class": "classifier_class",
    "classifier_top_k": "classifier_top_k",
}
"""argparse attribute -> Settings field (only flags that were given override)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m saliency_core.evaluate",
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
        "--batch-size",
        type=int,
        help="images per detector and DeepGaze IIE pass (default: 8 on a GPU, 1 on CPU)",
    )
    data.add_argument("--config", type=Path, help="settings file (.toml or .json)")
    data.add_argument(
        "--preset", choices=list(SETTINGS_PRESETS), help="start from a preset (study: the study's)"
    )
    models = parser.add_argument_group("type-1: detectors and CAMs")
    models.add_argument(
        "--detectors", type=comma_list, help=f"NAME[,NAME…] of: {', '.join(DETECTORS)}"
    )
    models.add_argument("--weights", choices=[s.value for s in WeightSource])
    models.add_argument(
        "--weights-file",
        action="append",
        metavar="NAME=PATH",
        help="state-dict file of a detector (with --weights file); repeat per detector",
    )
    models.add_argument(
        "--cams", type=comma_list, help=f"METHOD[,METHOD…] of: {', '.join(CAM_METHODS)}"
    )
    models.add_argument("--target", choices=TARGETS, help="CAM target layer")
    models.add_argument("--score-threshold", type=float, help="gradient targets: score ≥ this")
    models.add_argument("--input-size", type=int, help="detectors' internal input size (px)")
    models.add_argument(
        "--untrained-twins",
        action="store_true",
        help="also run each detector untrained (sanity check)",
    )
    add_classifier_flags(parser)
    gaze = parser.add_argument_group("type-2 and references")
    gaze.add_argument("--type2", type=comma_list, help=f"models of: {', '.join(TYPE2_MODELS)}")
    gaze.add_argument("--type2-weights", choices=[s.value for s in WeightSource])
    gaze.add_argument("--type2-weights-file", help="DeepGaze IIE checkpoint (file)")
    gaze.add_argument("--study-input-range", action="store_true", help="DeepGaze fed 0..1")
    gaze.add_argument(
        "--type2-max-side",
        type=int,
        help="images with a longer side are downscaled before DeepGaze IIE "
        f"(default {DEEPGAZE_MAX_SIDE} px)",
    )
    gaze.add_argument(
        "--references", type=comma_list, help=f"KEY[,KEY…] of: {', '.join(REFERENCES)}"
    )
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument(
        "--metrics",
        type=comma_list,
        help=f"of: {', '.join(engine.DEFAULT_METRICS)} (default: all)",
    )
    scoring.add_argument(
        "--top-percents", type=float_list, help="top-p%% values of the IoU rows (default 10)"
    )
    scoring.add_argument("--sigma", type=float, help="fixation density blur, px")
    scoring.add_argument(
        "--no-finegrained",
        dest="finegrained",
        action="store_false",
        help="skip the onset-window curves and region shares (temporal/regions tables)",
    )
    scoring.add_argument("--working-size", type=int, help="resize every image to N×N first")
    scoring.add_argument(
        "--ties",
        choices=TIES,
        help="top-p%% masks: never exceed p%% through ties at the cut (default), or include "
        "them (the study's map >= percentile rule)",
    )
    scale = parser.add_argument_group("engine")
    scale.add_argument("--engine", choices=ENGINES, help="local (default) or ray")
    scale.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")
    return parser


def add_classifier_flags(parser: argparse.ArgumentParser) -> None:
    """Classifier maps (type-1 too): classifiers × methods, weights, input side, target."""
    group = parser.add_argument_group("type-1: classifiers (CAMs and gradient maps)")
    group.add_argument(
        "--classifiers", type=comma_list, help=f"NAME[,NAME…] of: {', '.join(CLASSIFIERS)}"
    )
    group.add_argument(
        "--classifier-methods",
        type=comma_list,
        help=f"METHOD[,METHOD…] of: {', '.join(METHOD_COSTS)} (default GradCAM)",
    )
    group.add_argument(
        "--classifier-weights",
        choices=[s.value for s in WeightSource],
        help="classifiers' weights (file: --weights-file NAME=PATH per classifier)",
    )
    group.add_argument(
        "--classifier-input-size", type=int, help="side the image is resized to (default 224)"
    )
    target = group.add_mutually_exclusive_group()
    target.add_argument("--classifier-class", type=int, help="explain this class index")
    target.add_argument(
        "--classifier-top-k", type=int, help="explain the sum of the top-k logits (default 1)"
    )


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
    values |= {field: given[flag] for flag, field in SETTING_FLAGS.items() if flag in given}
    if "weights_file" in given:
        pairs = [item.split("=", 1) for item in given["weights_file"]]
        if any(len(pair) != 2 for pair in pairs):
            raise SettingsError("--weights-file takes NAME=PATH")
        values["weights_files"] = {name.strip(): path.strip() for name, path in pairs}
    options |= {key: given[key] for key in COMMAND_OPTIONS if key in given}
    return Settings.from_dict(values), options


def dataset_of(name: str | None) -> Dataset:
    if not name:
        raise SettingsError("--dataset is required (a folder with images/, or 'sample')")
    if name == SAMPLE:
        return sample_dataset()
    root = Path(name).expanduser()
    if not (root / "images").is_dir():
        raise SettingsError(f"--dataset {name} has no images/ folder")
    return Dataset(root.name, root)


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
            metrics=tuple(options.get("metrics", engine.DEFAULT_METRICS)),
            top_percents=tuple(options.get("top_percents", (settings.top_percent,))),
            limit=options.get("limit"),
            finegrained=options.get("finegrained", True),
            batch_size=options.get("batch_size"),
        )
        out = Path(options["out"])
        print(
            f"{dataset.name}: {len(dataset.ids[: run_options.limit])} images → {out}",
            file=sys.stderr,
        )
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
