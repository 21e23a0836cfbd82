"""The dataset augmentation: selective erasing (and inpainting) of every image of a dataset folder.

:func:`augment_dataset` writes ``OUT/images/<stem>`` (``OUT/JPEGImages/<stem>`` for a PASCAL VOC
folder; augmented, or copied unchanged when the rule
keeps the image), copies every other file of the dataset unchanged (annotations, masks,
fixations; an image's own ``<stem>.*`` files only with its output, so a failed image leaves none),
and logs one CSV row per image in ``OUT/augment_log.csv``. Images are never downscaled and pixels
are replaced in place, so the copied bounding boxes stay valid. A second run with the same
:class:`AugmentOptions` resumes where the first stopped (:mod:`saliency_core.data.runs` checks
``OUT/augment_settings.json``); another run's options in the same folder are refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from saliency_core import pipeline
from saliency_core.augment.erase import FILLS, KERNELS, EraseSettings
from saliency_core.augment.inpaint import METHODS
from saliency_core.augment.pipeline import STUDY_ERASING, AugmentedSample, augment_sample
from saliency_core.augment.result import ProgressCallback
from saliency_core.augment.rule import DEFAULT_PRESET, PRESETS, EraseRule
from saliency_core.data import csvfiles, runs
from saliency_core.data.atomic import save_image_atomic
from saliency_core.data.datasets import IMAGE_FOLDERS, Dataset, image_folder
from saliency_core.data.images import ACCEPTED_SUFFIXES, Sample
from saliency_core.maps.references import REFERENCES, ReferenceMap
from saliency_core.models.detectors import DETECTORS
from saliency_core.models.weights import MissingWeightsError, WeightSource
from saliency_core.settings import Range, Settings
from saliency_core.study import DEEPGAZE_MAX_SIDE, SCORE_THRESHOLD, MapKind

LOG_NAME = "augment_log.csv"
SETTINGS_NAME = "augment_settings.json"
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
"""``load_image``'s long-side bound here: images are never resized (boxes stay valid)."""
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    ".jpg": {"quality": 95},
    ".jpeg": {"quality": 95},
    ".webp": {"quality": 95},
}
"""Encoder options of lossy formats when ``format="input"`` writes them."""
FORMATS = ("png", "input")
INPAINT_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "telea": ("Telea", {"radius": "inpaint_radius"}),
    "ns": ("Navier-Stokes", {"radius": "inpaint_radius"}),
    "dip": (
        "Deep Image Prior",
        {"iterations": "dip_iterations", "learning_rate": "dip_lr", "seed": "dip_seed"},
    ),
}
"""``inpaint`` choice -> (``METHODS`` name, {method parameter: :class:`AugmentOptions` field})."""


def fill_option(name: str) -> str:
    """The ``fill`` choice of a ``FILLS`` name ("dataset mean" -> "dataset-mean")."""
    return name.replace(" ", "-")


def rule_option(name: str) -> str:
    """The ``rule`` choice of a ``PRESETS`` name ("Study (code): …" -> "study-code")."""
    return re.sub(r"[^a-z0-9]+", "-", name.split(":")[0].lower()).strip("-")


FILL_OPTIONS = {fill_option(name): name for name in FILLS}
"""``fill`` choice -> ``FILLS`` name."""
RULE_OPTIONS = {rule_option(name): name for name in PRESETS}
"""``rule`` choice (e.g. "study-code") -> ``PRESETS`` name."""
UNCHECKED_OPTIONS = ("limit",)
"""Options a resumed run may change; every other one (and the dataset) must match."""
CHOICES: dict[str, Collection[str]] = {
    "detector": DETECTORS,
    "rule": RULE_OPTIONS,
    "kernel": KERNELS,
    "fill": FILL_OPTIONS,
    "inpaint": INPAINT_OPTIONS,
    "format": FORMATS,
}
"""Options looked up here, by their choices (the others are checked by :class:`Settings`)."""
COUNTED = ("erase", "keep", "error")
"""The log's decisions, in the order a run counts them."""
_OPENCV = METHODS["Telea"].defaults
_DIP = METHODS["Deep Image Prior"].defaults

ImageProgress = Callable[[int, int, Mapping[str, int]], None]
"""``progress(done, total, counts)``: before the first image (done 0) and after each; ``counts``
by decision (:data:`COUNTED`)."""
InpaintProgress = Callable[[str, str | None], AbstractContextManager[ProgressCallback | None]]
"""``inpaint_progress(stem, method)``: a context around one image's inpainting (method None: none)
that yields the inpainting's progress callback, or None."""


