"""Grid panels painted and encoded once per content (the Explore matrix).

A panel's picture is keyed by the bundle's content (``cached.bundle_key``), the cell and the
options that change it (score threshold, explained boxes, fixation points; percent, ties and
reference for agreement pictures). A rerun that changes none of these (a slider elsewhere, a
radio) paints and encodes nothing: ``st.image`` gets the same JPEG bytes, which Streamlit
passes through as they are (same bytes, same media URL, nothing re-sent).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from saliency_core import pipeline, viz
from ui import matrix

MAX_WIDTH = 640
"""Panels are encoded at most this wide (px): a grid column is narrower on any screen."""


@st.cache_resource(max_entries=96, show_spinner=False)
def picture(
    bundle_key: str, cell: matrix.Cell, options: tuple, _bundle: pipeline.Bundle
) -> np.ndarray:
    """An overview cell's picture; ``options`` is ``(score, explained, show_fixations)``."""
    score, _, show_fixations = options
    return matrix.paint(_bundle, cell, score, show_fixations)


@st.cache_data(max_entries=512, show_spinner=False)
def overview_jpeg(
    bundle_key: str, cell: matrix.Cell, options: tuple, _bundle: pipeline.Bundle
) -> bytes:
    return viz.jpeg_bytes(picture(bundle_key, cell, options, _bundle), MAX_WIDTH)


@st.cache_data(max_entries=512, show_spinner=False)
def agreement_jpeg(
    bundle_key: str, cell: matrix.Cell, view: tuple, _paint: Callable[[], np.ndarray]
) -> bytes:
    """An agreement picture's JPEG; ``view`` is ``(reference, percent, ties)``; ``_paint``
    paints the picture (called only when it is not cached)."""
    return viz.jpeg_bytes(_paint(), MAX_WIDTH)


def options(bundle: pipeline.Bundle, cell: matrix.Cell, show_fixations: bool) -> tuple:
    """What besides the bundle changes a cell's picture (the cache key's last part)."""
    explained = bundle.explained.get(cell.key) if cell.kind == matrix.DETECTIONS else None
    marked = () if explained is None else tuple(int(k) for k in explained)
    fixations = show_fixations and cell.kind == matrix.REFERENCE
    return bundle.settings.score_threshold, marked, fixations


def overview_args(
    key: str, bundle: pipeline.Bundle, cell: matrix.Cell, show_fixations: bool
) -> tuple:
    """The cache key and inputs of an overview panel (:func:`picture`, :func:`overview_jpeg`);
    ``key`` is ``cached.bundle_key(bundle)`` (hashing every map: taken once per run, not per
    panel)."""
    return key, cell, options(bundle, cell, show_fixations), bundle
