"""The dataset engine: every image of a dataset through the one pipeline, saved as it goes.

The per-image work, the same for the local and the Ray engine: :func:`compute_maps`
(:func:`~saliency_core.pipeline.compute_bundle`, a batch's detector and DeepGaze passes run
together by :class:`BatchMaps`), then :func:`score`: every map
against every reference and the fixations and the IoU at every integer top-p%, then the optional
analyses (:data:`OPTIONAL_ANALYSES` and the classifier maps), each through the image's
:class:`~saliency_core.evaluate.optional.Guard`: one that cannot run for an image leaves a notice
and never costs the image's main rows. The sample's notices and these go to the run's
``notices`` table. :func:`run`
drives it over a dataset: models load once (the shared model cache), images are decoded ahead in
a background thread, type-2 maps come from a disk cache, each image's rows are written
atomically as it finishes, and a rerun skips the images already written.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from saliency_core import pipeline
from saliency_core.data import runs
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import Sample
from saliency_core.evaluate import finegrained, summary
from saliency_core.evaluate.batching import BatchedCams, default_batch_size
from saliency_core.evaluate.optional import Guard, OptionalAnalysis
from saliency_core.evaluate.options import Options
from saliency_core.evaluate.outcome import Outcome
from saliency_core.evaluate.store import (
    MANIFEST,
    NOTICE_COLUMNS,
    NOTICES,
    REGIONS,
    TEMPORAL,
    ResultsError,
    ResultsFolder,
)
from saliency_core.evaluate.type2_cache import DiskType2Cache
from saliency_core.maps.classifier_maps import classifier_choices, classifier_steps
from saliency_core.models.cache import MODELS, default_device
from saliency_core.scoring import agreement
from saliency_core.scoring.accuracy import accuracy_record
from saliency_core.settings import Settings
from saliency_core.study import MapKind

CURVE_PERCENTS = tuple(range(1, 51))
"""IoU curves: every integer top-p% from 1 to 50, stored so no chart recomputes them."""
PACKAGES = (
    "torch",
    "torchvision",
    "grad-cam",
    "numpy",
    "pandas",
    "scipy",
    "opencv-python-headless",
)
PREFETCH = 2
"""Images decoded ahead of the one being computed."""


@dataclass
class Timings:
    """Seconds spent per stage, summed over images."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started

    def add(self, other: dict[str, float]) -> None:
        for name, seconds in other.items():
            self.stages[name] = self.stages.get(name, 0.0) + seconds


