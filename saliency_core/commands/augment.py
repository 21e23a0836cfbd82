"""The dataset command: ``saliency augment`` (``python -m saliency_core.augment``) parses its
flags into :class:`~saliency_core.augment.dataset.AugmentOptions` and runs
:func:`~saliency_core.augment.dataset.augment_dataset` with console progress bars.

``saliency augment --dataset DIR --detector NAME --weights SOURCE --cam METHOD
--reference deepgaze|fixations|mask --out DIR [--inpaint telea|ns|dip]`` writes
``OUT/images/<stem>`` (augmented, or copied unchanged when the rule keeps the image), copies every
other file of the dataset unchanged, and logs one CSV row per image in ``OUT/augment_log.csv``.
A second run with the same settings resumes where the first stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

from saliency_core import pipeline
from saliency_core.augment.dataset import (
    CHOICES,
    ERASE_MASKS,
    INPAINT_OPTIONS,
    LOG_NAME,
    RULE_OPTIONS,
    AugmentOptions,
    AugmentPlan,
    AugmentRefused,
    ImageProgress,
    augment_dataset,
    option_ranges,
)
from saliency_core.augment.inpaint import METHODS
from saliency_core.augment.result import ProgressCallback
from saliency_core.augment.rule import COMPARATORS, RULE_METRICS
from saliency_core.commands.common import (
    add_setting_flag,
    download_bar,
    in_range,
    run_command,
)
from saliency_core.evaluate.type2_cache import DiskType2Cache
from saliency_core.maps.references import REFERENCES
from saliency_core.study import ERASE_PERCENT, TOP_PERCENT

ITERATIVE = "Deep Image Prior"
"""The inpainting method that gets its own per-image progress bar."""
DISK_CACHED_MAPS = pipeline.MapFunctions(type2=DiskType2Cache())
"""DeepGaze IIE maps come from the type-2 disk cache (shared with the dataset engine)."""


def _literal(text: str) -> str:
    """``text`` as an argparse help string (``%`` escaped)."""
    return text.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments; their defaults are :class:`AugmentOptions`' (the study's
    settings where it has one), the choices of its looked-up options :data:`CHOICES`'."""
    parser = argparse.ArgumentParser(
        prog="saliency augment",
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
        choices=list(CHOICES["format"]),
        help="augmented images as PNG (lossless; default) or in the input's format (JPEG/WebP "
        "at quality 95). A VOC XML's <filename> keeps the original name either way.",
    )
    data.add_argument(
        "--limit", type=option_type("limit"), help="process only the first N images (sorted stems)"
    )
    data.add_argument(
        "--save-masks",
        action="store_true",
        help=f"also write each erased region as OUT/{ERASE_MASKS}/<stem>.png (white = erased)",
    )
    _setting_flags(parser)
    _rule_flags(parser)
    _erasing_flags(parser)
    parser.set_defaults(**AugmentOptions.defaults())
    return parser


def option_type(option: str) -> Callable[[str], float]:
    """The flag type of a numeric option: a number in its declared range (``option_ranges``)."""
    return in_range(option_ranges()[option])


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
    add_setting_flag(model, "score_threshold")
    add_setting_flag(model, "input_size")
    reference = parser.add_argument_group("human reference")
    built_in = [key for key in REFERENCES if key in REFERENCES.built_in]
    keys = "{" + ",".join(built_in) + "}|RUN"  # RUN: a trained readout's run folder or file
    add_setting_flag(reference, "references", one=True, required=True, metavar=keys)
    add_setting_flag(reference, "type2_weights", flag="deepgaze-weights")
    add_setting_flag(reference, "type2_weights_file", flag="deepgaze-weights-path")
    add_setting_flag(reference, "type2_max_side", flag="deepgaze-max-side")
    add_setting_flag(reference, "study_input_range")
    add_setting_flag(reference, "sigma")


def _rule_flags(parser: argparse.ArgumentParser) -> None:
    """The erasing rule: a preset and its overrides."""
    rule = parser.add_argument_group("erasing rule: erase when METRIC COMPARATOR THRESHOLD")
    rule.add_argument(
        "--rule",
        choices=list(CHOICES["rule"]),
        help=_literal("; ".join(f"{slug}: {name}" for slug, name in RULE_OPTIONS.items())),
    )
    rule.add_argument("--metric", choices=RULE_METRICS, help="overrides the preset's metric")
    rule.add_argument("--comparator", choices=list(COMPARATORS), help="overrides the preset's")
    rule.add_argument("--threshold", type=float, help="overrides the preset's threshold")
    rule.add_argument(
        "--rule-percent",
        type=option_type("rule_percent"),
        help=f"top-p%% binarising both maps for IoU (study: {TOP_PERCENT:g})",
    )


