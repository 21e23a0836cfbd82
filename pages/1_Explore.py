"""Explore: detector CAMs next to DeepGaze IIE and human attention, with agreement metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core import agreement, fixations, gaze, viz
from saliency_core.cams import CAM_METHODS, Detections, unsupported_reason
from saliency_core.detectors import DETECTORS
from saliency_core.gaze.centerbias import centre_bias
from saliency_core.images import Sample, image_hash
from saliency_core.presets import PRESETS, STUDY_NOTES
from saliency_core.weights import WeightSource
from ui import cached, widgets
from ui.errors import guarded, report
from ui.layout import frame
from ui.progress import fetch_deepgaze, fetch_detector

KEY = "explore"
INPUT_SIZES = {"torchvision default": None, "512 px": 512, "320 px": 320}


@dataclass
class Maps:
    """Everything computed for one image: the maps, their labels, and what to say about them."""

    sample: Sample
    cams: dict[str, np.ndarray] = field(default_factory=dict)
    detections: dict[str, Detections] = field(default_factory=dict)
    type2: dict[str, np.ndarray] = field(default_factory=dict)
    references: dict[str, np.ndarray] = field(default_factory=dict)
    baseline: np.ndarray | None = None
    baseline_label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def all_maps(self) -> dict[str, np.ndarray]:
        return {**self.cams, **self.type2}


def preset_values(name: str) -> dict:
    """The session-state value of every widget the preset ``name`` sets."""
    preset = PRESETS[name]
    return {
        f"{KEY}_detectors": list(preset.detectors),
        f"{KEY}_methods": list(preset.methods),
        f"{KEY}_working": preset.working_size is not None,
        f"{KEY}_score": preset.score_threshold,
        f"{KEY}_percent": preset.top_percent,
        f"{KEY}_study_range": preset.deepgaze_study_input_range,
        f"{KEY}_target": "study default",
    }


def apply_preset() -> None:
    st.session_state.update(preset_values(st.session_state[f"{KEY}_preset"]))


def sidebar_settings() -> dict:
    side = st.sidebar
    # first visit, or Streamlit dropped a widget's state (another page, or a widget not drawn in
    # the last run, e.g. the study-range toggle of a weight-free model): reseed only those keys
    st.session_state.setdefault(f"{KEY}_preset", "Explore")
    for name, value in preset_values(st.session_state[f"{KEY}_preset"]).items():
        st.session_state.setdefault(name, value)
    side.selectbox("Preset", list(PRESETS), key=f"{KEY}_preset", on_change=apply_preset)
    side.header("Type-1: detectors × CAMs")
    detectors = side.multiselect("Detectors", list(DETECTORS), key=f"{KEY}_detectors")
    methods = side.multiselect(
        "CAM methods",
        list(CAM_METHODS),
        key=f"{KEY}_methods",
        help="\n".join(f"- **{m.name}** ({m.cost}): {m.description}" for m in CAM_METHODS.values()),
    )
    target = side.radio("Target layer", ["study default", "FPN"], key=f"{KEY}_target")
    size = side.selectbox("Detector input size", list(INPUT_SIZES), key=f"{KEY}_size")
    with side:
        choices = widgets.detector_choices(KEY, detectors, INPUT_SIZES[size])
    score = side.slider("Detection score threshold", 0.05, 1.0, step=0.05, key=f"{KEY}_score")
    side.header("Type-2: where people look")
    type2_name = side.selectbox("Model", list(gaze.TYPE2_MODELS), key=f"{KEY}_type2")
    entry = gaze.TYPE2_MODELS[type2_name]
    type2_source, type2_path, study_range = WeightSource.UNTRAINED, None, False
    if entry.needs_weights:
        with side:
            type2_source = widgets.weight_source(
                f"{KEY}_type2_weights", "DeepGaze weights", "MIT1003"
            )
        if type2_source is WeightSource.FILE:
            type2_path = side.text_input("DeepGaze checkpoint file", key=f"{KEY}_type2_path")
        study_range = side.toggle(
            "Study input range (0..1, reproduces the study's bug)", key=f"{KEY}_study_range"
        )
    working = side.toggle("Resize to 512×512 (study)", key=f"{KEY}_working")
    return {
        "choices": choices,
        "methods": methods,
        "target": target,
        "score": score,
        "type2": (type2_name, type2_source.value, type2_path or None, study_range),
        "working": 512 if working else None,
    }


def compute_maps(sample: Sample, settings: dict) -> Maps:
    maps = Maps(sample)
    jobs = [(c, m) for c in settings["choices"] for m in settings["methods"]]
    progress = st.progress(0.0, text="Computing maps…")
    for index, (choice, method) in enumerate(jobs, start=1):
        spec = DETECTORS[choice.name]
        layer = spec.default_target if settings["target"] == "study default" else "FPN"
        if layer not in spec.targets:
            layer = spec.default_target
        label = f"{choice.label} · {method}"
        reason = unsupported_reason(method, spec, layer)
        if reason:
            maps.notes.append(f"{label} skipped: {reason}")
            continue
        progress.progress(index / (len(jobs) + 1), text=f"{label} ({index}/{len(jobs)})")
        score = settings["score"] if CAM_METHODS[method].uses_gradients else 0.9
        with guarded(label):
            fetch_detector(choice)
            result = cached.cam(sample.key, sample.image, choice, method, layer, score)
            maps.cams[result.label] = result.cam
            maps.detections[choice.label] = result.detections
            maps.notes += [f"{result.label}: {note}" for note in result.notes]
    name, source, path, study_range = settings["type2"]
    progress.progress(len(jobs) / (len(jobs) + 1), text=f"{name}…")
    with guarded(name):
        if gaze.TYPE2_MODELS[name].needs_weights:
            fetch_deepgaze(source)
        predicted = cached.type2(sample.key, sample.image, name, source, path, study_range)
        maps.type2[predicted.label] = predicted.display
        maps.references[predicted.label] = predicted.display
        maps.notes += [f"{predicted.label}: {note}" for note in predicted.notes]
    progress.empty()
    return maps


def human_reference(maps: Maps) -> None:
    """The human attention mask, or the fixation density (sigma from the sidebar)."""
    sample = maps.sample
    if sample.mask is not None:
        maps.references["human attention mask"] = sample.mask
    if sample.fixations is not None and len(sample.fixations):
        default = round(fixations.default_sigma(sample.shape), 1)
        sigma = st.sidebar.slider(
            "Fixation density sigma (px)", 1.0, 4 * default, default, key=f"{KEY}_sigma"
        )
        density = fixations.density_map(sample.fixations, sample.shape, sigma)
        maps.references["human fixation density"] = fixations.display(density)
    prior = centre_bias(sample.shape)
    maps.baseline, maps.baseline_label = np.exp(prior.log_density), prior.label


def add_consensus(maps: Maps) -> None:
    if len(maps.cams) < 2:
        return
    if st.sidebar.toggle("Consensus of the CAMs", key=f"{KEY}_consensus"):
        sigma = st.sidebar.slider("Consensus smoothing sigma (px)", 0, 40, 0, key=f"{KEY}_csig")
        maps.cams["consensus of type-1 maps"] = agreement.consensus(maps.cams.values(), sigma)


def overview_panels(maps: Maps, show_fixations: bool, score: float) -> list[tuple[str, np.ndarray]]:
    image = maps.sample.image
    panels = []
    for label, detections in maps.detections.items():
        kept = detections.above(score)
        title = f"{label}: {len(kept)} detections ≥ {score:.2f}"
        panels.append((title, viz.draw_detections(image, kept)))
    for label, values in {**maps.cams, **maps.type2}.items():
        panels.append((label, viz.overlay(image, values)))
    for label, values in maps.references.items():
        if label in maps.type2:
            continue
        picture = viz.overlay(image, values, colormap="inferno")
        if show_fixations and maps.sample.fixations is not None:
            picture = viz.draw_fixations(picture, maps.sample.fixations)
        panels.append((label, picture))
    return panels


def show_grid(panels: list[tuple[str, np.ndarray]], columns: int = 4) -> None:
    for start in range(0, len(panels), columns):
        for column, (title, picture) in zip(
            st.columns(columns), panels[start : start + columns], strict=False
        ):
            column.image(picture, caption=title, width="stretch")


def format_table(long: pd.DataFrame) -> None:
    summary = agreement.widen(long)
    if summary.table.empty:
        return
    st.dataframe(summary.table.style.format(precision=3, na_rep="n/a"), width="stretch")
    for note in summary.notes:
        st.caption(f"n/a — {note}")


@st.cache_data(max_entries=128, show_spinner=False)
def threshold_free_tables(
    key: str, _maps: dict, _references: dict, _fixations, _others, _baseline
) -> pd.DataFrame:
    """MAE/CC/SIM/KLD against the references and NSS/AUC/sAUC/IG against fixations.

    ``key`` names the image and every map; the arrays themselves are not hashed.
    """
    tables = [agreement.map_metrics(_maps, _references)]
    if _fixations is not None and len(_fixations):
        tables.append(agreement.fixation_metrics(_maps, _fixations, _others, baseline=_baseline))
    return pd.concat(tables, ignore_index=True)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_curves(key: str, reference: str, _maps: dict, _reference) -> pd.DataFrame:
    return agreement.iou_curves(_maps, _reference, reference_name=reference)


@st.fragment
def agreement_view(maps: Maps, settings: dict) -> None:
    """Everything the top-p% slider changes; reruns alone when it moves (no model runs).

    A fragment rerun does not pass through ``main``'s guard, so it carries its own.
    """
    try:
        agreement_body(maps, settings)
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, "The agreement view")


def agreement_body(maps: Maps, settings: dict) -> None:
    sample = maps.sample
    percent = st.slider(
        "Top-p% of pixels (study: 10%, its 90th-percentile cut)",
        1.0,
        50.0,
        step=0.5,
        key=f"{KEY}_percent",
    )
    show_fixations = sample.fixations is not None and st.toggle(
        "Show fixation points", True, key=f"{KEY}_show_fix"
    )
    panels = overview_panels(maps, show_fixations, settings["score"])
    show_grid(panels)
    if not maps.references:
        st.info("No reference map: add a type-2 model, a mask or fixations to compare against.")
        return
    hashes = {name: image_hash(v) for name, v in {**maps.all_maps, **maps.references}.items()}
    inputs = (sample.fixations, sample.other_fixations, maps.baseline)
    hashes |= {f"input {k}": image_hash(v) for k, v in enumerate(inputs) if v is not None}
    key = sample.key + "|" + "|".join(f"{name}={digest}" for name, digest in hashes.items())
    ranked = {
        name: cached.ranked(hashes[name], values)
        for name, values in {**maps.all_maps, **maps.references}.items()
    }
    maps_ranked = {name: ranked[name] for name in maps.all_maps}
    refs_ranked = {name: ranked[name] for name in maps.references}
    reference = st.radio("Agreement view against", list(maps.references), horizontal=True)
    paint = cached.painter(sample.key, sample.image)
    view = agreement.threshold_view(paint, maps_ranked, refs_ranked, reference, percent)
    st.subheader(f"Top {percent:g}% agreement with {reference}")
    st.caption("Yellow: both maps · red: the map only · blue: the reference only.")
    agreement_panels = [(f"{name} vs {reference}", pic) for name, pic in view.pictures.items()]
    show_grid(agreement_panels)
    fixed = threshold_free_tables(
        key,
        maps.all_maps,
        maps.references,
        sample.fixations,
        sample.other_fixations_px(),
        maps.baseline,
    )
    long = pd.concat([view.iou, fixed], ignore_index=True)
    st.subheader("Map vs. reference")
    st.caption("MAE and KLD: lower is better; IoU, CC, SIM: higher is better.")
    format_table(long[long["reference"] != "fixations"])
    if (long["reference"] == "fixations").any():
        st.subheader("Map vs. recorded fixations")
        st.caption(f"Higher is better. IG is relative to the centre bias ({maps.baseline_label}).")
        format_table(long[long["reference"] == "fixations"])
    curves = cached_curves(key, reference, maps_ranked, refs_ranked[reference])
    st.plotly_chart(viz.iou_curve_figure(curves, reference, percent), width="stretch")
    export(panels + agreement_panels, long, sample.id, percent)


def export(panels, long: pd.DataFrame, stem: str, percent: float) -> None:
    left, right = st.columns(2)
    with guarded("Preparing the PNG export"):
        left.download_button(
            "Download the grid (PNG)",
            viz.png_bytes(viz.grid_figure(panels)),
            file_name=f"{stem}_saliency_grid.png",
            mime="image/png",
        )
    right.download_button(
        "Download the metrics (CSV)",
        long.assign(image=stem, top_percent=percent).to_csv(index=False),
        file_name=f"{stem}_metrics.csv",
        mime="text/csv",
    )


def main() -> None:
    frame("Explore")
    st.title("Explore")
    st.caption(
        "What detectors look at (CAMs) next to where people look (DeepGaze IIE, fixations, masks)."
    )
    sample = widgets.image_picker(KEY)
    settings = sidebar_settings()
    if sample is None:
        st.info("Pick a dataset image or upload one in the sidebar.")
        return
    if st.session_state[f"{KEY}_preset"] == "Reproduce the study":
        with st.expander("What the study preset does", expanded=False):
            for note in STUDY_NOTES:
                st.markdown(f"- {note}")
    if settings["working"]:
        sample = sample.resized((settings["working"], settings["working"]))
    st.caption(f"{sample.source} · {sample.id} · {sample.shape[1]}×{sample.shape[0]} px")
    if not settings["choices"] or not settings["methods"]:
        st.warning("Choose at least one detector and one CAM method in the sidebar.")
    maps = compute_maps(sample, settings)
    human_reference(maps)
    add_consensus(maps)
    for note in maps.notes:
        st.caption(f"ℹ️ {note}")
    agreement_view(maps, settings)


try:
    main()
except Exception as error:  # noqa: BLE001 - the app never shows a traceback
    report(error, "The Explore page")
