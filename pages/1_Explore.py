"""Explore: detector CAMs next to DeepGaze IIE and human attention, with agreement metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core import agreement, analysis, fixations, gaze, presets, viz
from saliency_core.cams import CAM_METHODS
from saliency_core.detectors import DETECTORS
from saliency_core.filenames import safe_filename
from saliency_core.images import Sample
from saliency_core.presets import PRESETS, STUDY_NOTES, describe_changes
from saliency_core.references import reference_key_for_model
from saliency_core.settings import QUERY_KEYS, TARGETS, TIES, Settings, from_query, to_query
from saliency_core.weights import WeightSource
from ui import cached, widgets
from ui.errors import guarded, report
from ui.finegrained import section as finegrained_section
from ui.layout import frame

KEY = "explore"
TIE_LABELS = {"no-overshoot": "never more than p% (default)", "include": "include ties (study)"}
MAP_COLORMAP, REFERENCE_COLORMAP = "jet", "inferno"
OVERLAY_COLOURS = {
    f"maps ({MAP_COLORMAP}), min-max scaled": MAP_COLORMAP,
    f"references ({REFERENCE_COLORMAP}), min-max scaled": REFERENCE_COLORMAP,
}
"""The overlays' colour maps (``viz.overlay``), shown as colour bars in the exported grid."""


def preset_values(name: str) -> dict:
    """The session-state value of every widget the preset ``name`` sets."""
    shown = widget_values(PRESETS[name])
    return {key: shown[key] for key in PRESET_WIDGETS}


PRESET_WIDGETS = tuple(
    f"{KEY}_{name}"
    for name in ("detectors", "methods", "target", "score", "working", "study_range", "percent")
) + (f"{KEY}_ties",)
"""The widgets that show :data:`saliency_core.presets.PRESET_FIELDS`."""


def apply_preset() -> None:
    """Set the preset's widgets; keep what they showed before, and the change in words, for
    "Undo preset"."""
    name = st.session_state[f"{KEY}_preset"]
    before = st.session_state.get(f"{KEY}_settings") or PRESETS["Explore"]
    st.session_state[f"{KEY}_undo"] = {
        "preset": st.session_state.get(f"{KEY}_preset_before", "Explore"),
        "values": {k: st.session_state[k] for k in PRESET_WIDGETS if k in st.session_state},
        "text": describe_changes(before, presets.apply_preset(before, name)),
    }
    st.session_state.update(preset_values(name))


def undo_preset() -> None:
    """Put back the widgets (and the preset choice) as they were before the last preset."""
    undo = st.session_state.pop(f"{KEY}_undo")
    st.session_state.update(undo["values"])
    st.session_state[f"{KEY}_preset"] = undo["preset"]


def preset_choice(side) -> None:
    """The preset selectbox, and after a choice what it changed with an undo button."""
    side.selectbox("Preset", list(PRESETS), key=f"{KEY}_preset", on_change=apply_preset)
    st.session_state[f"{KEY}_preset_before"] = st.session_state[f"{KEY}_preset"]
    undo = st.session_state.get(f"{KEY}_undo")
    if undo:
        side.caption(undo["text"])
        side.button("Undo preset", key=f"{KEY}_undo_preset", on_click=undo_preset)


def widget_values(settings: Settings) -> dict:
    """The session-state value of every sidebar widget that shows ``settings`` (clamped to the
    widgets' ranges)."""
    values = {
        f"{KEY}_detectors": list(settings.detectors),
        f"{KEY}_methods": list(settings.cams),
        f"{KEY}_target": settings.target if settings.target in TARGETS else TARGETS[0],
        f"{KEY}_size": widgets.size_label(settings.input_size),
        f"{KEY}_weights": settings.weights,
        f"{KEY}_twins": settings.untrained_twins,
        f"{KEY}_score": min(max(settings.score_threshold, 0.05), 1.0),
        f"{KEY}_type2_weights": settings.type2_weights,
        f"{KEY}_study_range": settings.study_input_range,
        f"{KEY}_working": settings.working_size is not None,
        f"{KEY}_percent": min(max(settings.top_percent, 1.0), 50.0),
        f"{KEY}_ties": settings.ties,
        f"{KEY}_consensus": settings.consensus,
        f"{KEY}_csig": int(min(settings.consensus_sigma, 40)),
    }
    values[f"{KEY}_type2"] = list(settings.type2)
    if settings.sigma is not None:
        values[f"{KEY}_sigma"] = settings.sigma
    return values


