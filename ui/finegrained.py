"""Explore's finer-grained agreement: over time, per region, and against people's own ceiling.

Wires the library in (no metric math here): :mod:`saliency_core.evaluate.finegrained` (window
curves and detector regions as the dataset engine builds them, and the people table),
:mod:`saliency_core.scoring.temporal` (peaks) and :mod:`saliency_core.scoring.regions` (region
shares, rank correlation), drawn with :mod:`ui.charts`. Nothing is computed until the toggle is
on; the results are cached by a content key (image, maps, fixations and the parameters).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core import pipeline
from saliency_core.evaluate import finegrained
from saliency_core.maps.references import fixation_sigma
from saliency_core.scoring import agreement, regions, temporal
from ui import address, cached, charts, tables
from ui.errors import report
from ui.rectangles import draw_rectangles

KEY = "explore_fg"
TITLE = "Finer-grained agreement: time, objects, people"
SPLITS = {"onset window (seconds)": "onset", "ordinal (k-th fixation per subject)": "ordinal"}
RECTANGLES = "rectangles drawn or typed"
DRAWN_KEY = f"{KEY}_drawn"
MASK_COMPONENTS = "attention mask's connected components"
PLURALS = {finegrained.BOX: "boxes", finegrained.INSTANCE_MASK: "instance masks"}
PEOPLE = {"fixation counts": "fixations", "fixation density": "density"}
WIDTH_S = 0.5
"""Default onset-window width (seconds)."""
VIEW_PARAMS = {
    "fg": address.ViewParam(f"{KEY}_on", False),
    "fgsplit": address.ViewParam(f"{KEY}_split", next(iter(SPLITS))),
    "fgwidth": address.ViewParam(f"{KEY}_width", WIDTH_S),
    "fgmetric": address.ViewParam(f"{KEY}_metric", temporal.TIME_METRICS[0]),
    "fgregions": address.ViewParam(f"{KEY}_source"),
    "fgrects": address.ViewParam(f"{KEY}_rects", ""),
    "fgpeople": address.ViewParam(f"{KEY}_people", next(iter(PEOPLE))),
    "fgmap": address.ViewParam(f"{KEY}_map"),
}
"""The section's controls in the page's address (query key -> widget); the page writes them
with its own (the section runs as a fragment of the page's, see :mod:`ui.address`)."""
LOSO_NOTE = (
    "People vs people: each subject's fixations scored against a gold-standard density of all "
    "the other subjects (kernel density mixed with the centre bias and a uniform term, fitted by "
    "cross-validated likelihood; leave-one-subject-out), averaged over subjects: how well one "
    "person predicts another, the ceiling a map can hope for. The centre-bias floor knows "
    "nothing of the image, only where people tend to look: a map below it adds nothing."
)


def section(bundle: pipeline.Bundle) -> None:
    """The expander. The page runs it as a fragment that writes the address
    (``ui.address.fragment``), so it reruns alone when its own controls move."""
    with st.expander(TITLE, expanded=False):
        try:
            body(bundle)
        except Exception as error:  # noqa: BLE001 - the app never shows a traceback
            report(error, "The finer-grained agreement")


def body(bundle: pipeline.Bundle) -> None:
    if not st.toggle("Compute the finer-grained agreement", False, key=f"{KEY}_on"):
        st.caption(
            "Off: turn it on to score every map per time window, per region and "
            "against the people-vs-people ceiling (a few seconds for many maps)."
        )
        return
    if not bundle.maps:
        st.info("No map to analyse: choose a detector and a CAM method, or a type-2 model.")
        return
    if bundle.sample.fixations is None or not len(bundle.sample.fixations):
        st.info(
            f"{bundle.sample.id} has no recorded fixations: time, regions and the ceiling "
            "all compare with people's fixations."
        )
        return
    key = cached.bundle_key(bundle)
    time_tab, objects_tab, people_tab = st.tabs(["Time", "Objects", "People"])
    with time_tab:
        time_view(bundle, key)
    with objects_tab:
        objects_view(bundle, key)
    with people_tab:
        people_view(bundle, key)


# --- time ------------------------------------------------------------------------------------


@st.cache_data(max_entries=32, show_spinner="Scoring every map per time window…")
def cached_windows(
    key: str, split: str, width: float, percent: float, _bundle: pipeline.Bundle
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(window_metrics, peak_windows) of every map; ``key`` etc. name the inputs."""
    curves = finegrained.window_table(_bundle, split, width, percent)
    return curves, temporal.peak_windows(curves)


def time_view(bundle: pipeline.Bundle, key: str) -> None:
    left, middle, right = st.columns(3)
    split = SPLITS[left.radio("Split the fixations by", list(SPLITS), key=f"{KEY}_split")]
    st.session_state.setdefault(f"{KEY}_width", WIDTH_S)  # a link may have set it
    width = middle.number_input(
        "Window width (s)",
        0.05,
        10.0,
        step=0.05,
        key=f"{KEY}_width",
        disabled=split != "onset",
    )
    metric = right.selectbox("Metric", temporal.TIME_METRICS, key=f"{KEY}_metric")
    table = bundle.sample.fixation_table()
    if split == "onset" and not temporal.has_onsets(table):
        st.info(f"Agreement over time is not available: {temporal.NO_ONSETS}.")
        return
    percent = bundle.settings.top_percent
    try:
        curves, peaks = cached_windows(key, split, float(width), percent, bundle)
    except ValueError as error:  # no subject ids for ordinals
        st.info(f"Agreement over time is not available: {error}.")
        return
    if curves.empty:
        st.info("No window holds a fixation.")
        return
    if split == "onset" and (left_out := temporal.onset_note(table)):
        st.caption(f"{left_out}.")
    st.plotly_chart(charts.time_curve_figure(curves, metric, peaks), width="stretch")
    st.caption(
        f"Each window's fixations against every map; IoU@top-p% compares the top {percent:g}% "
        "of the map with the top of the window's fixation density. ★ marks each map's peak."
    )
    shown = peaks[peaks["metric"] == metric].drop(columns="metric")
    tables.show(shown, hide_index=True, width="stretch", key=f"{KEY}_peaks")


# --- objects ---------------------------------------------------------------------------------


def parse_rectangles(text: str) -> list[tuple[float, ...]]:
    """Lines "x1,y1,x2,y2" (pixels; blank lines skipped) → rectangles; ValueError names the
    first bad line."""
    rectangles = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        try:
            values = tuple(float(part) for part in parts)
        except ValueError:
            values = ()
        if len(values) != 4 or not np.isfinite(values).all():
            raise ValueError(f'line {number} ("{line.strip()}") is not four numbers x1,y1,x2,y2')
        rectangles.append(values)
    return rectangles


def region_sources(bundle: pipeline.Bundle) -> dict[str, Callable[[], list[regions.Region]]]:
    """Label → builder of the regions: each detector's boxes and, for detectors with masks
    (Mask R-CNN), its instance masks; the mask's components; drawn and typed rectangles."""
    sample, threshold = bundle.sample, bundle.settings.score_threshold
    sources: dict[str, Callable[[], list[regions.Region]]] = {}
    for label, detections in bundle.detections.items():
        kinds = finegrained.region_kinds(detections.above(threshold), sample.shape)
        for kind, build in kinds.items():
            sources[f"{PLURALS[kind]} of {label} (score ≥ {threshold:g})"] = build
    if sample.mask is not None:
        sources[MASK_COMPONENTS] = lambda: regions.from_mask_components(sample.mask >= 0.5)
    sources[RECTANGLES] = lambda: regions.from_rectangles(
        st.session_state.get(DRAWN_KEY, []), sample.shape, "drawn"
    ) + regions.from_rectangles(
        parse_rectangles(st.session_state.get(f"{KEY}_rects", "")), sample.shape
    )
    return sources


def objects_view(bundle: pipeline.Bundle, key: str) -> None:
    sample = bundle.sample
    sources = region_sources(bundle)
    left, right = st.columns(2)
    source = left.selectbox("Regions", list(sources), key=f"{KEY}_source")
    people = PEOPLE[right.radio("People's share from", list(PEOPLE), key=f"{KEY}_people")]
    if source == RECTANGLES:
        draw_rectangles(sample.image, DRAWN_KEY)
        height, width = sample.shape
        st.text_area(
            f"Rectangles, one per line: x1,y1,x2,y2 in pixels of the {width}×{height} image",
            key=f"{KEY}_rects",
            placeholder=f"0,0,{width // 2},{height // 2}",
        )
    try:
        found = sources[source]()
    except ValueError as error:
        st.warning(f"The rectangles cannot be read: {error}.")
        return
    if not found:
        st.info(
            f"No region from the {source}: lower the score threshold, or draw or type "
            "rectangles."
        )
        return
    sigma = fixation_sigma(sample, bundle.settings.sigma)
    shares = regions.region_shares(found, bundle.values, sample.fixations, sigma, people)
    map_name = st.selectbox("Map", list(bundle.maps), key=f"{KEY}_map")
    st.plotly_chart(charts.region_ratio_figure(shares, map_name), width="stretch")
    st.dataframe(
        shares[shares["map"] == map_name].drop(columns="map"),
        hide_index=True,
        width="stretch",
        key=f"{KEY}_shares",
    )
    st.subheader("Do the map and people rank the regions alike?")
    st.caption("Spearman's rho between each map's and people's shares of these regions.")
    st.dataframe(regions.rank_correlation(shares, people), hide_index=True, key=f"{KEY}_rho")


# --- people ----------------------------------------------------------------------------------


@st.cache_data(max_entries=32, show_spinner="Scoring people against people…")
def cached_people(key: str, percent: float, _bundle: pipeline.Bundle) -> pd.DataFrame:
    """Long rows (map, metric, value, reason): the ceiling, every map and the floor."""
    return finegrained.people_table(_bundle, percent)


def people_view(bundle: pipeline.Bundle, key: str) -> None:
    long = cached_people(key, bundle.settings.top_percent, bundle)
    long = long[long["metric"].isin(agreement.FIXATION_METRICS)]
    wide = long.pivot_table(index="map", columns="metric", values="value", sort=False)
    wide = wide.reindex(index=long["map"].unique(), columns=list(agreement.FIXATION_METRICS))
    tables.show(wide.reset_index(), hide_index=True, width="stretch", key=f"{KEY}_ceiling")
    st.caption(LOSO_NOTE + f" IG is relative to the centre bias ({bundle.baseline_label}).")
    for row in long[long["value"].isna()].drop_duplicates(["map", "reason"]).itertuples():
        st.caption(f"n/a — {row.map}, {row.metric}: {row.reason}")
    for row in long[long["value"].notna() & long["reason"].notna()].itertuples():
        st.caption(f"⚠️ {row.map}, {row.metric}: {row.reason}")  # a ceiling below the floor