class AugmentRefused(ValueError):
    """Options or folders a run cannot start with (checked before anything is written)."""


def bounded(default: Any, accepted: Range) -> Any:
    """A numeric option's field: its default and the values it accepts (``OPTION_RANGES``)."""
    return field(default=default, metadata={"range": accepted})


def option_ranges() -> dict[str, Range]:
    """The values each numeric option of :class:`AugmentOptions` accepts, by field name (the
    command checks them when it parses, :func:`refusal` before a run writes anything)."""
    return {f.name: f.metadata["range"] for f in fields(AugmentOptions) if "range" in f.metadata}


@dataclass(frozen=True, kw_only=True)
class AugmentOptions:
    """One run's choices, one field per option of ``saliency augment`` (same names; the
    command's defaults are these fields' defaults: the study's where it has one); strings are
    the command's choices (:data:`CHOICES`)."""

    detector: str
    weights: str
    cam: str
    reference: str
    weights_path: str | None = None
    target: str | None = None
    """CAM target layer (None: the detector's study layer)."""
    score_threshold: float = SCORE_THRESHOLD
    input_size: int | None = None
    deepgaze_weights: str = WeightSource.PRETRAINED.value
    deepgaze_weights_path: str | None = None
    deepgaze_max_side: int = DEEPGAZE_MAX_SIDE
    study_input_range: bool = False
    sigma: float | None = None
    rule: str = rule_option(DEFAULT_PRESET)
    metric: str | None = None
    comparator: str | None = None
    threshold: float | None = None
    rule_percent: float | None = bounded(None, Range(0, 100, open_low=True, unit="%"))
    top_percent: float = bounded(STUDY_ERASING.top_percent, Range(0, 100, open_low=True, unit="%"))
    dilate: int = bounded(STUDY_ERASING.dilate_px, Range(0, 1000, integer=True, unit="px"))
    kernel: str = STUDY_ERASING.kernel
    fill: str = fill_option(STUDY_ERASING.fill)
    inpaint: str | None = None
    inpaint_radius: float = bounded(_OPENCV["radius"], Range(0, 100, open_low=True, unit="px"))
    dip_iterations: int | None = bounded(_DIP["iterations"], Range(1, 10**6, integer=True))
    dip_lr: float = bounded(_DIP["learning_rate"], Range(0, 1, open_low=True))
    dip_seed: int = _DIP["seed"]
    format: str = "png"
    limit: int | None = bounded(None, Range(1, 10**9, integer=True, unit="images"))
    save_masks: bool = False

    @classmethod
    def from_arguments(cls, values: Mapping[str, Any]) -> AugmentOptions:
        """The options among ``values`` (e.g. ``vars(args)``; other keys are left out)."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The fields' defaults by name (the required fields, without one, left out)."""
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    def erase_rule(self) -> EraseRule:
        """The preset's rule with the options' overrides (raises ValueError on a bad one)."""
        overrides = {
            "metric": self.metric,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "percent": self.rule_percent,
        }
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(PRESETS[RULE_OPTIONS[self.rule]].rule, reference=self.reference, **given)

    def settings(self) -> Settings:
        """The pipeline's settings: one detector, one CAM, one reference (raises SettingsError)."""
        files = {self.detector: self.weights_path} if self.weights_path else {}
        return Settings(
            detectors=(self.detector,),
            weights=self.weights,
            weights_files=tuple(files.items()),
            input_size=self.input_size,
            cams=(self.cam,),
            target=self.target or "study default",
            score_threshold=self.score_threshold,
            type2=(),
            type2_weights=self.deepgaze_weights,
            type2_weights_file=self.deepgaze_weights_path,
            study_input_range=self.study_input_range,
            type2_max_side=self.deepgaze_max_side,
            references=(self.reference,),
            sigma=self.sigma,
        )

    def erasing(self) -> EraseSettings:
        return EraseSettings(self.top_percent, self.dilate, self.kernel, FILL_OPTIONS[self.fill])

    def inpainting(self) -> tuple[str | None, dict[str, Any]]:
        """The ``METHODS`` name (None: no inpainting) and its parameters."""
        if self.inpaint is None:
            return None, {}
        method, parameters = INPAINT_OPTIONS[self.inpaint]
        return method, {param: getattr(self, name) for param, name in parameters.items()}

    def identity(self, dataset: Path) -> dict[str, Any]:
        """What a run's outputs depend on, as JSON values (``augment_settings.json``)."""
        values = {"dataset": str(dataset.resolve()), **asdict(self)}
        return {key: values[key] for key in sorted(values) if key not in UNCHECKED_OPTIONS}


