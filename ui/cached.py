"""Cached computations: every map is keyed by the image's content hash and its parameters.

Weights are fetched before these run (``ui.progress.fetch_weights``, with a progress bar):
Streamlit replays elements drawn inside a cached function, so none is drawn here.

Maps go through ``st.cache_data`` (moving a threshold reruns nothing here); models are built
once per process by ``saliency_core.models.cache.MODELS`` (a lock per model, shared by sessions).
The leading underscore on ``_rgb`` tells Streamlit not to hash the array: ``image_key`` does.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from saliency_core import pipeline
from saliency_core.data import datasets
from saliency_core.data.images import Sample, image_hash
from saliency_core.maps import classifier_maps, detector_maps
from saliency_core.maps.cams import CamResult, ExplainedDetections
from saliency_core.maps.classifier_methods import ClassifierResult
from saliency_core.models import gaze
from saliency_core.models.weights import ModelChoice, file_stamp
from saliency_core.scoring.agreement import RankedMap
from saliency_core.study import DEEPGAZE_MAX_SIDE
from saliency_core.viz import AgreementPainter
from ui.progress import fetch_classifier, fetch_deepgaze, fetch_detector

MAX_ENTRIES = 256


def cam(
    sample: Sample,
    choice: ModelChoice,
    method: str,
    target: str | None,
    score_threshold: float,
    explain: ExplainedDetections | None = None,
) -> CamResult:
    """``method``'s CAM of ``choice`` on ``sample`` (cached by content hash and weights stamp)."""
    stamp = file_stamp(choice.weights_path)
    explain = explain or ExplainedDetections()
    return _cam(sample.key, sample.image, choice, stamp, method, target, score_threshold, explain)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _cam(
    image_key: str,
    _rgb: np.ndarray,
    choice: ModelChoice,
    weights_stamp: tuple | None,
    method: str,
    target: str | None,
    score_threshold: float,
    explain: ExplainedDetections,
) -> CamResult:
    """``weights_stamp`` keys the weights file's version (a checkpoint saved over the path)."""
    return detector_maps.compute_cam(_rgb, choice, method, target, score_threshold, explain=explain)


def classifier_map(
    image_key: str, _rgb: np.ndarray, job: classifier_maps.ClassifierStep
) -> ClassifierResult:
    return _classifier_map(image_key, _rgb, job, file_stamp(job.choice.weights_path))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _classifier_map(
    image_key: str,
    _rgb: np.ndarray,
    job: classifier_maps.ClassifierStep,
    weights_stamp: tuple | None,
) -> ClassifierResult:
    """A classifier's map and top-5; ``weights_stamp`` keys the weights file's version."""
    return classifier_maps.compute_classifier_map(_rgb, job)


def type2(
    image_key: str,
    _rgb: np.ndarray,
    name: str,
    source: str,
    weights_path: str | None,
    study_input_range: bool,
    max_side: int = DEEPGAZE_MAX_SIDE,
) -> gaze.Type2Map:
    stamp = file_stamp(weights_path)
    return _type2(image_key, _rgb, name, source, weights_path, stamp, study_input_range, max_side)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _type2(
    image_key: str,
    _rgb: np.ndarray,
    name: str,
    source: str,
    weights_path: str | None,
    weights_stamp: tuple | None,
    study_input_range: bool,
    max_side: int,
) -> gaze.Type2Map:
    return gaze.predict_type2(
        name,
        _rgb,
        source=source,
        weights_path=weights_path,
        max_side=max_side,
        study_input_range=study_input_range,
    )


@st.cache_resource(max_entries=MAX_ENTRIES, show_spinner=False)
def ranked(map_key: str, _values: np.ndarray) -> RankedMap:
    """A sorted copy of a map (for fast top-p% masks), built once per map."""
    return RankedMap(_values)


@st.cache_resource(max_entries=16, show_spinner=False)
def painter(image_key: str, _rgb: np.ndarray) -> AgreementPainter:
    """The image's agreement painter (its tinted versions), built once per image."""
    return AgreementPainter(_rgb)


@st.cache_data(max_entries=64, show_spinner=False)
def sample(dataset_name: str, root: str, stem: str) -> Sample:
    """The dataset's sample, its content hash (``Sample.key``) taken once and stored with the
    cached copy (every rerun gets an unpickled copy: without it each would rehash the image)."""
    loaded = datasets.Dataset(dataset_name, datasets.Path(root)).load(stem)
    _ = loaded.key
    return loaded


@st.cache_data(max_entries=1024, show_spinner=False)
def thumbnail(dataset_name: str, root: str, stem: str) -> np.ndarray:
    return datasets.Dataset(dataset_name, datasets.Path(root)).thumbnail(stem)


def _quiet_type2(sample: Sample, job: pipeline.Type2Step) -> gaze.Type2Map:
    return type2(
        sample.key,
        sample.image,
        job.model,
        job.source.value,
        job.weights_file,
        job.study_input_range,
        job.max_side,
    )


def _quiet_classifier(sample: Sample, job: classifier_maps.ClassifierStep) -> ClassifierResult:
    return classifier_map(sample.key, sample.image, job)


SILENT_CACHED_MAPS = pipeline.MapFunctions(
    cam=cam, type2=_quiet_type2, classifier=_quiet_classifier
)
"""The pipeline's map functions through these caches, drawing nothing (for a background
thread: the page fetches pretrained weights, with a bar, before it starts one)."""


def _bundle_cam(
    sample: Sample,
    choice: ModelChoice,
    method: str,
    layer: str,
    score: float,
    explain: ExplainedDetections | None = None,
) -> CamResult:
    fetch_detector(choice)
    return cam(sample, choice, method, layer, score, explain)


def _bundle_type2(sample: Sample, job: pipeline.Type2Step) -> gaze.Type2Map:
    if gaze.TYPE2_MODELS[job.model].needs_weights:
        fetch_deepgaze(job.source)
    return _quiet_type2(sample, job)


def _bundle_classifier(sample: Sample, job: classifier_maps.ClassifierStep) -> ClassifierResult:
    fetch_classifier(job.choice)
    return _quiet_classifier(sample, job)


CACHED_MAPS = pipeline.MapFunctions(
    cam=_bundle_cam, type2=_bundle_type2, classifier=_bundle_classifier
)
"""The pipeline's map functions through these caches (weights fetched first, with a bar)."""


def bundle_key(bundle: pipeline.Bundle) -> str:
    """Names a bundle's content for the caches: the image, every map and reference, and the
    other inputs of the metrics and regions (fixations, other images' fixations, the centre-bias
    baseline, the mask), each by its content hash."""
    sample = bundle.sample
    arrays = {**bundle.values, **bundle.reference_values}
    inputs = (sample.fixations, sample.other_fixations, bundle.baseline, sample.mask)
    hashes = {name: image_hash(values) for name, values in arrays.items()}
    hashes |= {f"input {k}": image_hash(v) for k, v in enumerate(inputs) if v is not None}
    return sample.key + "|" + "|".join(f"{name}={digest}" for name, digest in hashes.items())
