"""Progress display for long first-use steps: weights downloads, outside the cached maps.

:func:`download_bar` adapts the library's download callbacks (:func:`saliency_core.pipeline.
fetch_weights` and the model getters) to a Streamlit progress bar."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from saliency_core import pipeline
from saliency_core.maps.classifier_maps import get_classifier
from saliency_core.maps.detector_maps import get_detector
from saliency_core.models.gaze.deepgaze import fetch_checkpoint
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.settings import Settings


def download_bar(label: str) -> Callable[[int, int], None]:
    """A ``progress(bytes_done, bytes_total)`` callback drawing a bar on the first download."""
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(fraction, text=f"Downloading {label} weights: {done / 2**20:.0f} MB")

    return update


def fetch_detector(choice: ModelChoice) -> None:
    """Build (and on first use download) the detector, with a bar, before any cached CAM runs."""
    get_detector(choice, progress=download_bar(choice.label))


def fetch_classifier(choice: ModelChoice) -> None:
    """Build (and on first use download) the classifier, with a bar, before its cached maps."""
    get_classifier(choice, progress=download_bar(choice.label))


def fetch_deepgaze(source: WeightSource | str) -> None:
    """Download DeepGaze IIE's official checkpoint, with a bar, when it is needed and missing."""
    if WeightSource(source) is WeightSource.PRETRAINED:
        fetch_checkpoint(download_bar("DeepGaze IIE"))


def fetch_weights(
    settings: Settings, *, downloads_only: bool = False, keep_going: bool = False
) -> None:
    """:func:`saliency_core.pipeline.fetch_weights` with a bar per download, before a cached
    picture or a background job is computed (neither draws one)."""
    pipeline.fetch_weights(
        settings, download_bar, downloads_only=downloads_only, keep_going=keep_going
    )