@dataclass(frozen=True)
class ImageResult:
    stem: str
    table: pd.DataFrame
    curves: pd.DataFrame
    seconds: dict[str, float]
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Finer-grained tables and the notices by part folder
    (:data:`~saliency_core.evaluate.store.EXTRA_TABLES`); an empty table is left out."""


def timed_functions(functions: pipeline.MapFunctions, timings: Timings) -> pipeline.MapFunctions:
    """``functions`` with their time added to the "type-1" (detectors and classifiers) and
    "type-2" stages."""

    def cam(*args):
        with timings.stage("type-1"):
            return functions.cam(*args)

    def classifier(*args):
        with timings.stage("type-1"):
            return functions.classifier(*args)

    def type2(*args):
        with timings.stage("type-2"):
            return functions.type2(*args)

    return pipeline.MapFunctions(cam=cam, type2=type2, classifier=classifier)


def _keep_metrics(table: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    wanted = set(metrics)
    family = table["metric"].where(~table["metric"].str.startswith("IoU@"), "IoU")
    return table[family.isin(wanted)].reset_index(drop=True)


def curves_table(bundle: pipeline.Bundle, ranked: dict[str, agreement.RankedMap]) -> pd.DataFrame:
    """IoU at every p of :data:`CURVE_PERCENTS`, per (map, reference): columns map, reference,
    reference_key, percent, iou."""
    frames = []
    maps = {label: ranked[label] for label in bundle.maps}
    for key, reference in bundle.references.items():
        curve = agreement.iou_curves(
            maps,
            ranked[reference.label],
            CURVE_PERCENTS,
            reference_name=reference.label,
            ties=bundle.settings.ties,
        )
        frames.append(curve.assign(reference=reference.label, reference_key=key))
    columns = ["map", "reference", "reference_key", "percent", "iou"]
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


def compute_maps(sample: Sample, settings: Settings, functions: pipeline.MapFunctions) -> Computed:
    """The image's bundle (the models' part of the work) with the centre-bias floor added. A
    classifier's map is optional: when it fails, the image's guard notes it and the other maps
    stand; any other map failing fails the image."""
    timings, guard = Timings(), Guard()
    sample = pipeline.prepare_sample(sample, settings)
    optional = {job.label for job in classifier_steps(settings)[0]}

    def on_error(label: str, error: Exception) -> None:
        if label not in optional:
            raise error
        guard.record(f"Classifier map {label}", error)

    bundle = pipeline.compute_bundle(
        sample, settings, timed_functions(functions, timings), on_error=on_error
    )
    pipeline.add_floor(bundle)
    return Computed(sample.id, bundle, timings, guard)


def _ceiling(bundle: pipeline.Bundle, options: Options) -> pd.DataFrame:
    return pipeline.ceiling_table(bundle, options.top_percents[0], options.metrics)


def _time_curves(bundle: pipeline.Bundle, options: Options) -> pd.DataFrame:
    return finegrained.temporal_table(bundle, percent=options.top_percents[0])


def _region_shares(bundle: pipeline.Bundle, options: Options) -> pd.DataFrame:
    return finegrained.region_table(bundle)


def _finegrained(options: Options) -> bool:
    return options.finegrained


TIME_CURVES = "Time curves"
OPTIONAL_ANALYSES = (
    OptionalAnalysis("Human ceiling", _ceiling),
    OptionalAnalysis(TIME_CURVES, _time_curves, TEMPORAL, "time and regions", _finegrained),
    OptionalAnalysis("Region shares", _region_shares, REGIONS, "time and regions", _finegrained),
)
"""The optional analyses :func:`score` runs after the main rows, each through the image's
guard: the human inter-observer ceiling (rows of the main table), the onset-window curves
(:func:`finegrained.temporal_table`) and the region shares (:func:`finegrained.region_table`)."""


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames with rows, concatenated (the first kept for its columns when none has)."""
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else frames[0]


def notices_table(image: str, notices: Iterable[str]) -> pd.DataFrame:
    """One row per notice: columns image, notice."""
    return pd.DataFrame([(image, notice) for notice in notices], columns=NOTICE_COLUMNS)


def score(computed: Computed, options: Options) -> ImageResult:
    """The bundle's rows (every map × reference × metric, the floor included), IoU curves, the
    optional analyses (:data:`OPTIONAL_ANALYSES`) and the notices (the sample's and the guard's):
    the CPU's part of the work."""
    bundle, timings, guard = computed.bundle, computed.timings, computed.guard
    with timings.stage("metrics"):
        ranked = pipeline.rank_maps(bundle)
        percents = options.top_percents if "IoU" in options.metrics else ()
        table = pd.concat(
            [
                pipeline.iou_table(bundle, percents, ranked),
                pipeline.threshold_free_table(bundle, options.metrics),
            ],
            ignore_index=True,
        )
        curves = curves_table(bundle, ranked)
        curves.insert(0, "image", bundle.sample.id)
        parts: dict[str | None, list[pd.DataFrame]] = {None: [pipeline.describe(table, bundle)]}
    for optional in OPTIONAL_ANALYSES:
        if optional.wanted(options):
            with timings.stage(optional.stage):
                rows = guard.run(optional, bundle, options)
            parts.setdefault(optional.part, []).append(rows)
    table = _keep_metrics(_stack(parts.pop(None)), options.metrics)
    table.insert(0, "image", bundle.sample.id)
    extras = {name: _stack(frames) for name, frames in parts.items()}
    extras[NOTICES] = notices_table(bundle.sample.id, [*bundle.sample.notices, *guard.notices])
    extras = {name: rows for name, rows in extras.items() if len(rows)}
    return ImageResult(bundle.sample.id, table, curves, timings.stages, extras)


