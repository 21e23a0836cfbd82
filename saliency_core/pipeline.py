"""The one pipeline: (sample, settings) → bundle of maps → tidy metric table.

:func:`compute_bundle` runs every (detector, CAM method) pair and every type-2 model the settings
ask for, builds the references, and returns a :class:`Bundle` whose maps carry their labels,
notes and trained/untrained flags. :func:`metrics_table` scores every map against every reference
(and the recorded fixations) as one long table. The app, the commands and the dataset
engine all call these two; how a map is computed (cached in Streamlit, on disk, or not at all)
is injected through :class:`MapFunctions`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial

import numpy as np
import pandas as pd

from saliency_core.data import csvfiles
from saliency_core.data.images import Sample
from saliency_core.maps.cams import CAM_METHODS, CamResult, Detections, ExplainedDetections
from saliency_core.maps.classifier_maps import (
    ClassifiedMap,
    ClassifierStep,
    classifier_choices,
    classifier_steps,
    compute_classifier_map,
    get_classifier,
)
from saliency_core.maps.classifier_methods import (
    CLASSIFIER_CAM_METHODS,
    ClassifierResult,
    Prediction,
)
from saliency_core.maps.detector_maps import (
    UNTRAINED_NOTE,
    ModelChoice,
    compute_cam,
    get_detector,
)
from saliency_core.maps.gradient_saliency import GRADIENT_METHODS
from saliency_core.maps.references import (
    REFERENCES,
    ReferenceMap,
    build_reference,
    fixation_sigma,
    predicted_reference,
)
from saliency_core.models import gaze
from saliency_core.models.detectors import DETECTORS
from saliency_core.models.gaze.centerbias import centre_bias
from saliency_core.models.gaze.maps import min_max
from saliency_core.models.weights import WeightSource, finetuned_tags
from saliency_core.scoring import agreement, ceiling
from saliency_core.settings import Settings
from saliency_core.study import SCORE_THRESHOLD, TYPE1_KINDS, MapKind

CONSENSUS_LABEL = "consensus of type-1 maps"


class Cancelled(RuntimeError):
    """The caller asked to stop; the partial bundle is in ``bundle``."""

    def __init__(self, bundle: Bundle) -> None:
        super().__init__("stopped before every map was computed")
        self.bundle = bundle


@dataclass(frozen=True)
class CamStep:
    """One type-1 map to compute: a detector choice, a CAM method and its target layer."""

    choice: ModelChoice
    method: str
    layer: str
    skip: str | None = None

    @property
    def label(self) -> str:
        return f"{self.choice.label} · {self.method}"

    def explain(self, settings: Settings) -> ExplainedDetections:
        """What the map explains: the settings' choice for methods that use targets, the
        default for class-agnostic ones (which ignore it: one cached map serves every choice)."""
        return settings.explain if CAM_METHODS[self.method].uses_targets else ExplainedDetections()

    def target_score(self, score_threshold: float) -> float:
        """The detections' score cut for the CAM targets: the setting for gradient methods,
        the study's :data:`~saliency_core.study.SCORE_THRESHOLD` for the others (which ignore
        targets, so their cached map does not depend on the score slider)."""
        return score_threshold if CAM_METHODS[self.method].uses_gradients else SCORE_THRESHOLD


@dataclass(frozen=True)
class Type2Step:
    model: str
    source: WeightSource
    weights_file: str | None
    study_input_range: bool
    max_side: int
    scored: bool
    """True when the map is itself compared (``settings.type2``), not only a reference."""


@dataclass
class MapEntry:
    """A map in [0, 1] at the sample's size with what it is and where it came from."""

    label: str
    values: np.ndarray
    kind: MapKind
    trained: bool
    detector: str = ""
    """The detector's, or the classifier's, name."""
    model_label: str = ""
    """The label of the model choice that made it (the key of its detections in the bundle)."""
    weights: str = ""
    method: str = ""
    target: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Bundle:
    """Everything computed for one sample under one settings object."""

    sample: Sample
    settings: Settings
    maps: dict[str, MapEntry] = field(default_factory=dict)
    references: dict[str, ReferenceMap] = field(default_factory=dict)
    detections: dict[str, Detections] = field(default_factory=dict)
    baseline: np.ndarray | None = None
    baseline_label: str = ""
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Labels of the steps whose map failed (their errors went to ``on_error``)."""
    predictions: dict[str, list[Prediction]] = field(default_factory=dict)
    """Classifier label (e.g. "ResNet-50 (UNTRAINED)") -> its top-5 predictions."""
    classified: dict[str, ClassifiedMap] = field(default_factory=dict)
    """Classifier map label -> its job and the classes it explains."""
    explained: dict[str, np.ndarray] = field(default_factory=dict)
    """Detector choice label -> indices into its detections that its target-using CAMs explain
    (absent when only class-agnostic methods ran)."""

    def model_trained(self, model_label: str) -> bool:
        """Whether the model choice ``model_label`` (a detections or predictions key) that made
        some of the maps has trained weights."""
        return all(e.trained for e in self.maps.values() if e.model_label == model_label)

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Map label -> values (what the agreement functions take)."""
        return {label: entry.values for label, entry in self.maps.items()}

    @property
    def reference_values(self) -> dict[str, np.ndarray]:
        """Reference label -> values."""
        return {ref.label: ref.values for ref in self.references.values()}


