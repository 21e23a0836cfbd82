"""Classifiers in the app: the Explore sidebar section, the top-5 and ROAD section, and the
Dataset report's accuracy vs. agreement plot.

The classifier maps themselves are ordinary bundle maps (kind "classifier"): they appear in
Explore's grid and metric tables like every type-1 map. Untrained models carry "UNTRAINED" in
every label shown here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from saliency_core import pipeline
from saliency_core.maps.classifier_methods import METHOD_COSTS
from saliency_core.models.classifiers import CLASSIFIERS
from saliency_core.models.weights import WeightSource
from saliency_core.scoring import faithfulness
from saliency_core.settings import RANGES, Settings
from ui import cached, charts, classifier_report, widgets
from ui.errors import report
from ui.readout_report import CAM_VIEW, READOUT_VIEW

TARGETS = ("top-1 class", "a chosen class", "top-k classes")
INPUT_SIDES = {"224 px (the weights' own)": None, "128 px": 128, "64 px": 64}
"""Classifier input sides offered (label -> px; None: the weights' 224). Smaller sides are
quicker; ViT-B/16 with weights runs at 224 only."""
ROAD_STATE = "classifier_road_for"
"""Session key: the bundle key whose ROAD table was asked for (kept across reruns)."""


@dataclass(frozen=True)
class ClassifierChoices:
    """The sidebar's classifier choices, as Settings fields."""

    classifiers: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("GradCAM",)
    source: WeightSource = WeightSource.UNTRAINED
    files: tuple[tuple[str, str], ...] = ()
    input_size: int | None = None
    target_class: int | None = None
    top_k: int = 1


def with_classifiers(settings: Settings, choices: ClassifierChoices) -> Settings:
    """``settings`` with the sidebar's classifier choices (their weights files added)."""
    return settings.with_changes(
        classifiers=choices.classifiers,
        classifier_methods=choices.methods,
        classifier_weights=choices.source,
        weights_files=(*settings.weights_files, *choices.files),
        classifier_input_size=choices.input_size,
        classifier_class=choices.target_class,
        classifier_top_k=choices.top_k,
    )


def widget_values(key: str, settings: Settings) -> dict:
    """The session-state value of every classifier widget that shows ``settings``."""
    target = TARGETS[0]
    if settings.classifier_class is not None:
        target = TARGETS[1]
    elif settings.classifier_top_k > 1:
        target = TARGETS[2]
    return {
        f"{key}_classifiers": list(settings.classifiers),
        f"{key}_cls_methods": list(settings.classifier_methods),
        f"{key}_cls_weights": settings.classifier_weights,
        f"{key}_cls_size": widgets.size_label(settings.classifier_input_size, INPUT_SIDES),
        f"{key}_cls_target": target,
        f"{key}_cls_class": settings.classifier_class or 0,
        f"{key}_cls_k": min(max(settings.classifier_top_k, 2), 10),
    }


def sidebar(key: str) -> ClassifierChoices:
    """The sidebar's "Classifiers" section (nothing more is drawn until one is chosen)."""
    st.sidebar.header("Classifiers")
    return choose(key, st.sidebar)


def choose(key: str, side: DeltaGenerator) -> ClassifierChoices:
    """The classifier widgets in ``side`` (the sidebar, or a column of the report's run form);
    nothing more than the classifier list is drawn until one is chosen."""
    names = side.multiselect(
        "Classifiers (ImageNet)",
        list(CLASSIFIERS),
        key=f"{key}_classifiers",
        help="Their CAMs and gradient maps are type-1 maps like the detectors' CAMs; the top-5 "
        "predictions are listed below the agreement view.",
    )
    if not names:
        return ClassifierChoices()
    st.session_state.setdefault(f"{key}_cls_methods", ["GradCAM"])
    methods = side.multiselect(
        "Classifier methods",
        list(METHOD_COSTS),
        key=f"{key}_cls_methods",
        help="\n".join(f"- **{name}**: {cost}" for name, cost in METHOD_COSTS.items()),
    )
    with side:
        source = widgets.weight_source(f"{key}_cls_weights", "Classifier weights", "ImageNet")
    files = []
    if source is WeightSource.FILE:
        for name in names:
            path = side.text_input(f"State-dict file for {name}", key=f"{key}_cls_path_{name}")
            if path:
                files.append((name, path))
    size = widgets.input_size(f"{key}_cls_size", side, "Classifier input side", INPUT_SIDES)
    target = side.radio("Explain (classifiers)", TARGETS, key=f"{key}_cls_target", horizontal=True)
    target_class, top_k = None, 1
    if target == TARGETS[1]:
        index = RANGES["classifier_class"]
        target_class = int(
            side.number_input(
                "Class index (ImageNet: 0–999)", index.low, index.high, key=f"{key}_cls_class"
            )
        )
    elif target == TARGETS[2]:
        most = min(10, RANGES["classifier_top_k"].high)
        top_k = int(side.slider("k (the sum of the top-k logits)", 2, most, key=f"{key}_cls_k"))
    return ClassifierChoices(
        tuple(names), tuple(methods), source, tuple(files), size, target_class, top_k
    )


# --- Explore: top-5 and faithfulness ----------------------------------------------------------


def predictions_table(bundle: pipeline.Bundle, classifier: str) -> pd.DataFrame:
    """The classifier's top-5: rank, class, index, probability (softmax, same forward pass)."""
    return pd.DataFrame(
        [
            (rank, p.name, p.index, p.probability)
            for rank, p in enumerate(bundle.predictions[classifier], 1)
        ],
        columns=["rank", "class", "index", "probability"],
    )


def explained_caption(bundle: pipeline.Bundle, classifier: str) -> str:
    """Which classes each of the classifier's maps explains."""
    parts = [
        f"{run.job.method}: {', '.join(map(str, run.explained))} ({run.job.explains})"
        for run in bundle.classified.values()
        if run.job.choice.label == classifier
    ]
    return "Explained class index(es) — " + "; ".join(parts)


def road_cost(bundle: pipeline.Bundle) -> str:
    """What the ROAD button costs, in passes."""
    runs = len(bundle.classified) * len(faithfulness.ORDERS) * len(faithfulness.ROAD_PERCENTILES)
    return (
        f"{runs} perturbations ({len(bundle.classified)} map(s) × most/least relevant first × "
        f"{len(faithfulness.ROAD_PERCENTILES)} percentiles), each a sparse noisy-linear "
        "imputation solve and 2 forwards"
    )


@st.cache_data(max_entries=32, show_spinner=False)
def _road(key: str, _bundle: pipeline.Bundle) -> pd.DataFrame:
    return classifier_report.road_table(_bundle)


@st.cache_data(max_entries=32, show_spinner=False)
def _agreement(key: str, _bundle: pipeline.Bundle) -> pd.DataFrame:
    """The metrics of the bundle's classifier maps only (the other maps are left out)."""
    maps = {label: _bundle.maps[label] for label in _bundle.classified}
    return pipeline.metrics_table(replace(_bundle, maps=maps))


def classifier_section(bundle: pipeline.Bundle) -> None:
    """Per classifier its top-5 predictions; behind a button, ROAD beside the agreement."""
    if not bundle.predictions:
        return
    try:
        _section(bundle)
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, "The classifier section")