def prefetch(
    dataset: Dataset, stems: list[str], depth: int = PREFETCH
) -> Iterator[tuple[str, Future]]:
    """(stem, future of ``dataset.load(stem)``), decoding up to ``depth`` images ahead in a
    background thread while the caller computes."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loader") as pool:
        pending: list[tuple[str, Future]] = []
        queue = iter(stems)
        for stem in queue:
            pending.append((stem, pool.submit(dataset.load, stem)))
            if len(pending) > depth:
                yield pending.pop(0)
        yield from pending


def classifier_accuracy(settings: Settings) -> dict[str, dict]:
    """Classifier name -> its weights' ImageNet top-1 accuracy (%) or the reason it is unknown
    (:func:`~saliency_core.scoring.accuracy.accuracy_record`), for the report's accuracy
    vs. agreement plot without loading any model."""
    choices, _ = classifier_choices(settings)
    return {choice.name: accuracy_record(choice) for choice in choices}


def check_output(dataset: Path, out: Path) -> None:
    """Refuse an output folder inside the dataset, or a dataset inside the output folder."""
    refusal = runs.overlap_refusal(dataset, out)
    if refusal:
        raise ResultsError(refusal)


def run_identity(dataset: Dataset, settings: Settings, options: Options) -> dict:
    """What the results depend on: a resumed run must match it exactly."""
    return {
        "dataset": str(dataset.root.resolve()),
        "settings": settings.to_dict(),
        "metrics": list(options.metrics),
        "top_percents": list(options.top_percents),
        "finegrained": options.finegrained,
        "image_list": None if options.images is None else list(options.images),
    }


def chosen_stems(dataset: Dataset, options: Options) -> tuple[list[str], list[str]]:
    """The run's images: ``options.images`` in their order (else every image, sorted), the
    first ``options.limit`` of them; and the run-wide notice naming listed stems the dataset
    lacks (none: no notice)."""
    if options.images is None:
        return dataset.ids[: options.limit], []
    known = set(dataset.ids)
    missing = [stem for stem in options.images if stem not in known]
    stems = [stem for stem in options.images if stem in known][: options.limit]
    if not missing:
        return stems, []
    return stems, [
        f"{len(missing)} of the {len(options.images)} listed images are not in {dataset.root} "
        f"and are left out: {named(missing)}"
    ]


def _spread_settings(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``identity`` with its settings spread out by name as :class:`Settings` reads them: a run
    written before a setting existed has it at its default, so it is the same run."""
    values = {key: value for key, value in identity.items() if key != "settings"}
    settings = identity.get("settings")
    if not isinstance(settings, dict):
        return {**values, "settings": settings}
    try:
        return {**values, **Settings.from_dict(settings).to_dict()}
    except (TypeError, ValueError):  # e.g. a setting this version does not know: as written
        return {**values, **settings}


def check_resume(folder: ResultsFolder, identity: dict) -> None:
    """Refuse ``folder`` when its manifest holds a run of another :func:`run_identity`."""

    def comparable(record: Mapping[str, Any]) -> dict[str, Any]:
        return _spread_settings({key: record.get(key) for key in identity})

    refusal = runs.resume_refusal(folder.root / MANIFEST, identity, comparable)
    if refusal:
        raise ResultsError(refusal)


def environment() -> dict:
    """What a run's numbers may depend on besides its settings: Python, platform, device (and on
    CUDA whether cuDNN may use TF32, which moves untrained detectors' maps by up to ~0.07; see
    benchmarks/README), package versions."""
    device = default_device()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "cudnn_tf32": torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None,
        "packages": versions,
    }


@dataclass
class RunReport:
    """What a run did: ``images`` in the run, ``computed`` (scored by this run),
    ``skipped_done`` (scored by an earlier one), errors and where the results are."""

    out: Path
    images: int
    computed: int
    skipped_done: int
    errors: dict[str, str]
    seconds: float
    timings: dict[str, float]
    cancelled: bool = False
    notices: int = 0
    """Rows of the run's ``notices`` table (what the results leave out or changed, and why)."""

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.images, self.computed + self.skipped_done, self.errors, self.cancelled)


ProgressCallback = Callable[[int, int, str], None]