CamFunction = Callable[[Sample, ModelChoice, str, str, float, ExplainedDetections], CamResult]
Type2Function = Callable[[Sample, Type2Step], gaze.Type2Map]
ClassifierFunction = Callable[[Sample, ClassifierStep], ClassifierResult]


def direct_cam(
    sample: Sample,
    choice: ModelChoice,
    method: str,
    layer: str,
    score: float,
    explain: ExplainedDetections | None = None,
) -> CamResult:
    return compute_cam(sample.image, choice, method, layer, score, explain=explain)


def direct_type2s(samples: Sequence[Sample], job: Type2Step) -> list[gaze.Type2Map]:
    """The job's maps of ``samples``, a network's same-sized images in one forward."""
    return gaze.predict_type2s(
        job.model,
        [sample.image for sample in samples],
        source=job.source,
        weights_path=job.weights_file,
        max_side=job.max_side,
        study_input_range=job.study_input_range,
    )


def direct_type2(sample: Sample, job: Type2Step) -> gaze.Type2Map:
    return direct_type2s([sample], job)[0]


def direct_classifier(sample: Sample, job: ClassifierStep) -> ClassifierResult:
    return compute_classifier_map(sample.image, job)


@dataclass(frozen=True)
class MapFunctions:
    """How maps are computed: directly (default), or through a caller's cache."""

    cam: CamFunction = direct_cam
    type2: Type2Function = direct_type2
    classifier: ClassifierFunction = direct_classifier


UNCACHED_MAPS = MapFunctions()


def detector_choices(settings: Settings) -> tuple[list[ModelChoice], list[str]]:
    """The detector choices of ``settings`` and why any is left out: each detector, its
    fine-tuned models (``settings.finetuned``) right after it, those of detectors not chosen
    after all of them, then the untrained twins of the chosen detectors."""
    choices, skipped = [], []
    for name in settings.detectors:
        missing = DETECTORS[name].unavailable_reason
        if missing:
            skipped.append(missing + ".")
            continue
        path = settings.weights_file(name)
        if settings.weights is WeightSource.FILE and not path:
            skipped.append(
                f"{name}: no weights file given (weights = file): give the state-dict "
                "file's path, or choose other weights."
            )
            continue
        choices.append(ModelChoice(name, settings.weights, path, settings.input_size))
    tuned = []
    for choice in finetuned_choices(settings):
        missing = DETECTORS[choice.name].unavailable_reason
        if missing:
            skipped.append(f"{choice.label}: {missing}.")
        else:
            tuned.append(choice)
    chosen = {choice.name for choice in choices}
    rows = [row for c in choices for row in (c, *(t for t in tuned if t.name == c.name))]
    rows += [choice for choice in tuned if choice.name not in chosen]
    if settings.untrained_twins and settings.weights is not WeightSource.UNTRAINED:
        rows += [ModelChoice(c.name, WeightSource.UNTRAINED, None, c.input_size) for c in choices]
    return rows, skipped


def finetuned_choices(settings: Settings) -> list[ModelChoice]:
    """``settings.finetuned`` as choices (weights from the file, tagged by its run), in order."""
    tags = finetuned_tags([path for _, path in settings.finetuned])
    return [
        ModelChoice(name, WeightSource.FILE, path, settings.input_size, tag)
        for (name, path), tag in zip(settings.finetuned, tags, strict=True)
    ]