def _erasing_flags(parser: argparse.ArgumentParser) -> None:
    """The erased region (top-p%, dilation, fill) and the inpainting."""
    erasing = parser.add_argument_group("erasing and inpainting")
    erasing.add_argument(
        "--top-percent",
        type=option_type("top_percent"),
        help=f"erase the CAM's top p%% (study: {ERASE_PERCENT})",
    )
    erasing.add_argument("--dilate", type=option_type("dilate"), help="grow the region by N px")
    erasing.add_argument(
        "--kernel", choices=list(CHOICES["kernel"]), help="dilation structuring element"
    )
    erasing.add_argument(
        "--fill",
        choices=list(CHOICES["fill"]),
        help="erased pixels' colour (study: black); dataset-mean and gaussian-noise use the "
        "ImageNet mean (and std)",
    )
    erasing.add_argument(
        "--inpaint",
        choices=list(CHOICES["inpaint"]),
        help=_literal(
            "fill the erased pixels again: "
            + " ".join(
                f"{key}: {METHODS[name].summary}" for key, (name, _) in INPAINT_OPTIONS.items()
            )
            + " Without it the erased pixels keep the fill."
        ),
    )
    erasing.add_argument(
        "--inpaint-radius",
        type=option_type("inpaint_radius"),
        help="telea/ns: neighbourhood radius",
    )
    erasing.add_argument(
        "--dip-iterations",
        type=option_type("dip_iterations"),
        help="dip: Adam steps per image (default: chosen for the device and working size, "
        "about a minute per image on a CPU at ≤ 512 px, the paper's 3000 on CUDA)",
    )
    erasing.add_argument("--dip-lr", type=option_type("dip_lr"), help="dip: learning rate")
    erasing.add_argument("--dip-seed", type=int, help="dip: seed of z, weights and noise")


def _announce(options: AugmentOptions) -> Callable[[AugmentPlan], None]:
    """The plan's two lines on stderr, before the models are built."""

    def announce(plan: AugmentPlan) -> None:
        done = plan.images - len(plan.todo)
        print(
            f"{plan.label} · {options.cam} vs. {options.reference} · rule: erase when "
            f"{plan.rule.describe()}\n{plan.images} images: {done} already done, "
            f"{len(plan.todo)} to do; {plan.copied} other files copied (an image's own files go "
            "with it).",
            file=sys.stderr,
        )

    return announce


@contextmanager
def _image_bar() -> Iterator[ImageProgress]:
    """A console bar over the images, the counts by decision beside it."""
    bar: tqdm | None = None

    def update(done: int, total: int, counts: Mapping[str, int]) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="image")
        bar.update(done - bar.n)
        if done:
            bar.set_postfix(counts)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def _inpaint_bar(stem: str, method: str | None) -> Iterator[ProgressCallback]:
    """A per-image bar for the iterative inpainting (the others are quick)."""
    with tqdm(desc=f"{stem} · {method}", leave=False, disable=method != ITERATIVE) as bar:

        def update(iteration: int, total: int, loss: float, preview: np.ndarray | None) -> None:
            bar.total = total
            bar.update(iteration - bar.n)
            bar.set_postfix(loss=f"{loss:.4g}")

        yield update


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; argument errors (and a run refused before it starts) exit with
    code 2, missing weights and file-system errors (e.g. an unwritable ``--out``) with 1 and one
    line, an interrupt at any point with 130 and the resume hint (the log keeps every finished
    image)."""
    return run_command(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    options = AugmentOptions.from_arguments(vars(args))
    with _image_bar() as progress:
        try:
            report = augment_dataset(
                args.dataset,
                args.out,
                options,
                functions=DISK_CACHED_MAPS,
                on_start=_announce(options),
                progress=progress,
                inpaint_progress=_inpaint_bar,
                download_progress=download_bar,
            )
        except AugmentRefused as refused:
            parser.error(str(refused))
    summary = ", ".join(f"{count} {name}" for name, count in report.counts.items())
    print(f"Done: {summary}. Log: {report.log}", file=sys.stderr)
    return 1 if report.counts["error"] else 0