def run(
    dataset: Dataset,
    settings: Settings,
    out: Path,
    options: Options = Options(),  # noqa: B008 - frozen, immutable default
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    executor: Callable | None = None,
    download_progress: Callable | None = None,
) -> RunReport:
    """Evaluate ``dataset`` under ``settings`` into ``out`` (resuming an earlier run there).

    ``progress(done, total, stem)`` follows the images; ``cancel`` stops after the current image
    (everything finished is kept); ``executor(stems, dataset, settings, options)`` replaces the
    local loop (the Ray engine), yielding :class:`ImageResult` or (stem, error message).
    """
    check_output(dataset.root, out)
    folder = ResultsFolder(out)
    identity = run_identity(dataset, settings, options)
    check_resume(folder, identity)
    started = datetime.now(UTC)
    stems, stem_notices = chosen_stems(dataset, options)
    done = folder.done() & set(stems)
    todo = [stem for stem in stems if stem not in done]
    out.mkdir(parents=True, exist_ok=True)
    folder.write_settings(settings)
    manifest = {
        **identity,
        **environment(),
        "classifier_accuracy": classifier_accuracy(settings),
        "started": started.isoformat(),
        "status": "running",
    }
    folder.write_manifest(manifest)
    timings = Timings()
    errors: dict[str, str] = {}
    cancelled = False
    scored = 0
    clock = time.perf_counter()
    # Every image uses every model: all stay loaded for the run, whatever the app's cap.
    with MODELS.room_for(pipeline.models_needed(settings)):
        if todo and executor is None:  # the Ray engine's actors load their own
            with timings.stage("model loading"):
                pipeline.fetch_weights(settings, download_progress)
        results = (executor or local_executor)(todo, dataset, settings, options, timings)
        for index, result in enumerate(results):
            if isinstance(result, ImageResult):
                with timings.stage("write"):
                    folder.write_image(result.stem, result.table, result.curves, result.extras)
                timings.add(result.seconds)
                stem = result.stem
                scored += 1
            else:
                stem, errors[stem] = result
            if progress is not None:
                progress(index + 1, len(todo), stem)
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
    folder.write_errors(errors)
    table, curves = folder.collect()
    folder.write_tables(table, curves)
    folder.write_extra_tables()
    notices = folder.write_notices([*stem_notices, *onset_notices(folder, table, options)])
    long = summary.summarize(table)
    folder.write_summary(long, summary.to_latex(long))
    ended = datetime.now(UTC)
    seconds = time.perf_counter() - clock
    done_now = RunReport(
        out, len(stems), scored, len(done), errors, seconds, timings.stages, cancelled, len(notices)
    )
    manifest |= {
        "ended": ended.isoformat(),
        "status": done_now.outcome.status,
        "status_text": done_now.outcome.text(),
        "images": len(stems),
        "computed": scored,
        "skipped_already_done": len(done),
        "errors": len(errors),
        "notices": len(notices),
        "seconds": round(seconds, 3),
        "timings_s": {k: round(v, 3) for k, v in timings.stages.items()},
    }
    folder.write_manifest(manifest)
    return done_now


NAMED = 10
"""A run-wide notice names at most this many images, then counts the rest."""


def named(stems: list[str]) -> str:
    """The first :data:`NAMED` of ``stems``, then how many more: "a, b and 3 more"."""
    more = len(stems) - NAMED
    return ", ".join(stems[:NAMED]) + (f" and {more} more" if more > 0 else "")


def onset_notices(folder: ResultsFolder, table: pd.DataFrame, options: Options) -> list[str]:
    """Said once per run: the images with fixation metrics but no time curves because their
    fixations carry no onset times (an image whose time curves failed has its own notice)."""
    if not options.finegrained or table.empty:
        return []
    fixation_rows = (table["reference_key"] == pipeline.FIXATION_POINTS) & (
        table["kind"] != MapKind.CEILING
    )
    with_fixations = set(table.loc[fixation_rows, "image"])
    timed = set(folder.extra_table(TEMPORAL, consolidated=False).get("image", ()))
    notices = folder.extra_table(NOTICES, consolidated=False)
    failed = set(notices.loc[notices["notice"].str.startswith(TIME_CURVES), "image"])
    missing = sorted(with_fixations - timed - failed)
    if not missing:
        return []
    return [
        f"No onset times in the fixations of {len(missing)} of {len(with_fixations)} images "
        f"with fixations ({named(missing)}): onset_s is absent, empty or not a number of "
        "seconds >= 0, so they are left out of the time analysis"
    ]