def cam_steps(settings: Settings) -> tuple[list[CamStep], list[str]]:
    """Every (detector, method) pair to run, cheap methods first; skipped ones with reasons."""
    choices, skipped = detector_choices(settings)
    jobs = []
    for choice in choices:
        spec = DETECTORS[choice.name]
        layer = spec.default_target if settings.target == "study default" else settings.target
        layer = layer if layer in spec.targets else spec.default_target
        for method in settings.cams:
            reason = CAM_METHODS[method].unsupported(spec.targets[layer])
            jobs.append(CamStep(choice, method, layer, reason))
    order = {name: index for index, name in enumerate(CAM_METHODS)}
    jobs.sort(key=lambda job: (CAM_METHODS[job.method].expensive, order[job.method]))
    skipped += [f"{job.label} skipped: {job.skip}" for job in jobs if job.skip]
    return [job for job in jobs if not job.skip], skipped


def type2_steps(settings: Settings) -> list[Type2Step]:
    """The type-2 models to run: those shown, then those only needed as references."""
    needed = [REFERENCES[key].type2_model for key in settings.references]
    models = list(dict.fromkeys([*settings.type2, *(m for m in needed if m)]))
    return [
        Type2Step(
            model,
            settings.type2_weights,
            settings.type2_weights_file,
            settings.study_input_range,
            settings.type2_max_side,
            scored=model in settings.type2,
        )
        for model in models
    ]


DownloadProgress = Callable[[str], Callable[[int, int], None] | None]
"""``progress(label)`` gives the ``(bytes_done, bytes_total)`` callback of one model's download
(None: no bar)."""


def fetch_weights(
    settings: Settings,
    progress: DownloadProgress | None = None,
    *,
    downloads_only: bool = False,
    keep_going: bool = False,
) -> None:
    """Build every detector, classifier and type-2 network once, downloading pretrained weights
    on first use (``progress(label)`` gives each download's bar): a missing file fails here,
    before any image, with the message saying where it goes.

    ``downloads_only`` builds only the models with pretrained (downloaded) weights;
    ``keep_going`` skips a model that fails (the step that needs it fails with the same
    message) and goes on with the others."""
    bar = progress or (lambda label: None)
    steps = [
        (choice.label, choice.source, partial(get_detector, choice))
        for choice in detector_choices(settings)[0]
    ]
    steps += [
        (choice.label, choice.source, partial(get_classifier, choice))
        for choice in classifier_choices(settings)[0]
    ]
    steps += [
        (job.model, job.source, partial(gaze.load_type2, job.model, job.source, job.weights_file))
        for job in type2_steps(settings)
        if gaze.TYPE2_MODELS[job.model].needs_weights
    ]
    for label, source, build in steps:
        if downloads_only and source is not WeightSource.PRETRAINED:
            continue
        try:
            build(progress=bar(label))
        except Exception:
            if not keep_going:
                raise


def models_needed(settings: Settings) -> int:
    """How many models ``settings`` keep busy: detectors (with untrained twins), classifiers
    and type-2 networks (the weight-free type-2 models hold none)."""
    networks = [job for job in type2_steps(settings) if gaze.TYPE2_MODELS[job.model].variant]
    return len(detector_choices(settings)[0]) + len(classifier_choices(settings)[0]) + len(networks)


class Unchosen(StrEnum):
    """A choice the settings leave empty while the rest of them needs it."""

    CLASSIFIER_METHOD = "classifier method"
    """Classifiers without a method."""
    MODEL = "model"
    """No detector, type-2 model or classifier at all."""
    CAM_METHOD = "CAM method"
    """Detectors without a CAM method."""
    DETECTOR = "detector"
    """CAM methods without a detector (and no classifier)."""


def unchosen(settings: Settings) -> list[Unchosen]:
    """The choices ``settings`` leave out that the user probably meant to make."""
    missing = []
    if settings.classifiers and not settings.classifier_methods:
        missing.append(Unchosen.CLASSIFIER_METHOD)
    if not settings.detectors and not settings.type2 and not settings.classifiers:
        missing.append(Unchosen.MODEL)
    elif settings.detectors and not settings.cams:
        missing.append(Unchosen.CAM_METHOD)
    elif settings.cams and not settings.detectors and not settings.classifiers:
        missing.append(Unchosen.DETECTOR)
    return missing