@dataclass(frozen=True)
class AugmentRun:
    """One run of the augmentation: where it writes, its options and what they resolve to."""

    out: Path
    options: AugmentOptions
    settings: Settings
    rule: EraseRule
    functions: pipeline.MapFunctions
    inpaint_progress: InpaintProgress


@dataclass(frozen=True)
class AugmentPlan:
    """What a run is about to do: the detector's label, the rule, the images in the run, those
    still to do (the others were finished by an earlier run) and the other files copied."""

    label: str
    rule: EraseRule
    images: int
    todo: tuple[str, ...]
    copied: int


@dataclass(frozen=True)
class AugmentReport:
    """What a run did: images by decision (:data:`COUNTED`) and where its log is."""

    log: Path
    counts: Mapping[str, int]


def refusal(dataset: Path, out: Path, options: AugmentOptions) -> str | None:
    """Why ``options`` cannot run from ``dataset`` into ``out`` (checked before anything is
    written), or None."""
    if image_folder(dataset.resolve()) is None:
        return f"--dataset {dataset} has no {' or '.join(f'{n}/' for n in IMAGE_FOLDERS)} folder"
    overlap = runs.overlap_refusal(dataset, out)
    if overlap:
        return overlap
    for name, choices in CHOICES.items():
        value = getattr(options, name)
        if value is not None and value not in choices:
            return f"--{name.replace('_', '-')} {value}: choose one of {', '.join(choices)}"
    if options.weights == WeightSource.FILE and not options.weights_path:
        return "--weights file needs --weights-path"
    if options.deepgaze_weights == WeightSource.FILE and not options.deepgaze_weights_path:
        return "--deepgaze-weights file needs --deepgaze-weights-path"
    for name, accepted in option_ranges().items():
        value = getattr(options, name)
        if value is not None and not accepted.holds(value):
            return f"--{name.replace('_', '-')} {value}: not {accepted}"
    detector = DETECTORS[options.detector]
    target = options.target or detector.default_target
    if target not in detector.targets:
        return f"--target {target}: {options.detector} has {', '.join(detector.targets)}"
    try:
        options.erase_rule()
        options.settings()
    except ValueError as error:  # SettingsError included
        return str(error)
    return runs.resume_refusal(out / SETTINGS_NAME, options.identity(dataset))


def dataset_files(dataset: Path, stems: Collection[str]) -> dict[str | None, list[Path]]:
    """Every file of ``dataset`` except the images (``images/`` or ``JPEGImages/``), relative to
    it, by the image stem it belongs to (a file named ``<stem>.*`` anywhere: ``masks/<stem>.png``,
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
        is_image = relative.parts[0] in IMAGE_FOLDERS and path.suffix.lower() in ACCEPTED_SUFFIXES
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


def full_size_sample(dataset: Dataset, stem: str, reference: str) -> tuple[Sample, Path]:
    """The image at its own size (never downscaled: boxes stay valid) with only the inputs
    ``reference`` is built from (a mask or fixation file is never read for another reference,
    and one that cannot be read is a notice), and the image's path."""
    inputs = REFERENCES[reference].needs
    return dataset.load(stem, max_side=NO_DOWNSCALE, inputs=inputs), dataset.image_path(stem)


def _compared_maps(sample: Sample, run: AugmentRun) -> tuple[pipeline.MapEntry, ReferenceMap]:
    """The run's CAM of ``sample`` and its reference map (raises ValueError, naming why, when
    the reference cannot be built)."""
    reference = run.options.reference
    bundle = pipeline.compute_bundle(sample, run.settings, run.functions)
    if reference not in bundle.references:
        why = [*bundle.skipped, *sample.notices] or [f"no {reference} reference"]
        raise ValueError(" ".join(why))
    cam = next(entry for entry in bundle.maps.values() if entry.kind == MapKind.TYPE1)
    return cam, bundle.references[reference]


def _write_output(augmented: AugmentedSample, source: Path, stem: str, run: AugmentRun) -> Path:
    """Save the erased image (and its mask with ``save_masks``), or copy ``source`` unchanged
    when the rule keeps it, into the image folder of the same name as the dataset's (``images/``
    or VOC's ``JPEGImages/``); returns the output's path relative to ``run.out``."""
    options, out, folder = run.options, run.out, source.parent.name
    if augmented.decision is not None and not augmented.decision.erase:
        output = Path(folder) / source.name
        (out / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, out / output)
        return output
    suffix = ".png" if options.format == "png" else source.suffix
    output = Path(folder) / f"{stem}{suffix}"
    _save(augmented.image, out / output)
    if options.save_masks:
        _save(augmented.mask.astype(np.uint8) * 255, out / ERASE_MASKS / f"{stem}.png")
    return output