def restore_from_url() -> None:
    """Once per session: a link's settings (query parameters) become the sidebar's state, and
    what could not be read is said."""
    if st.session_state.get(f"{KEY}_url_read"):
        return
    st.session_state[f"{KEY}_url_read"] = True
    params = st.query_params.to_dict()
    if not set(params) & set(QUERY_KEYS.values()):
        return
    settings, notes = from_query(params, PRESETS["Explore"])
    st.session_state[f"{KEY}_preset"] = "Explore"
    st.session_state.update(widget_values(settings))
    for note in notes:
        st.warning(note, icon="🔗")


def keep_in_url(settings: Settings) -> None:
    """The view's settings in the URL (only what differs from the defaults; no file paths)."""
    params = {k: v for k, v in st.query_params.to_dict().items() if k not in QUERY_KEYS.values()}
    params |= to_query(settings)
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


def bounded_slider(label: str, low: float, high: float, default: float, key: str) -> float:
    """A sidebar slider whose kept value (from a link or another image) is clamped to its range."""
    if key in st.session_state:
        st.session_state[key] = min(max(float(st.session_state[key]), low), high)
    return st.sidebar.slider(label, low, high, default, key=key)


def sidebar_settings(sample: Sample | None) -> Settings:
    """The sidebar's choices as one :class:`Settings` object (the pipeline's input)."""
    side = st.sidebar
    restore_from_url()
    # first visit, or Streamlit dropped a widget's state (another page, or a widget not drawn in
    # the last run, e.g. the study-range toggle of a weight-free model): reseed only those keys
    st.session_state.setdefault(f"{KEY}_preset", "Explore")
    st.session_state.setdefault(f"{KEY}_type2", list(PRESETS["Explore"].type2))
    for name, value in preset_values(st.session_state[f"{KEY}_preset"]).items():
        st.session_state.setdefault(name, value)
    preset_choice(side)
    side.header("Type-1: detectors × CAMs")
    detectors = side.multiselect("Detectors", list(DETECTORS), key=f"{KEY}_detectors")
    methods = side.multiselect(
        "CAM methods",
        list(CAM_METHODS),
        key=f"{KEY}_methods",
        help="\n".join(f"- **{m.name}** ({m.cost}): {m.description}" for m in CAM_METHODS.values()),
    )
    target = side.radio("Target layer", list(TARGETS), key=f"{KEY}_target")
    size = widgets.input_size(f"{KEY}_size", side)
    with side:
        weights = widgets.detector_weights(KEY, detectors)
    score = side.slider("Detection score threshold", 0.05, 1.0, step=0.05, key=f"{KEY}_score")
    side.header("Type-2: where people look")
    type2_names = side.multiselect(
        "Models",
        list(gaze.TYPE2_MODELS),
        key=f"{KEY}_type2",
        help="Several at once: each is a map compared with the references, and each model "
        "with a reference entry (e.g. DeepGaze IIE) is a reference too.",
    )
    type2_source, type2_path, study_range = WeightSource.UNTRAINED, None, False
    if any(gaze.TYPE2_MODELS[name].needs_weights for name in type2_names):
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
    ties = side.selectbox(
        "Top-p% ties",
        list(TIES),
        format_func=TIE_LABELS.get,
        key=f"{KEY}_ties",
        help="A map with many equal values (e.g. a ReLU'd gradient CAM, mostly 0) can have more "
        "than p% of its pixels at the cut value. 'never more than p%' then takes only the "
        "pixels above it; the study's rule (map >= percentile) takes them all.",
    )
    references = [*map(reference_key_for_model, type2_names), "fixations", "mask"]
    sigma = None
    if sample is not None and sample.fixations is not None and len(sample.fixations):
        shape = (512, 512) if working else sample.shape
        default = round(fixations.default_sigma(shape), 1)
        sigma = bounded_slider(
            "Fixation density sigma (px)", 1.0, 4 * default, default, f"{KEY}_sigma"
        )
    consensus, consensus_sigma = False, 0.0
    if len(detectors) * len(methods) * (2 if weights.untrained_twins else 1) >= 2:
        consensus = side.toggle("Consensus of the CAMs", key=f"{KEY}_consensus")
        if consensus:
            consensus_sigma = side.slider(
                "Consensus smoothing sigma (px)", 0, 40, 0, key=f"{KEY}_csig"
            )
    settings = Settings(
        detectors=tuple(detectors),
        weights=weights.source,
        weights_files=weights.files,
        untrained_twins=weights.untrained_twins,
        input_size=size,
        cams=tuple(methods),
        target=target,
        score_threshold=score,
        type2=tuple(type2_names),
        type2_weights=type2_source,
        type2_weights_file=type2_path or None,
        study_input_range=study_range,
        references=tuple(key for key in references if key),
        top_percent=st.session_state[f"{KEY}_percent"],
        ties=ties,
        sigma=sigma,
        working_size=512 if working else None,
        consensus=consensus,
        consensus_sigma=float(consensus_sigma),
    )
    st.session_state[f"{KEY}_settings"] = settings
    return settings