def prepare_sample(sample: Sample, settings: Settings) -> Sample:
    """The sample at the settings' working size (N×N, aspect not kept, as the study did)."""
    size = settings.working_size
    return sample.resized((size, size)) if size else sample


MapStep = CamStep | ClassifierStep | Type2Step


def step_rank(job: MapStep) -> int:
    """Cheap first: gradient-free CAMs (whose forward pass also gives the detections) 0,
    type-2 models 1 (the references follow them), gradient maps 2, perturbation CAMs and the
    costly gradient methods (SmoothGrad, Integrated Gradients) 3."""
    if isinstance(job, Type2Step):
        return 1
    if isinstance(job, ClassifierStep) and job.method in GRADIENT_METHODS:
        return 3 if GRADIENT_METHODS[job.method].expensive else 2
    methods = CLASSIFIER_CAM_METHODS if isinstance(job, ClassifierStep) else CAM_METHODS
    method = methods[job.method]
    return 3 if method.expensive else 2 if method.uses_gradients else 0


def planned_steps(settings: Settings) -> tuple[list[MapStep], list[str]]:
    """The maps :func:`compute_bundle` computes, in its order (:func:`step_rank`, stable), and
    the skipped pairs with their reasons."""
    cams, skipped = cam_steps(settings)
    classifiers, classifier_skipped = classifier_steps(settings)
    steps = [*cams, *classifiers, *type2_steps(settings)]
    return sorted(steps, key=step_rank), skipped + classifier_skipped


def step_label(job: MapStep) -> str:
    """The step's name in progress reports (the (detector, method) pair, or the type-2 model)."""
    return job.model if isinstance(job, Type2Step) else job.label


def compute_bundle(
    sample: Sample,
    settings: Settings,
    functions: MapFunctions = UNCACHED_MAPS,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
    partial: Callable[[Bundle], None] | None = None,
) -> Bundle:
    """All maps and references of ``sample`` (already at the working size) under ``settings``.

    Steps run cheap first (:func:`planned_steps`); the references are built as soon as the
    type-2 models they need are done. ``progress(done, total, label)`` is called before each step
    and ``partial(copy)`` after it with a shallow copy of the bundle so far; ``cancel`` stops
    between steps (raising :class:`Cancelled` with the partial bundle, references, consensus and
    baseline included). A step that fails calls ``on_error(label, error)`` and the rest goes on;
    without ``on_error`` it raises.
    """
    bundle = Bundle(sample, settings)
    jobs, bundle.skipped = planned_steps(settings)
    total = len(jobs)
    bundle.notes += explain_notes(settings, [job for job in jobs if isinstance(job, CamStep)])
    type2_maps: dict[str, ReferenceMap] = {}
    last_cheap = max((i for i, job in enumerate(jobs) if step_rank(job) <= 1), default=-1)
    if last_cheap < 0:
        _add_references(bundle, type2_maps)
    for done, job in enumerate(jobs):
        label = step_label(job)
        if cancel is not None and cancel.is_set():
            raise Cancelled(_finish(bundle, type2_maps, references=done > last_cheap))
        if progress is not None:
            progress(done, total, label)
        try:
            if isinstance(job, Type2Step):
                _add_type2(bundle, functions, job, type2_maps)
            elif isinstance(job, ClassifierStep):
                _add_classifier(bundle, functions, job)
            else:
                _add_cam(bundle, functions, job)
        except Exception as error:
            if on_error is None:
                raise
            bundle.failed.append(label)
            on_error(label, error)
        if done == last_cheap:
            _add_references(bundle, type2_maps)
        if partial is not None:
            partial(_copy(bundle))
    if progress is not None:
        progress(total, total, "done")
    return _finish(bundle, type2_maps, references=True)


def _copy(bundle: Bundle) -> Bundle:
    """A copy whose containers another thread may read while ``bundle`` grows."""
    return replace(
        bundle,
        maps=dict(bundle.maps),
        references=dict(bundle.references),
        detections=dict(bundle.detections),
        notes=list(bundle.notes),
        skipped=list(bundle.skipped),
        failed=list(bundle.failed),
    )