def process_image(
    dataset: Dataset, stem: str, run: AugmentRun, own_files: Sequence[Path] = ()
) -> dict[str, Any]:
    """Augment one image (:func:`augment_sample` on the run's CAM and reference) and write its
    output, its ``own_files`` (relative paths of its mask, fixations, annotations…) copied just
    before it; returns its log row (raises on failure)."""
    started = time.perf_counter()
    options, rule = run.options, run.rule
    sample, source = full_size_sample(dataset, stem, options.reference)
    cam, reference = _compared_maps(sample, run)
    method, parameters = options.inpainting()
    with run.inpaint_progress(stem, method) as progress:
        augmented = augment_sample(
            sample.image,
            cam.values,
            reference.values,
            rule=rule,
            erasing=options.erasing(),
            inpaint_method=method,
            inpaint_params=parameters,
            progress=progress,
        )
    copy_files(dataset.root, run.out, own_files)
    output = _write_output(augmented, source, stem, run)
    decision = augmented.decision
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


def _no_progress(stem: str, method: str | None) -> AbstractContextManager[None]:
    return nullcontext()


def augment_dataset(
    dataset: Path,
    out: Path,
    options: AugmentOptions,
    *,
    functions: pipeline.MapFunctions = pipeline.UNCACHED_MAPS,
    on_start: Callable[[AugmentPlan], None] | None = None,
    progress: ImageProgress | None = None,
    inpaint_progress: InpaintProgress = _no_progress,
    download_progress: Callable | None = None,
) -> AugmentReport:
    """Augment every image of the dataset folder ``dataset`` (``images/`` and the files beside
    it) into ``out``, resuming an earlier run there; one bad image is logged as an error and
    the run goes on (missing weights and an interrupt stop it; the log keeps every finished
    image).

    ``functions`` computes the maps (e.g. DeepGaze IIE through a disk cache); ``on_start`` gets
    the plan before the models are built (pretrained weights downloaded with
    ``download_progress``); ``progress`` and ``inpaint_progress`` follow the images and each
    one's inpainting. Raises :class:`AugmentRefused` (nothing written) for :func:`refusal`.
    """
    why = refusal(dataset, out, options)
    if why:
        raise AugmentRefused(why)
    data = Dataset(dataset.name, dataset)
    settings = options.settings()
    run = AugmentRun(out, options, settings, options.erase_rule(), functions, inpaint_progress)
    out.mkdir(parents=True, exist_ok=True)
    (out / SETTINGS_NAME).write_text(json.dumps(options.identity(dataset), indent=2) + "\n")
    files = dataset_files(dataset, data.ids)
    copied = copy_files(dataset, out, files.get(None, []))
    log_path = out / LOG_NAME
    rows = _read_log(log_path)
    stems = data.ids[: options.limit]
    done = {row["stem"] for row in rows if _finished(row, out)}
    todo = [stem for stem in stems if stem not in done]
    kept_rows = [row for row in rows if row["stem"] not in todo]
    for stem in done & set(stems):
        copied += copy_files(dataset, out, files.get(stem, []))
    if on_start:
        label = pipeline.detector_choices(settings)[0][0].label
        on_start(AugmentPlan(label, run.rule, len(stems), tuple(todo), copied))
    # builds the models once (downloading pretrained weights; fails on missing ones)
    pipeline.fetch_weights(settings, download_progress)
    counts = dict.fromkeys(COUNTED, 0)
    with _log_writer(log_path, kept_rows) as write:
        if progress:
            progress(0, len(todo), counts)
        for index, stem in enumerate(todo, start=1):
            row = _augment_or_error(data, stem, run, files.get(stem, []))
            write({"stem": stem, **row})
            counts[row["decision"]] += 1
            if progress:
                progress(index, len(todo), counts)
    return AugmentReport(log_path, counts)


def _augment_or_error(
    dataset: Dataset, stem: str, run: AugmentRun, own_files: list[Path]
) -> dict[str, Any]:
    """:func:`process_image`'s log row, or an error row (the image's own files left out)."""
    started = time.perf_counter()
    try:
        return process_image(dataset, stem, run, own_files)
    except (MissingWeightsError, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001 - one bad image must not stop the run
        return {
            "metric": run.rule.metric_label,
            "decision": "error",
            "reason": f"{error.__class__.__name__}: {error}",
            "seconds": round(time.perf_counter() - started, 3),
            "notes": _left_out(run.out, own_files),
        }