def compute(sample: Sample, settings: Settings) -> analysis.Bundle:
    """The pipeline's bundle, through the app's caches, with a progress bar; failures are shown
    as messages and the other maps go on."""
    progress = st.progress(0.0, text="Computing maps…")

    def advance(done: int, total: int, label: str) -> None:
        progress.progress(done / max(total, 1), text=f"{label} ({done + 1}/{total})")

    bundle = analysis.compute_bundle(
        sample,
        settings,
        cached.FUNCTIONS,
        progress=advance,
        on_error=lambda what, e: report(e, what),
    )
    progress.empty()
    return bundle


def show_notes(notes: list[str]) -> None:
    """What the page wants said but that does not block the view, folded into one expander."""
    if notes:
        with st.expander(f"Notes ({len(notes)})", expanded=False):
            for note in notes:
                st.caption(f"ℹ️ {note}")


def overview_panels(
    bundle: analysis.Bundle, show_fixations: bool, score: float
) -> list[tuple[str, np.ndarray]]:
    image = bundle.sample.image
    panels = []
    for label, detections in bundle.detections.items():
        kept = detections.above(score)
        title = f"{label}: {len(kept)} detections ≥ {score:.2f}"
        panels.append((title, viz.draw_detections(image, kept)))
    for label, entry in bundle.maps.items():
        panels.append((label, viz.overlay(image, entry.values, colormap=MAP_COLORMAP)))
    for reference in bundle.references.values():
        if reference.label in bundle.maps:
            continue
        picture = viz.overlay(image, reference.values, colormap=REFERENCE_COLORMAP)
        if show_fixations and bundle.sample.fixations is not None:
            picture = viz.draw_fixations(picture, bundle.sample.fixations)
        panels.append((reference.label, picture))
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
    st.dataframe(summary.styled(), width="stretch")
    for note in summary.notes:
        st.caption(f"{agreement.NOT_AVAILABLE} — {note}")


@st.cache_data(max_entries=128, show_spinner=False)
def threshold_free_tables(key: str, _bundle: analysis.Bundle) -> pd.DataFrame:
    """MAE/CC/SIM/KLD and the fixation metrics; ``key`` (``cached.bundle_key``) names the inputs."""
    return analysis.threshold_free_table(_bundle)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_curves(key: str, reference: str, ties: str, _maps: dict, _reference) -> pd.DataFrame:
    return agreement.iou_curves(_maps, _reference, reference_name=reference, ties=ties)


def shares_caption(ranked: dict, percent: float, ties: str) -> str:
    """The share of pixels each top-p% mask actually holds, and the maps flagged for ties."""
    parts, flags = [], []
    for name, values in ranked.items():
        selection = values.selection(percent, ties)
        parts.append(f"{name}: {100 * selection.share:.1f}%")
        if selection.flag:
            flags.append(f"{name} — {selection.flag}")
    text = f"Share of pixels actually selected at top {percent:g}%: " + "; ".join(parts) + "."
    return text + ("" if not flags else " ⚠️ " + "; ".join(flags) + ".")


@st.fragment
def agreement_view(bundle: analysis.Bundle) -> None:
    """Everything the top-p% slider changes; reruns alone when it moves (no model runs).

    A fragment rerun does not pass through ``main``'s guard, so it carries its own.
    """
    try:
        agreement_body(bundle)
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, "The agreement view")