def failure(stem: str, error: Exception) -> tuple[str, str]:
    """How an image that could not be evaluated is reported: (stem, "Error: message")."""
    return stem, f"{error.__class__.__name__}: {error}"


def local_executor(
    stems: list[str], dataset: Dataset, settings: Settings, options: Options, timings: Timings
) -> Iterator[ImageResult | tuple[str, str]]:
    """This process, decoding ahead; type-2 maps from the disk cache; detector and DeepGaze IIE
    passes batched (:class:`BatchMaps`; one image at a time on CPU). Pipelined: an image is
    scored in a second thread while the models run on the next ones (numpy and torch release
    the GIL), so on a GPU the metrics no longer wait for the forwards, nor these for them."""
    size = options.batch_size or default_batch_size()
    maps = BatchMaps()
    loading = prefetch(dataset, stems, depth=max(PREFETCH, size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring") as scorer:
        scoring: tuple[str, Future] | None = None
        try:
            while batch := list(islice(loading, size)):
                loaders = [(stem, future.result) for stem, future in batch]
                for item in maps.bundles(loaders, settings, timings):
                    if scoring is not None:
                        yield _scored(*scoring)
                        scoring = None
                    if isinstance(item, Computed):
                        job = scorer.submit(score, item, options)
                        scoring = (item.stem, job)
                    else:
                        yield item
        except GeneratorExit:  # the caller stopped reading (a Stop): nothing more to give
            raise
        except BaseException:  # Ctrl-C: the image already scored is still saved
            if scoring is not None:
                yield _scored(*scoring)
            raise
        if scoring is not None:
            yield _scored(*scoring)


def _scored(stem: str, job: Future) -> ImageResult | tuple[str, str]:
    try:
        return job.result()
    except Exception as error:  # noqa: BLE001 - one bad image must not end the run
        return failure(stem, error)


@dataclass(frozen=True)
class Computed:
    """An image's maps, ready to be scored, with the guard of its optional analyses."""

    stem: str
    bundle: pipeline.Bundle
    timings: Timings
    guard: Guard = field(default_factory=Guard)


@dataclass
class BatchMaps:
    """A run's map functions: a batch's batchable CAMs and its missing type-2 maps computed
    together (one forward per model for each group of same-sized images), then served image by
    image to :func:`compute_maps`."""

    cams: BatchedCams = field(default_factory=BatchedCams)
    type2: DiskType2Cache = field(default_factory=DiskType2Cache)

    @property
    def functions(self) -> pipeline.MapFunctions:
        return pipeline.MapFunctions(cam=self.cams, type2=self.type2)

    def bundles(
        self, loaders: list[tuple[str, Callable[[], Sample]]], settings: Settings, timings: Timings
    ) -> Iterator[Computed | tuple[str, str]]:
        """Each (stem, load) of ``loaders`` decoded to the working size, the batch's passes run,
        then each image's :class:`Computed` maps, or (stem, why it failed): one bad image never
        stops the others."""
        samples: dict[str, Sample | tuple[str, str]] = {}
        for stem, load in loaders:
            try:
                with timings.stage("decode (waiting for the loader)"):
                    samples[stem] = pipeline.prepare_sample(load(), settings)
            except Exception as error:  # noqa: BLE001 - one bad image must not end the run
                samples[stem] = failure(stem, error)
        ready = [sample for sample in samples.values() if isinstance(sample, Sample)]
        if len(ready) > 1:
            with timings.stage("type-1"):
                self.cams.compute(ready, settings)
            with timings.stage("type-2"):
                self.type2.compute(ready, settings)
        for stem, sample in samples.items():
            if isinstance(sample, tuple):
                yield sample
                continue
            try:
                computed = compute_maps(sample, settings, self.functions)
            except Exception as error:  # noqa: BLE001 - one bad image must not end the run
                yield failure(stem, error)
                continue
            yield computed
