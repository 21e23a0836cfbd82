"""The dataset command: selective erasing (and inpainting) of every image of a dataset folder.

``python -m saliency_core.augment --dataset DIR --detector NAME --weights SOURCE --cam METHOD
--reference deepgaze|fixations|mask --out DIR [--inpaint telea|ns|dip]`` writes
``OUT/images/<stem>`` (augmented, or copied unchanged when the rule keeps the image), copies every
other file of the dataset unchanged (annotations, masks, fixations; an image's own ``<stem>.*``
files only with its output, so a failed image leaves none), and logs one CSV row per image in
``OUT/augment_log.csv``. A second run with the same settings resumes where the first stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from saliency_core import pipeline
from saliency_core.augment.erase import FILLS, KERNELS, EraseSettings
from saliency_core.augment.inpaint import METHODS
from saliency_core.augment.pipeline import augment_sample
from saliency_core.augment.result import ProgressCallback
from saliency_core.augment.rule import COMPARATORS, METRICS, PRESETS, EraseRule
from saliency_core.commands.common import add_setting_flag, download_bar, run_command
from saliency_core.data import csvfiles
from saliency_core.data.atomic import save_image_atomic
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import ACCEPTED_SUFFIXES, Sample
from saliency_core.evaluate.type2_cache import DiskType2Cache
from saliency_core.maps.references import REFERENCES
from saliency_core.models.detectors import DETECTORS
from saliency_core.models.weights import MissingWeightsError, WeightSource
from saliency_core.settings import Settings, SettingsError
from saliency_core.study import DEEPGAZE_MAX_SIDE, ERASE_PERCENT, SCORE_THRESHOLD, MapKind

LOG_NAME = "augment_log.csv"
SETTINGS_NAME = "augment_settings.json"
IMAGES = "images"
ERASE_MASKS = "erase_masks"
LOG_COLUMNS = (
    "stem",
    "metric",
    "value",
    "decision",
    "reason",
    "erased_pixels",
    "inpaint",
    "seconds",
    "output",
    "notes",
)
NO_DOWNSCALE = 1 << 30
"""``load_image``'s long-side bound for the command: images are never resized (boxes stay valid)."""
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    ".jpg": {"quality": 95},
    ".jpeg": {"quality": 95},
    ".webp": {"quality": 95},
}
"""Encoder options of lossy formats when ``--format input`` writes them."""
FORMATS = ("png", "input")
INPAINT_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "telea": ("Telea", {"radius": "inpaint_radius"}),
    "ns": ("Navier-Stokes", {"radius": "inpaint_radius"}),
    "dip": (
        "Deep Image Prior",
        {"iterations": "dip_iterations", "learning_rate": "dip_lr", "seed": "dip_seed"},
    ),
}
"""``--inpaint`` choice -> (``METHODS`` name, {method parameter: argparse attribute})."""
ITERATIVE = "Deep Image Prior"
"""The inpainting method that gets its own per-image progress bar."""
FILL_OPTIONS = {name.replace(" ", "-"): name for name in FILLS}
"""``--fill`` choice -> ``FILLS`` name."""
RULE_OPTIONS = {
    re.sub(r"[^a-z0-9]+", "-", name.split(":")[0].lower()).strip("-"): name for name in PRESETS
}
"""``--rule`` choice (e.g. "study-code") -> ``PRESETS`` name."""
UNCHECKED_SETTINGS = ("limit", "out")
"""Arguments a resumed run may change; every other one must match the run being resumed."""
PRETRAINED = WeightSource.PRETRAINED.value
"""``--deepgaze-weights``' default: the reference is DeepGaze IIE's real prediction."""
FUNCTIONS = pipeline.MapFunctions(type2=DiskType2Cache())
"""DeepGaze IIE maps come from the type-2 disk cache (shared with the dataset engine)."""