def _finish(bundle: Bundle, type2_maps: dict[str, ReferenceMap], references: bool) -> Bundle:
    """References (unless ``references``: built already), the consensus and the centre-bias
    baseline; the maps in the order type-1, type-2, consensus, whatever ran first."""
    order = {MapKind.TYPE1: 0, MapKind.CLASSIFIER: 1, MapKind.TYPE2: 2, MapKind.CONSENSUS: 3}
    bundle.maps = dict(sorted(bundle.maps.items(), key=lambda item: order[item[1].kind]))
    if not references:
        _add_references(bundle, type2_maps)
    _add_consensus(bundle)
    prior = centre_bias(bundle.sample.shape)
    bundle.baseline, bundle.baseline_label = np.exp(prior.log_density), prior.label
    return bundle


def _add_cam(bundle: Bundle, functions: MapFunctions, job: CamStep) -> None:
    score = job.target_score(bundle.settings.score_threshold)
    explain = job.explain(bundle.settings)
    result = functions.cam(bundle.sample, job.choice, job.method, job.layer, score, explain)
    bundle.maps[result.label] = MapEntry(
        result.label,
        result.cam,
        MapKind.TYPE1,
        result.trained,
        detector=job.choice.name,
        model_label=job.choice.label,
        weights=job.choice.weights_name,
        method=job.method,
        target=job.layer,
        notes=list(result.notes),
    )
    bundle.detections[job.choice.label] = result.detections
    if CAM_METHODS[job.method].uses_targets:
        bundle.explained[job.choice.label] = np.asarray(result.explained, np.int64)
    bundle.notes += [f"{result.label}: {note}" for note in result.notes]


def _add_classifier(bundle: Bundle, functions: MapFunctions, job: ClassifierStep) -> None:
    """The classifier's map (kind "classifier"), its top-5 and the classes it explains."""
    result = functions.classifier(bundle.sample, job)
    bundle.maps[job.label] = MapEntry(
        job.label,
        result.saliency,
        MapKind.CLASSIFIER,
        result.trained,
        detector=job.choice.name,
        model_label=job.choice.label,
        weights=job.choice.weights_name,
        method=job.method,
        target=result.target,
        notes=list(result.notes),
    )
    bundle.predictions[job.choice.label] = list(result.predictions)
    bundle.classified[job.label] = ClassifiedMap(job, list(result.explained))
    bundle.notes += [f"{job.label}: {note}" for note in result.notes]


def explain_notes(settings: Settings, jobs: Iterable[CamStep]) -> list[str]:
    """One note when the settings explain a chosen detection or class and some of the methods
    are class-agnostic (they ignore the choice)."""
    if settings.explain == ExplainedDetections():
        return []
    agnostic = [m for m in settings.cams if not CAM_METHODS[m].uses_targets]
    if not agnostic or not any(job.method in agnostic for job in jobs):
        return []
    verb = "is" if len(agnostic) == 1 else "are"
    return [
        f"{', '.join(agnostic)} {verb} class-agnostic: the maps do not depend on what is "
        f"explained ({settings.explain.describe(settings.score_threshold)})."
    ]


def _add_type2(
    bundle: Bundle, functions: MapFunctions, job: Type2Step, computed: dict[str, ReferenceMap]
) -> None:
    """The model's map (scored when ``job.scored``), kept in ``computed`` for the references."""
    predicted = functions.type2(bundle.sample, job)
    trained = predicted.trained
    if not gaze.TYPE2_MODELS[job.model].needs_weights:
        weights = "weight-free"
    else:
        weights = job.source.value if trained else "untrained"
    if job.scored:
        bundle.maps[predicted.label] = MapEntry(
            predicted.label,
            predicted.display,
            MapKind.TYPE2,
            trained,
            weights=weights,
            method=job.model,
            notes=list(predicted.notes),
        )
    bundle.notes += [f"{predicted.label}: {note}" for note in predicted.notes]
    computed[job.model] = predicted_reference(job.model, predicted)


def _add_consensus(bundle: Bundle) -> None:
    """The mean of ≥ 2 type-1 maps, detectors' and classifiers' (settings.consensus);
    UNTRAINED if any input is."""
    cams = [entry for entry in bundle.maps.values() if entry.kind in TYPE1_KINDS]
    if not bundle.settings.consensus or len(cams) < 2:
        return
    trained = all(entry.trained for entry in cams)
    label = CONSENSUS_LABEL if trained else f"{CONSENSUS_LABEL} (UNTRAINED inputs)"
    values = agreement.consensus([entry.values for entry in cams], bundle.settings.consensus_sigma)
    notes = [] if trained else [UNTRAINED_NOTE]
    bundle.maps[label] = MapEntry(
        label, values, MapKind.CONSENSUS, trained, method="consensus", notes=notes
    )