def _section(bundle: pipeline.Bundle) -> None:
    st.subheader("Classifiers: top-5 predictions")
    columns = st.columns(min(len(bundle.predictions), 3))
    for index, classifier in enumerate(bundle.predictions):
        with columns[index % len(columns)]:
            st.markdown(f"**{classifier}**")
            st.dataframe(
                predictions_table(bundle, classifier),
                hide_index=True,
                column_config={
                    "probability": st.column_config.ProgressColumn(
                        "probability", format="%.3f", min_value=0.0, max_value=1.0
                    )
                },
            )
            st.caption(explained_caption(bundle, classifier))
            if not bundle.model_trained(classifier):
                st.caption(f"⚠️ {pipeline.UNTRAINED_NOTE}")
    st.subheader("Faithfulness (ROAD) beside agreement")
    key = cached.bundle_key(bundle)
    asked = st.session_state.get(ROAD_STATE) == key
    if st.button(
        "Compute faithfulness (ROAD)",
        help=f"Costly: {road_cost(bundle)}.",
        disabled=asked,
    ):
        st.session_state[ROAD_STATE] = key
        asked = True
    if not asked:
        st.caption(f"Not computed yet (costly: {road_cost(bundle)}).")
        return
    with st.spinner("ROAD: perturbing the image and rerunning the classifiers…"):
        road = _road(key, bundle)
    table = classifier_report.road_beside_agreement(road, _agreement(key, bundle))
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "ROAD (remove and debias): the change of the explained class's probability when the "
        "most (MoRF) or least (LeRF) relevant pixels are replaced by a noisy linear "
        "imputation. Faithful maps: MoRF strongly negative, LeRF near 0. Right: agreement "
        "of the same maps with people (as in the tables above)."
    )
    for note in sorted(set(road["note"]) - {""}):
        st.caption(f"ℹ️ {note}")


# --- Dataset report: accuracy vs. agreement ---------------------------------------------------


def accuracy_section(table: pd.DataFrame, manifest: dict, heading: bool = True) -> None:
    """Per classifier map, its weights' ImageNet top-1 accuracy vs. its mean agreement: the
    :data:`~ui.readout_report.CAM_VIEW` (``heading``: under its own "Accuracy vs. agreement")."""
    choices = classifier_report.agreement_choices(table)
    if not choices:
        return
    if heading:
        st.subheader("Accuracy vs. agreement")
    st.markdown(f"#### {CAM_VIEW}")
    pick = st.selectbox(
        "Agreement metric",
        choices,
        format_func=lambda pair: f"{pair[0]} vs {pair[1]}",
        key="report_accuracy_metric",
    )
    points = classifier_report.accuracy_points(
        table, manifest.get("classifier_accuracy", {}), *pick
    )
    column = f"{pick[0]} vs {pick[1]}"
    shown = points.rename(columns={"agreement": column})
    st.plotly_chart(
        charts.accuracy_scatter(
            shown,
            agreement=column,
            accuracy="accuracy",
            label="map",
            title=f"{CAM_VIEW}: ImageNet top-1 accuracy vs. mean agreement of its CAM with people",
        ),
        width="stretch",
        key="report_accuracy",
    )
    st.caption(
        "x: the ImageNet-1K top-1 accuracy recorded in the weights' metadata (Oyama & Yamanaka "
        f"ask whether better classifiers look more like people); y: the mean {column} over "
        "images of the classifier's own CAM — no saliency training (unlike "
        f"{READOUT_VIEW}, which trains a readout on the backbone's features)."
    )
    for row in points[points["reason"] != ""].itertuples(index=False):
        st.caption(f"Not shown: {row.map} — {row.reason}")