def _literal(text: str) -> str:
    """``text`` as an argparse help string (``%`` escaped)."""
    return text.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments (defaults are the study's settings where it has one)."""
    parser = argparse.ArgumentParser(
        prog="python -m saliency_core.augment",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=(
            "Selective erasing for a whole dataset: where the detector's CAM and a human "
            "reference disagree (per the rule), the CAM's top-p% pixels are erased and "
            "optionally inpainted. Writes OUT/images/<stem> (PNG by default), copies every other "
            "file of the dataset unchanged (annotations such as Pascal VOC XML in annotations/ or "
            "Annotations/, masks, fixations, non-image files next to the images), and logs one "
            f"row per image in OUT/{LOG_NAME}. Images the rule keeps are copied unchanged. "
            "BOUNDING BOXES ARE UNCHANGED by the augmentation: pixels are replaced in place and "
            "nothing is moved, resized or cropped (images are never downscaled), so the copied "
            "annotations stay valid. Re-running with the same settings resumes: images already "
            "logged with their output present are skipped. An image's own files (<stem>.* "
            "outside images/) are copied only with its output: an image that fails leaves none."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", type=Path, required=True, help="folder with images/")
    data.add_argument(
        "--out", type=Path, required=True, help="output folder (never inside --dataset)"
    )
    data.add_argument(
        "--format",
        choices=FORMATS,
        default="png",
        help="augmented images as PNG (lossless; default) or in the input's format (JPEG/WebP "
        "at quality 95). A VOC XML's <filename> keeps the original name either way.",
    )
    data.add_argument("--limit", type=int, help="process only the first N images (sorted stems)")
    data.add_argument(
        "--save-masks",
        action="store_true",
        help=f"also write each erased region as OUT/{ERASE_MASKS}/<stem>.png (white = erased)",
    )
    _setting_flags(parser)
    _rule_flags(parser)
    _erasing_flags(parser)
    return parser


def _setting_flags(parser: argparse.ArgumentParser) -> None:
    """The pipeline's settings (flags from their declarations): one detector, CAM and reference,
    DeepGaze IIE as the type-2 model, the study's defaults."""
    model = parser.add_argument_group("detector and CAM")
    add_setting_flag(model, "detectors", one=True, required=True)
    add_setting_flag(model, "weights", required=True)
    model.add_argument("--weights-path", help="state-dict file (with --weights file)")
    add_setting_flag(model, "cams", one=True, required=True)
    target_help = "CAM target layer (default: the detector's study layer)"
    add_setting_flag(model, "target", choices=None, help=target_help)
    add_setting_flag(model, "score_threshold", default=SCORE_THRESHOLD)
    add_setting_flag(model, "input_size")
    reference = parser.add_argument_group("human reference")
    add_setting_flag(reference, "references", one=True, required=True, metavar=None)
    add_setting_flag(reference, "type2_weights", flag="deepgaze-weights", default=PRETRAINED)
    add_setting_flag(reference, "type2_weights_file", flag="deepgaze-weights-path")
    add_setting_flag(
        reference, "type2_max_side", flag="deepgaze-max-side", default=DEEPGAZE_MAX_SIDE
    )
    add_setting_flag(reference, "study_input_range")
    add_setting_flag(reference, "sigma")


def _rule_flags(parser: argparse.ArgumentParser) -> None:
    """The erasing rule: a preset and its overrides."""
    rule = parser.add_argument_group("erasing rule: erase when METRIC COMPARATOR THRESHOLD")
    rule.add_argument(
        "--rule",
        choices=list(RULE_OPTIONS),
        default=next(iter(RULE_OPTIONS)),
        help=_literal("; ".join(f"{slug}: {name}" for slug, name in RULE_OPTIONS.items())),
    )
    rule.add_argument("--metric", choices=METRICS, help="overrides the preset's metric")
    rule.add_argument("--comparator", choices=list(COMPARATORS), help="overrides the preset's")
    rule.add_argument("--threshold", type=float, help="overrides the preset's threshold")
    rule.add_argument(
        "--rule-percent", type=float, help="top-p%% binarising both maps for IoU (study: 10)"
    )


def _erasing_flags(parser: argparse.ArgumentParser) -> None:
    """The erased region (top-p%, dilation, fill) and the inpainting."""
    erasing = parser.add_argument_group("erasing and inpainting")
    erasing.add_argument(
        "--top-percent",
        type=float,
        default=ERASE_PERCENT,
        help=f"erase the CAM's top p%% (study: {ERASE_PERCENT})",
    )
    erasing.add_argument("--dilate", type=int, default=0, help="grow the region by N px")
    erasing.add_argument(
        "--kernel", choices=list(KERNELS), default="disk", help="dilation structuring element"
    )
    erasing.add_argument(
        "--fill",
        choices=list(FILL_OPTIONS),
        default="black",
        help="erased pixels' colour (study: black); dataset-mean and gaussian-noise use the "
        "ImageNet mean (and std)",
    )
    erasing.add_argument(
        "--inpaint",
        choices=list(INPAINT_OPTIONS),
        help=_literal(
            "fill the erased pixels again: "
            + " ".join(
                f"{key}: {METHODS[name].summary}" for key, (name, _) in INPAINT_OPTIONS.items()
            )
            + " Without it the erased pixels keep the fill."
        ),
    )
    opencv = METHODS["Telea"].defaults
    dip = METHODS["Deep Image Prior"].defaults
    erasing.add_argument(
        "--inpaint-radius",
        type=float,
        default=opencv["radius"],
        help="telea/ns: neighbourhood radius (px)",
    )
    erasing.add_argument(
        "--dip-iterations",
        type=int,
        default=dip["iterations"],
        help="dip: Adam steps per image (default: chosen for the device and working size, "
        "about a minute per image on a CPU at ≤ 512 px, the paper's 3000 on CUDA)",
    )
    erasing.add_argument(
        "--dip-lr", type=float, default=dip["learning_rate"], help="dip: learning rate"
    )
    erasing.add_argument(
        "--dip-seed", type=int, default=dip["seed"], help="dip: seed of z, weights and noise"
    )


def _erase_rule(args: argparse.Namespace) -> EraseRule:
    """The preset's rule with the overrides given on the command line."""
    preset = PRESETS[RULE_OPTIONS[args.rule]].rule
    overrides = {
        "metric": args.metric,
        "comparator": args.comparator,
        "threshold": args.threshold,
        "percent": args.rule_percent,
    }
    given = {key: value for key, value in overrides.items() if value is not None}
    return replace(preset, reference=args.reference, **given)


def _refusal(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot run (checked before anything is written), or None."""
    dataset, out = args.dataset.resolve(), args.out.resolve()
    if not (dataset / IMAGES).is_dir():
        return f"--dataset {args.dataset} has no {IMAGES}/ folder"
    if out == dataset or out.is_relative_to(dataset) or dataset.is_relative_to(out):
        return (
            f"--out {args.out} and --dataset {args.dataset} overlap; the command never writes "
            "into its input. Choose an output folder outside the dataset (and not above it)."
        )
    if args.weights == WeightSource.FILE and not args.weights_path:
        return "--weights file needs --weights-path"
    if args.deepgaze_weights == WeightSource.FILE and not args.deepgaze_weights_path:
        return "--deepgaze-weights file needs --deepgaze-weights-path"
    if args.limit is not None and args.limit < 1:
        return "--limit must be ≥ 1"
    target = args.target or DETECTORS[args.detector].default_target
    if target not in DETECTORS[args.detector].targets:
        return (
            f"--target {target}: {args.detector} has {', '.join(DETECTORS[args.detector].targets)}"
        )
    return None


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments that define a run's results, as JSON values."""
    return {
        key: str(value.resolve()) if isinstance(value, Path) else value
        for key, value in sorted(vars(args).items())
        if key not in UNCHECKED_SETTINGS
    }


def _check_resume(out: Path, settings: dict[str, Any]) -> str | None:
    """Why ``out`` cannot take this run (an earlier run with other settings), or None."""
    path = out / SETTINGS_NAME
    if not path.is_file():
        return None
    try:
        earlier = json.loads(path.read_text())
    except json.JSONDecodeError:
        return f"{path} is unreadable; use a new --out folder."
    changed = sorted(
        k for k in settings.keys() | earlier.keys() if earlier.get(k) != settings.get(k)
    )
    if not changed:
        return None
    return (
        f"--out {out} holds a run with other settings ({', '.join(changed)} differ); resuming "
        "would mix them. Use a new --out folder, or the earlier settings."
    )


def dataset_files(dataset: Path, stems: Collection[str]) -> dict[str | None, list[Path]]:
    """Every file of ``dataset`` except the images in ``images/``, relative to it, by the image
    stem it belongs to (a file named ``<stem>.*`` anywhere: ``masks/<stem>.png``,
    ``fixations/<stem>.csv``, ``annotations/<stem>.xml``, …) or None (every other file).

    Files that resolve outside the dataset (symbolic links out of it) are left out, as the app
    never reads them, and so are the log and settings of an earlier run (when ``dataset`` is
    itself an output): they would replace this run's own.
    """
    root = dataset.resolve()
    run_files = {LOG_NAME, SETTINGS_NAME, f"{Path(LOG_NAME).stem}.csv.tmp"}
    files: dict[str | None, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        is_image = relative.parts[0] == IMAGES and path.suffix.lower() in ACCEPTED_SUFFIXES
        is_run_file = relative.as_posix() in run_files
        if not path.is_file() or is_image or is_run_file or not path.resolve().is_relative_to(root):
            continue
        files.setdefault(path.stem if path.stem in stems else None, []).append(relative)
    return files


def copy_files(dataset: Path, out: Path, files: Iterable[Path]) -> int:
    """Copy ``files`` (relative paths) from ``dataset`` to ``out`` unchanged; returns the count.

    Files already copied (same size and modification time) are left alone.
    """
    copied = 0
    for relative in files:
        path, target = dataset / relative, out / relative
        source = path.stat()
        if target.is_file() and (target.stat().st_size, target.stat().st_mtime_ns) == (
            source.st_size,
            source.st_mtime_ns,
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def _left_out(out: Path, files: list[Path]) -> str:
    """Remove the copies of a failed image's own ``files`` from ``out`` (an earlier run may
    have copied them), so the output never has a stem without its image; says so."""
    for relative in files:
        (out / relative).unlink(missing_ok=True)
    if not files:
        return "Left out of the output."
    names = ", ".join(relative.as_posix() for relative in files)
    return f"Left out of the output with its own files ({names})."


def _read_log(path: Path) -> list[dict[str, str]]:
    return csvfiles.read_rows(path) if path.is_file() else []


def _finished(row: dict[str, str], out: Path) -> bool:
    """A logged image whose output is present (errors are retried)."""
    return row["decision"] != "error" and bool(row["output"]) and (out / row["output"]).is_file()


@contextmanager
def _log_writer(path: Path, kept_rows: list[dict[str, str]]) -> Iterator[Callable[[dict], None]]:
    """Replace the log by ``kept_rows`` (atomically), then yield ``write(row)`` (flushed)."""
    staged = path.with_suffix(".csv.tmp")
    with staged.open("w", newline="") as handle:
        writer = csvfiles.DictWriter(handle, LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(kept_rows)
    os.replace(staged, path)
    with path.open("a", newline="") as handle:
        writer = csvfiles.DictWriter(handle, LOG_COLUMNS)

        def write(row: dict) -> None:
            writer.writerow(row)
            handle.flush()

        yield write


def _save(rgb: np.ndarray, path: Path) -> None:
    """Atomic: a kill mid-save never leaves a truncated image at ``path``."""
    save_image_atomic(rgb, path, **SAVE_OPTIONS.get(path.suffix.lower(), {}))


def _dip_progress(bar: tqdm) -> ProgressCallback:
    def update(iteration: int, total: int, loss: float, preview: np.ndarray) -> None:
        bar.total = total
        bar.update(iteration - bar.n)
        bar.set_postfix(loss=f"{loss:.4g}")

    return update


def settings_of(args: argparse.Namespace) -> Settings:
    """The pipeline's settings for this command: one detector, one CAM, one reference."""
    files = {args.detector: args.weights_path} if args.weights_path else {}
    return Settings(
        detectors=(args.detector,),
        weights=args.weights,
        weights_files=tuple(files.items()),
        input_size=args.input_size,
        cams=(args.cam,),
        target=args.target or "study default",
        score_threshold=args.score_threshold,
        type2=(),
        type2_weights=args.deepgaze_weights,
        type2_weights_file=args.deepgaze_weights_path,
        study_input_range=args.study_input_range,
        type2_max_side=args.deepgaze_max_side,
        references=(args.reference,),
        sigma=args.sigma,
    )


def full_size_sample(dataset: Dataset, stem: str, reference: str) -> tuple[Sample, Path]:
    """The image at its own size (never downscaled: boxes stay valid) with only the inputs
    ``reference`` is built from (a mask or fixation file is never read for another reference,
    and one that cannot be read is a notice), and the image's path."""
    inputs = REFERENCES[reference].needs
    return dataset.load(stem, max_side=NO_DOWNSCALE, inputs=inputs), dataset.image_path(stem)


def process_image(
    dataset: Dataset,
    stem: str,
    args: argparse.Namespace,
    settings: Settings,
    rule: EraseRule,
    own_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Augment one image and write its output, its ``own_files`` (relative paths of its mask,
    fixations, annotations…) copied just before it; returns its log row (raises on failure)."""
    started = time.perf_counter()
    sample, source = full_size_sample(dataset, stem, args.reference)
    bundle = pipeline.compute_bundle(sample, settings, FUNCTIONS)
    if args.reference not in bundle.references:
        why = [*bundle.skipped, *sample.notices] or [f"no {args.reference} reference"]
        raise ValueError(" ".join(why))
    cam = next(entry for entry in bundle.maps.values() if entry.kind == MapKind.TYPE1)
    reference = bundle.references[args.reference]
    method, parameters = INPAINT_OPTIONS[args.inpaint] if args.inpaint else (None, {})
    erasing = EraseSettings(args.top_percent, args.dilate, args.kernel, FILL_OPTIONS[args.fill])
    with tqdm(desc=f"{stem} · {method}", leave=False, disable=method != ITERATIVE) as bar:
        augmented = augment_sample(
            sample.image,
            cam.values,
            reference.values,
            rule=rule,
            erasing=erasing,
            inpaint_method=method,
            inpaint_params={param: getattr(args, attr) for param, attr in parameters.items()},
            progress=_dip_progress(bar),
        )
    decision = augmented.decision
    copy_files(dataset.root, args.out, own_files)
    if decision.erase:
        suffix = ".png" if args.format == "png" else source.suffix
        output = Path(IMAGES) / f"{stem}{suffix}"
        _save(augmented.image, args.out / output)
        if args.save_masks:
            _save(augmented.mask.astype(np.uint8) * 255, args.out / ERASE_MASKS / f"{stem}.png")
    else:
        output = Path(IMAGES) / source.name
        (args.out / IMAGES).mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, args.out / output)
    reference_notes = [f"reference: {reference.label}", *reference.notes]
    notes = [*sample.notices, *(f"{cam.label}: {note}" for note in cam.notes), *reference_notes]
    return {
        "metric": rule.metric_label,
        "value": "" if np.isnan(decision.value) else f"{decision.value:.6g}",
        "decision": "erase" if decision.erase else "keep",
        "reason": decision.text if decision.erase else f"{decision.text} Copied unchanged.",
        "erased_pixels": int(augmented.mask.sum()),
        "inpaint": (method or "none") if decision.erase else "",
        "seconds": round(time.perf_counter() - started, 3),
        "output": output.as_posix(),
        "notes": " | ".join(notes),
    }


def run(args: argparse.Namespace) -> int:
    """Augment the dataset described by parsed ``args``; 0 when every image succeeded, else 1."""
    dataset = Dataset(args.dataset.name, args.dataset)
    settings = settings_of(args)
    choice = pipeline.detector_choices(settings)[0][0]
    rule = _erase_rule(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / SETTINGS_NAME).write_text(json.dumps(_settings(args), indent=2) + "\n")
    files = dataset_files(args.dataset, dataset.ids)
    copied = copy_files(args.dataset, args.out, files.get(None, []))
    log_path = args.out / LOG_NAME
    rows = _read_log(log_path)
    stems = dataset.ids[: args.limit]
    done = {row["stem"] for row in rows if _finished(row, args.out)}
    todo = [stem for stem in stems if stem not in done]
    kept_rows = [row for row in rows if row["stem"] not in todo]
    for stem in done & set(stems):
        copied += copy_files(args.dataset, args.out, files.get(stem, []))
    print(
        f"{choice.label} · {args.cam} vs. {args.reference} · rule: erase when {rule.describe()}\n"
        f"{len(stems)} images: {len(stems) - len(todo)} already done, {len(todo)} to do; "
        f"{copied} other files copied (an image's own files go with it).",
        file=sys.stderr,
    )
    # builds the models once (downloading pretrained weights with a bar; fails on missing ones)
    pipeline.fetch_weights(settings, download_bar)
    counts = {"erase": 0, "keep": 0, "error": 0}
    with _log_writer(log_path, kept_rows) as write, tqdm(todo, unit="image") as bar:
        for stem in bar:
            started = time.perf_counter()
            try:
                row = process_image(dataset, stem, args, settings, rule, files.get(stem, []))
            except (MissingWeightsError, KeyboardInterrupt):
                raise
            except Exception as error:  # noqa: BLE001 - one bad image must not stop the run
                row = {
                    "metric": rule.metric_label,
                    "decision": "error",
                    "reason": f"{error.__class__.__name__}: {error}",
                    "seconds": round(time.perf_counter() - started, 3),
                    "notes": _left_out(args.out, files.get(stem, [])),
                }
            write({"stem": stem, **row})
            counts[row["decision"]] += 1
            bar.set_postfix(counts)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    print(f"Done: {summary}. Log: {log_path}", file=sys.stderr)
    return 1 if counts["error"] else 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; argument errors exit with code 2, missing weights and file-system
    errors (e.g. an unwritable ``--out``) with 1 and one line, an interrupt at any point with
    130 and the resume hint (the log keeps every finished image)."""
    return run_command(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    refusal = _refusal(args)
    if refusal is None:
        try:
            _erase_rule(args)
        except ValueError as error:
            refusal = str(error)
    if refusal is None:
        try:
            settings_of(args)
        except SettingsError as error:
            refusal = str(error)
    refusal = refusal or _check_resume(args.out, _settings(args))
    if refusal:
        parser.error(refusal)
    return run(args)