def _add_references(bundle: Bundle, type2_maps: dict[str, ReferenceMap]) -> None:
    for key in bundle.settings.references:
        entry = REFERENCES[key]
        reason = entry.missing(bundle.sample)
        if reason:
            bundle.skipped.append(f"Reference {key}: {reason}.")
            continue
        if entry.type2_model and entry.type2_model not in type2_maps:
            why = "failed" if entry.type2_model in bundle.failed else "was not computed (stopped)"
            bundle.skipped.append(f"Reference {key}: the {entry.type2_model} map {why}.")
            continue
        bundle.references[key] = build_reference(
            key, bundle.sample, bundle.settings.sigma, type2_maps
        )


# --- metrics ---------------------------------------------------------------------------------

MAP_COLUMNS = ["kind", "detector", "weights", "method", "target", "trained"]
TABLE_COLUMNS = [
    "map",
    *MAP_COLUMNS,
    "reference",
    "reference_key",
    "metric",
    "top_percent",
    "value",
    "higher_is_better",
    "reason",
]


FIXATION_POINTS = "fixation points"
"""``reference_key`` of the fixation metrics (scored at the recorded points, not a map)."""


def iou_metric(percent: float) -> str:
    """The metric name of the IoU of the top-``percent``% pixels, e.g. "IoU@top-10%"."""
    return f"IoU@top-{percent:g}%"


def threshold_free_table(bundle: Bundle, names: Iterable[str] | None = None) -> pd.DataFrame:
    """MAE, CC, SIM, KLD against every reference and the fixation metrics (agreement module);
    ``names`` keeps only those metrics (default: all)."""
    wanted = None if names is None else set(names)
    map_names = [m for m in agreement.MAP_METRICS if wanted is None or m in wanted]
    fixation_names = [m for m in agreement.FIXATION_METRICS if wanted is None or m in wanted]
    tables = [agreement.map_metrics(bundle.values, bundle.reference_values, map_names)]
    sample = bundle.sample
    if fixation_names and sample.fixations is not None and len(sample.fixations):
        tables.append(
            agreement.fixation_metrics(
                bundle.values,
                sample.fixations,
                sample.other_fixations_px(),
                baseline=bundle.baseline,
                names=fixation_names,
            )
        )
    return pd.concat(tables, ignore_index=True)


def iou_table(
    bundle: Bundle, percents: Iterable[float], ranked: dict[str, agreement.RankedMap] | None = None
) -> pd.DataFrame:
    """IoU of every map's top-p% against every reference's, one block per p in ``percents``."""
    ranked = ranked or rank_maps(bundle)
    maps = {label: ranked[label] for label in bundle.maps}
    refs = {ref.label: ranked[ref.label] for ref in bundle.references.values()}
    tables = []
    for percent in percents:
        table = agreement.iou_table(maps, refs, percent, bundle.settings.ties)
        tables.append(table.assign(metric=iou_metric(percent), top_percent=float(percent)))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def rank_maps(bundle: Bundle) -> dict[str, agreement.RankedMap]:
    """Every map and reference sorted once (fast top-p% masks), by label."""
    values = {**bundle.values, **bundle.reference_values}
    return {label: agreement.RankedMap(array) for label, array in values.items()}