def agreement_body(bundle: analysis.Bundle) -> None:
    sample = bundle.sample
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
    panels = overview_panels(bundle, show_fixations, bundle.settings.score_threshold)
    show_grid(panels)
    if not bundle.references:
        st.info("No reference map: add a type-2 model, a mask or fixations to compare against.")
        return
    key = cached.bundle_key(bundle)
    arrays = {**bundle.values, **bundle.reference_values}
    ranked = {name: cached.ranked(f"{key}|{name}", values) for name, values in arrays.items()}
    maps_ranked = {name: ranked[name] for name in bundle.maps}
    refs_ranked = {ref.label: ranked[ref.label] for ref in bundle.references.values()}
    reference = st.radio("Agreement view against", list(refs_ranked), horizontal=True)
    paint = cached.painter(sample.key, sample.image)
    ties = bundle.settings.ties
    view = agreement.threshold_view(paint, maps_ranked, refs_ranked, reference, percent, ties)
    st.subheader(f"Top {percent:g}% agreement with {reference}")
    st.caption("Yellow: both maps · red: the map only · blue: the reference only.")
    agreement_panels = [(f"{name} vs {reference}", pic) for name, pic in view.pictures.items()]
    show_grid(agreement_panels)
    long = pd.concat([view.iou, threshold_free_tables(key, bundle)], ignore_index=True)
    against_maps = long[long["reference"] != "fixations"]
    if not against_maps.empty:
        st.subheader("Map vs. reference")
        st.caption("MAE and KLD: lower is better; IoU, CC, SIM: higher is better.")
        format_table(against_maps)
        st.caption(shares_caption(ranked, percent, ties))
    if (long["reference"] == "fixations").any():
        st.subheader("Map vs. recorded fixations")
        st.caption(
            f"Higher is better. IG is relative to the centre bias ({bundle.baseline_label})."
        )
        format_table(long[long["reference"] == "fixations"])
    curves = cached_curves(key, reference, ties, maps_ranked, refs_ranked[reference])
    if not curves.empty:
        st.plotly_chart(viz.iou_curve_figure(curves, reference, percent), width="stretch")
    table = analysis.describe(long.assign(top_percent=percent), bundle)
    table = table.assign(**analysis.reproduction_columns(bundle))
    title = f"{sample.id} · top {percent:g}% of pixels vs {reference} · ties: {TIE_LABELS[ties]}"
    export(panels + agreement_panels, table, sample.id, title)


def export(panels, table: pd.DataFrame, stem: str, title: str) -> None:
    left, right = st.columns(2)
    with guarded("Preparing the PNG export"):
        grid = viz.grid_figure(panels, title=title, legend=True, colorbars=OVERLAY_COLOURS)
        left.download_button(
            "Download the grid (PNG)",
            viz.png_bytes(grid),
            file_name=safe_filename(f"{stem}_saliency_grid.png"),
            mime="image/png",
        )
    if table.empty:
        right.caption("No metric to export: no map has a reference to compare with.")
        return
    right.download_button(
        "Download the metrics (CSV)",
        analysis.csv_text(table),
        file_name=safe_filename(f"{stem}_metrics.csv"),
        mime="text/csv",
    )


def main() -> None:
    frame("Explore")
    st.title("Explore")
    st.caption(
        "What detectors look at (CAMs) next to where people look (DeepGaze IIE, fixations, masks)."
    )
    sample = widgets.image_picker(KEY)
    settings = sidebar_settings(sample)
    keep_in_url(settings)
    if sample is None:
        st.info("Pick a dataset image or upload one in the sidebar.")
        return
    if st.session_state[f"{KEY}_preset"] == "Reproduce the study":
        with st.expander("What the study preset does", expanded=False):
            for note in STUDY_NOTES:
                st.markdown(f"- {note}")
    sample = analysis.prepare_sample(sample, settings)
    st.caption(f"{sample.source} · {sample.id} · {sample.shape[1]}×{sample.shape[0]} px")
    bundle = compute(sample, settings)
    causes = analysis.why_empty(bundle)
    if causes:
        st.warning(
            "Nothing to show: no map could be computed.\n"
            + "\n".join(f"- {cause}" for cause in causes)
        )
        return
    show_notes([*analysis.unchosen(settings), *bundle.skipped, *bundle.notes])
    agreement_view(bundle)
    finegrained_section(bundle)


try:
    main()
except Exception as error:  # noqa: BLE001 - the app never shows a traceback
    report(error, "The Explore page")