def describe(table: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    """Add what each map is (kind, detector, weights, method, target, trained) and the
    reference key to an agreement table, in :data:`TABLE_COLUMNS` order."""
    info = pd.DataFrame(
        [
            {
                "map": e.label,
                "kind": e.kind,
                "detector": e.detector,
                "weights": e.weights,
                "method": e.method,
                "target": e.target,
                "trained": e.trained,
            }
            for e in bundle.maps.values()
        ],
        columns=["map", *MAP_COLUMNS],
    )
    keys = {ref.label: key for key, ref in bundle.references.items()}
    keys["fixations"] = FIXATION_POINTS
    described = table.merge(info, on="map", how="left")
    described["reference_key"] = described["reference"].map(keys)
    if "top_percent" not in described:
        described["top_percent"] = np.nan
    return described[TABLE_COLUMNS]


def metrics_table(bundle: Bundle, percents: Iterable[float] | None = None) -> pd.DataFrame:
    """The tidy table: every map × reference × metric (IoU at each of ``percents``, default the
    settings' top-p%), plus every map × the fixation metrics; NaN values carry a reason."""
    percents = [bundle.settings.top_percent] if percents is None else list(percents)
    parts = [iou_table(bundle, percents), threshold_free_table(bundle)]
    table = pd.concat([part for part in parts if not part.empty], ignore_index=True)
    if table.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return describe(table, bundle)


def reproduction_columns(bundle: Bundle) -> dict[str, object]:
    """What a metrics row needs to be reproduced, beyond the map's own description: dataset,
    image, weight sources, score threshold, the fixation-density sigma actually used (px),
    the working size (W×H px of the image the maps were computed on), tie policy and the full
    settings as JSON."""
    sample, settings = bundle.sample, bundle.settings
    height, width = sample.shape
    return {
        "dataset": sample.source,
        "image": sample.id,
        "detector_weights": settings.weights.value,
        "type2_weights": settings.type2_weights.value,
        "score_threshold": settings.score_threshold,
        "sigma_px": round(fixation_sigma(sample, settings.sigma), 3),
        "working_size": f"{width}x{height}",
        "ties": settings.ties,
        "settings_json": json.dumps(settings.to_dict(), separators=(",", ":")),
    }


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV text: an undefined value is written "NaN" (read back as NaN) with its
    reason in ``reason``; negative zero is written as 0 (no "-0.0" for IG and friends); text a
    spreadsheet would run as a formula is neutralised (:mod:`saliency_core.data.csvfiles`)."""
    values = pd.to_numeric(table["value"], errors="coerce") + 0.0  # −0.0 + 0.0 = +0.0
    written = values.astype(object).where(values.notna(), "NaN")
    return csvfiles.csv_text(table.assign(value=written))


def add_floor(bundle: Bundle) -> None:
    """The centre-bias prior as a map of kind "baseline": the floor every score is read against
    (it knows nothing of the image, only where people tend to look)."""
    label = f"centre-bias floor ({bundle.baseline_label})"
    if bundle.baseline is None or label in bundle.maps:
        return
    values = min_max(bundle.baseline)
    bundle.maps[label] = MapEntry(
        label, values, MapKind.FLOOR, True, weights="weight-free", method="centre bias"
    )


def ceiling_table(
    bundle: Bundle, percent: float | None = None, names: Iterable[str] | None = None
) -> pd.DataFrame:
    """The human inter-observer ceiling of the sample's fixations
    (:func:`saliency_core.scoring.ceiling.inter_observer_ceiling`: a gold-standard density fitted by
    cross-validated log-likelihood; fixation metrics leave one subject out, the top-p% IoU splits
    the subjects in halves, the IoU only when the fixation density is a reference), in
    :data:`TABLE_COLUMNS`. A value worse than the centre-bias floor's keeps its value with
    ``reason`` "below the floor with N subjects: not a ceiling". Empty without fixations; NaN rows
    with the reason when the fixations carry no subject ids or fewer than 2 subjects. ``names``
    keeps only those metrics ("IoU" for the top-p% IoU)."""
    table = bundle.sample.fixation_table()
    wanted = [
        metric
        for metric in ceiling.OBSERVER_METRICS
        if names is None or metric in names or (metric == "IoU@top-p%" and "IoU" in names)
    ]
    if "fixations" not in bundle.settings.references:  # no density reference to compare with
        wanted = [metric for metric in wanted if metric != "IoU@top-p%"]
    if table is None or not len(table) or not wanted:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    percent = bundle.settings.top_percent if percent is None else percent
    rows = ceiling.inter_observer_ceiling(
        table,
        bundle.sample.shape,
        fixation_sigma(bundle.sample, bundle.settings.sigma),
        percent=percent,
        other_fixations=bundle.sample.other_fixations_px(),
        baseline=bundle.baseline,
        ties=bundle.settings.ties,
        names=tuple(wanted),
    )
    is_iou = rows["metric"] == "IoU@top-p%"
    return rows.assign(
        reason=rows["reason"].where(rows["value"].isna(), rows["notice"]),
        metric=rows["metric"].where(~is_iou, iou_metric(percent)),
        top_percent=np.where(is_iou, float(percent), np.nan),
        reference_key=np.where(is_iou, "fixations", FIXATION_POINTS),
        kind=MapKind.CEILING,
        detector="",
        weights="",
        method="leave-one-subject-out",
        target="",
        trained=True,
    )[TABLE_COLUMNS]
