"""Explore: detector CAMs next to DeepGaze IIE and human attention, with agreement metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core import pipeline, viz
from saliency_core.data import fixations
from saliency_core.data.images import Sample
from saliency_core.maps.references import reference_key_for_model
from saliency_core.models import gaze
from saliency_core.models.detector_spec import COCO_CATEGORIES
from saliency_core.scoring import agreement
from saliency_core.settings import QUERY_KEYS, Settings, from_query, to_query
from saliency_core.study import TIE_POLICIES
from ui import (
    address,
    cached,
    classifier_view,
    experiments,
    finegrained,
    grid_export,
    live_component,
    live_threshold,
    matrix,
    presets,
    progress,
    settings_form,
    sliders,
    tables,
    widgets,
)
from ui import panels as panel_cache
from ui.compute_job import ComputeJob
from ui.errors import report
from ui.notes import unchosen_notes, why_empty
from ui.presets import PAGE_PRESETS, STUDY_NOTES, describe_changes

KEY = "explore"
FORM = settings_form.FormKeys(KEY, {"cams": "methods"})
JOB = f"{KEY}_compute_job"
POLL_S = 0.25  # how often a running computation's progress is redrawn (seconds)
DEFAULTS = Settings()
TIE_LABELS = {"no-overshoot": "never more than p% (default)", "include": "include ties (study)"}


def preset_values(name: str) -> dict:
    """The session-state value of every widget the preset ``name`` sets."""
    shown = widget_values(PAGE_PRESETS[name])
    return {key: shown[key] for key in PRESET_WIDGETS}


# The widgets that show `ui.presets.PRESET_FIELDS`.
PRESET_WIDGETS = tuple(
    f"{KEY}_{name}"
    for name in ("detectors", "methods", "target", "score", "working", "study_range", "percent")
) + (f"{KEY}_ties",)


def apply_preset() -> None:
    """Set the preset's widgets; keep what they showed before, and the change in words, for
    "Undo preset"."""
    name = st.session_state[f"{KEY}_preset"]
    before = st.session_state.get(f"{KEY}_settings") or PAGE_PRESETS["Explore"]
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
    side.selectbox("Preset", list(PAGE_PRESETS), key=f"{KEY}_preset", on_change=apply_preset)
    st.session_state[f"{KEY}_preset_before"] = st.session_state[f"{KEY}_preset"]
    undo = st.session_state.get(f"{KEY}_undo")
    if undo:
        side.caption(undo["text"])
        side.button("Undo preset", key=f"{KEY}_undo_preset", on_click=undo_preset)


def widget_values(settings: Settings) -> dict:
    """The session-state value of every sidebar widget that shows ``settings`` (clamped to the
    widgets' ranges)."""
    values = settings_form.widget_values(FORM, settings) | {
        f"{KEY}_score": sliders.on_slider("score_threshold", settings.score_threshold),
        f"{KEY}_percent": sliders.on_slider("top_percent", settings.top_percent),
        f"{KEY}_ties": settings.ties,
        f"{KEY}_consensus": settings.consensus,
        f"{KEY}_csig": sliders.on_slider("consensus_sigma", settings.consensus_sigma),
        f"{KEY}_explain": "all",
    }
    if settings.explain_detection is not None:
        values[f"{KEY}_explain"] = "detection"
        values[f"{KEY}_explain_rank"] = settings.explain_detection
    if settings.explain_class is not None:
        values[f"{KEY}_explain"] = "class"
        values[f"{KEY}_explain_class"] = settings.explain_class
    values[f"{KEY}_type2"] = list(settings.type2)
    values |= classifier_view.widget_values(KEY, settings)
    values[widgets.user_key(f"{KEY}_sigma")] = settings.sigma  # None: follows the image
    return values


# The controls outside `Settings` that change the view (query key -> widget).
VIEW_PARAMS = {
    "fix": address.ViewParam(f"{KEY}_show_fix", True),
    "vs": address.ViewParam(f"{KEY}_against"),
    **finegrained.VIEW_PARAMS,
}
# `Settings` fields shown by a widget inside a fragment: a fragment's rerun moves the widget, not
# the settings the main script built.
FRAGMENT_FIELDS = {"top_percent": f"{KEY}_percent"}
ADDRESS_KEYS = (*widgets.SOURCE_PARAMS, *QUERY_KEYS.values(), *VIEW_PARAMS)


def restore_from_url(link: dict[str, str]) -> None:
    """A link's settings and view controls (query parameters) become the page's state, and what
    could not be read is said."""
    if not set(link) & {*QUERY_KEYS.values(), *VIEW_PARAMS}:
        return
    settings, notes = from_query(link, PAGE_PRESETS["Explore"])
    settings, confined = experiments.confine_finetuned(settings)
    notes += confined + sliders.off_slider_notes(settings)
    for name in settings.type2:
        gaze.TYPE2_MODELS[name]  # a linked readout joins the picker's options (registered)
    st.session_state[f"{KEY}_preset"] = "Explore"
    st.session_state.update(widget_values(settings))
    for note in notes + address.restore_view(VIEW_PARAMS, link):
        st.warning(note, icon=":material/link:")


def keep_in_url() -> None:
    """The whole view in the address: the image source, the settings (only what differs from
    the defaults; no file paths) and the view controls. Called after the sidebar and at the end
    of every fragment's run (see ``ui.address``)."""
    settings: Settings | None = st.session_state.get(f"{KEY}_settings")
    if settings is None:
        return
    moved = {name: st.session_state[key] for name, key in FRAGMENT_FIELDS.items()}
    params = to_query(replace(settings, **moved)) | address.view_params(VIEW_PARAMS)
    address.write(widgets.source_params(KEY) | params, ADDRESS_KEYS)


finegrained_section = address.fragment(keep_in_url)(finegrained.section)
"""The finer-grained expander: a fragment whose controls are in the address too."""

EXPLAIN_MODES = {
    "all": "all detections ≥ the score threshold",
    "detection": "one detection",
    "class": "one class",
}
# How many detection ranks the "one detection" choice lists (more when a link asks for one).
RANKS_OFFERED = 20
CLASS_NAMES = [name for name in COCO_CATEGORIES if name not in ("__background__", "N/A")]


def explain_choice(side) -> tuple[int | None, str | None]:
    """The "Explain" widgets: (rank of one detection, one class); (None, None) for all.

    Once detections are known (the last computed image), ranks are listed with their label and
    score, and the detected classes come first.
    """
    mode = side.radio(
        "Explain (detectors)",
        list(EXPLAIN_MODES),
        format_func=EXPLAIN_MODES.get,
        key=f"{KEY}_explain",
        help="What gradient and perturbation CAMs explain (their target); the explained boxes "
        "are drawn thicker. EigenCAM is class-agnostic and ignores it.",
    )
    known = st.session_state.get(f"{KEY}_known") or {"detector": "", "items": []}
    items = known["items"]
    if mode == "detection":
        current = st.session_state.get(f"{KEY}_explain_rank", 0)
        ranks = range(max(RANKS_OFFERED, len(items), current + 1))

        def label(rank: int) -> str:
            if rank < len(items):
                return f"#{rank + 1}: {items[rank][0]} {items[rank][1]:.2f}"
            return f"#{rank + 1}"

        rank = side.selectbox(
            "Detection (by score)", ranks, format_func=label, key=f"{KEY}_explain_rank"
        )
        if known["detector"]:
            side.caption(f"Ranks of {known['detector']}'s detections on this image.")
        return rank, None
    if mode == "class":
        names = list(dict.fromkeys([name for name, _ in items] + CLASS_NAMES))
        current = st.session_state.get(f"{KEY}_explain_class")
        if current and current not in names:
            names.append(current)
        return None, side.selectbox("Class", names, key=f"{KEY}_explain_class")
    return None, None


def remember_detections(bundle: pipeline.Bundle) -> None:
    """The first detector's detections by decreasing score (label, score): the "one detection"
    choice lists them."""
    for label, found in bundle.detections.items():
        order = np.argsort(-found.scores, kind="stable")[: max(RANKS_OFFERED, 1)]
        items = [(found.names[k], float(found.scores[k])) for k in order]
        st.session_state[f"{KEY}_known"] = {"detector": label, "items": items}
        return


def readout_picker(side) -> None:
    """A trained readout (``saliency readout``'s file or run folder) joins the type-2 models."""
    path = side.text_input(
        "Trained readout (file or run folder)",
        key=f"{KEY}_readout",
        help="Made by `saliency readout`, under the results or dataset folders; it is then "
        "listed and chosen under Models.",
    ).strip()
    if not path:
        return
    if not gaze.is_readout(path):
        side.error(
            f"{path} is not a trained readout file or run folder under the results or dataset "
            "folders (no readout.pt there, or outside them)."
        )
        return
    gaze.TYPE2_MODELS[path]  # registers it
    chosen = st.session_state[f"{KEY}_type2"]
    if path not in chosen:
        st.session_state[f"{KEY}_type2"] = [*chosen, path]


def sidebar_settings(sample: Sample | None) -> Settings:
    """The sidebar's choices as one :class:`Settings` object (the pipeline's input)."""
    side = st.sidebar
    # first visit, or Streamlit dropped a widget's state (another page, or a widget not drawn in
    # the last run, e.g. the study-range toggle of a weight-free model): reseed only those keys
    st.session_state.setdefault(f"{KEY}_preset", "Explore")
    st.session_state.setdefault(f"{KEY}_type2", list(PAGE_PRESETS["Explore"].type2))
    for name, value in preset_values(st.session_state[f"{KEY}_preset"]).items():
        st.session_state.setdefault(name, value)
    preset_choice(side)
    side.header("Type-1: detectors × CAMs")
    chosen = settings_form.detector_section(FORM, side)
    score = side.slider(
        "Detection score threshold", **sliders.slider_range("score_threshold"), key=f"{KEY}_score"
    )
    classifier_choices = classifier_view.sidebar(KEY)
    explain_detection, explain_class = explain_choice(side)
    side.header("Type-2: where people look")
    readout_picker(side)
    type2_names = side.multiselect(
        "Models",
        list(gaze.TYPE2_MODELS),
        format_func=gaze.type2_display_name,
        key=f"{KEY}_type2",
        help="Several at once: each is a map compared with the references, and each model "
        "with a reference entry (e.g. DeepGaze IIE) is a reference too.",
    )
    type2 = settings_form.Type2Weights()
    if any(gaze.TYPE2_MODELS[name].needs_weights for name in type2_names):
        type2 = settings_form.type2_weights(FORM, side)
    working = settings_form.working_size(FORM, side)
    ties = side.selectbox(
        "Top-p% ties",
        list(TIE_POLICIES),
        format_func=TIE_LABELS.get,
        key=f"{KEY}_ties",
        help="A map with many equal values (e.g. a ReLU'd gradient CAM, mostly 0) can have more "
        "than p% of its pixels at the cut value. 'never more than p%' then takes only the "
        "pixels above it; the study's rule (map >= percentile) takes them all.",
    )
    references = [*map(reference_key_for_model, type2_names), "fixations", "mask"]
    sigma = None
    if sample is not None and sample.fixations is not None and len(sample.fixations):
        shape = (working, working) if working else sample.shape
        default = round(fixations.default_sigma(shape), 1)
        sigma = widgets.derived_slider(
            side, "Fixation density sigma (px)", 1.0, 4 * default, default, f"{KEY}_sigma"
        )
    consensus, consensus_sigma = False, 0.0
    if len(chosen.detectors) * len(chosen.cams) * (2 if chosen.untrained_twins else 1) >= 2:
        consensus = side.toggle("Consensus of the CAMs", key=f"{KEY}_consensus")
        if consensus:
            consensus_sigma = side.slider(
                "Consensus smoothing sigma (px)",
                **sliders.slider_range("consensus_sigma"),
                key=f"{KEY}_csig",
            )
    settings = Settings(
        **chosen.settings_fields(),
        score_threshold=score,
        type2=tuple(type2_names),
        **type2.settings_fields(),
        references=tuple(key for key in references if key),
        top_percent=st.session_state[f"{KEY}_percent"],
        ties=ties,
        sigma=sigma,
        working_size=working,
        consensus=consensus,
        consensus_sigma=float(consensus_sigma),
        explain_detection=explain_detection,
        explain_class=explain_class,
    )
    settings = classifier_view.with_classifiers(settings, classifier_choices)
    st.session_state[f"{KEY}_settings"] = settings
    return settings


def job_key(sample: Sample, settings: Settings) -> tuple[str, str]:
    """What a computation depends on: the image and the settings but the top-p% and its ties
    (the agreement view applies those to a finished bundle)."""
    maps_only = replace(settings, top_percent=DEFAULTS.top_percent, ties=DEFAULTS.ties)
    return sample.key, repr(maps_only)


def follow(job: ComputeJob) -> None:
    """While ``job`` runs: the running step with its ETA, a Stop button and the maps done so far.
    A widget moved meanwhile interrupts this wait (the job goes on, or is stopped when the new
    view needs other maps)."""
    status, stop, grid = st.empty(), st.empty(), st.empty()
    stop.button("Stop", key=f"{KEY}_stop", on_click=job.stop, help="Keep the maps done so far.")
    shown = 0
    while not job.wait(POLL_S):
        snapshot = job.snapshot()
        text = snapshot.text()
        if job.cancel.is_set():
            text = f"Stopping after the current step — {text}"
        status.progress(snapshot.done / max(snapshot.total, 1), text=text)
        if snapshot.partial is not None and snapshot.done != shown:
            shown = snapshot.done
            show_fixations = st.session_state.get(f"{KEY}_show_fix", True)
            with grid.container():
                show_overview(snapshot.partial, show_fixations)
    for slot in (status, stop, grid):
        slot.empty()


def compute(sample: Sample, settings: Settings) -> pipeline.Bundle:
    """The pipeline's bundle, through the app's caches, in a background job: cheap maps first,
    each step named with its ETA, a Stop button; failures are shown as messages and the other
    maps go on. A stopped job's partial bundle is returned with a note."""
    key = job_key(sample, settings)
    job: ComputeJob | None = st.session_state.get(JOB)
    if job is None or job.key != key:
        if job is not None:
            job.stop()
        # downloads here, with a bar (the job's thread draws none); a failure is left to the
        # step that needs the weights: it fails with the same message, reported once
        progress.fetch_weights(settings, downloads_only=True, keep_going=True)
        job = st.session_state[JOB] = ComputeJob(key, sample, settings)
    if job.running:
        follow(job)
    if job.error is not None:
        raise job.error
    outcome = job.result
    for label, error in outcome.errors:
        report(error, label)
    if outcome.stopped:
        st.info(f"{outcome.note}: the others were not computed.", icon=":material/stop:")
        st.button("Compute the remaining maps", key=f"{KEY}_resume", on_click=forget_job)
    return replace(outcome.bundle, settings=settings)


def forget_job() -> None:
    st.session_state.pop(JOB, None)


def show_notes(notes: list[str]) -> None:
    """What the page wants said but that does not block the view, folded into one expander."""
    if notes:
        with st.expander(f"Notes ({len(notes)})", expanded=False):
            for note in notes:
                st.caption(f"ℹ️ {note}")


def show_rows(rows: list[matrix.Row], jpeg: Callable[[matrix.Cell], bytes], columns: int) -> None:
    """Matrix rows: the row's title, then one picture per column (every row as wide)."""
    for row in rows:
        st.markdown(f"**{row.title}**")
        for column, cell in zip(st.columns(columns), row.cells, strict=False):
            if cell is None:
                continue
            if cell.kind == matrix.MISSING:
                column.caption(cell.title)
            else:
                column.image(jpeg(cell), caption=cell.title, width="stretch")


def show_overview(
    bundle: pipeline.Bundle, show_fixations: bool, key: str | None = None
) -> list[matrix.Row]:
    """The overview matrix (each panel painted and encoded once per content); its rows.
    ``key``: ``cached.bundle_key(bundle)`` when the caller has it."""
    rows, key = matrix.overview_rows(bundle), key or cached.bundle_key(bundle)

    def jpeg(cell: matrix.Cell) -> bytes:
        inputs = panel_cache.overview_args(key, bundle, cell, show_fixations)
        return panel_cache.overview_jpeg(*inputs)

    show_rows(rows, jpeg, matrix.width(rows))
    return rows


def format_table(long: pd.DataFrame) -> None:
    summary = agreement.widen(long)
    if summary.table.empty:
        return
    tables.show(summary.table, width="stretch")
    for note in summary.notes:
        st.caption(f"{tables.NOT_AVAILABLE} — {note}")


@st.cache_data(max_entries=128, show_spinner=False)
def threshold_free_tables(key: str, _bundle: pipeline.Bundle) -> pd.DataFrame:
    """MAE/CC/SIM/KLD and the fixation metrics; ``key`` (``cached.bundle_key``) names the inputs."""
    return pipeline.threshold_free_table(_bundle)


@st.cache_data(max_entries=128, show_spinner=False)
def curve_figure(key: str, reference: str, ties: str, _maps: dict, _reference) -> dict | None:
    """The IoU curves' figure without its marker (``viz.marked`` adds the slider's p, so a
    release does not build the figure again); None when no map has a curve."""
    curves = agreement.iou_curves(_maps, _reference, reference_name=reference, ties=ties)
    return None if curves.empty else viz.iou_curve_figure(curves, reference).to_dict()


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


@address.fragment(keep_in_url)
def agreement_view(bundle: pipeline.Bundle, key: str) -> None:
    """The overview and, below it, the agreement view (:func:`threshold_view`); reruns alone
    when the fixation toggle moves (no model runs). ``key``: ``cached.bundle_key(bundle)``,
    taken once per full run (hashing every map).

    A fragment rerun does not pass through ``main``'s guard, so it carries its own.
    """
    try:
        st.session_state.setdefault(f"{KEY}_show_fix", True)
        show_fixations = bundle.sample.fixations is not None and st.toggle(
            "Show fixation points", key=f"{KEY}_show_fix"
        )
        rows = show_overview(bundle, show_fixations, key)
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, "The overview")
        return
    if not bundle.references:
        live_component.keep_percent(f"{KEY}_percent")
        st.info("No reference map: add a type-2 model, a mask or fixations to compare against.")
        return
    threshold_view(bundle, key, rows, show_fixations)


@address.fragment(keep_in_url)
def threshold_view(
    bundle: pipeline.Bundle, key: str, rows: list[matrix.Row], show_fixations: bool
) -> None:
    """Everything the top-p% slider and the reference change; reruns alone when they move
    (the overview above stays as it is: a live slider's release redraws only this)."""
    try:
        threshold_body(bundle, key, rows, show_fixations)
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, "The agreement view")


def threshold_body(
    bundle: pipeline.Bundle, key: str, rows: list[matrix.Row], show_fixations: bool
) -> None:
    sample = bundle.sample
    arrays = {**bundle.values, **bundle.reference_values}
    ranked = {name: cached.ranked(f"{key}|{name}", values) for name, values in arrays.items()}
    maps_ranked = {name: ranked[name] for name in bundle.maps}
    refs_ranked = {ref.label: ranked[ref.label] for ref in bundle.references.values()}
    against = st.session_state.get(f"{KEY}_against")
    if against is not None and against not in refs_ranked:  # a link's, or a removed reference
        st.warning(
            f"The agreement reference “{against}” is not among this view's references "
            f"({', '.join(refs_ranked)}): showing {next(iter(refs_ranked))}.",
            icon=":material/link:",
        )
        del st.session_state[f"{KEY}_against"]
    reference = st.radio(
        "Agreement view against", list(refs_ranked), horizontal=True, key=f"{KEY}_against"
    )
    off = live_component.off_reason(KEY, sample.image.shape, len(arrays))
    live = off is None and live_component.ready(KEY)
    if live:
        percent = live_component.keep_percent(f"{KEY}_percent")
    else:
        percent = st.slider(
            "Top-p% of pixels (study: 10%, its 90th-percentile cut)",
            **sliders.slider_range("top_percent"),
            key=f"{KEY}_percent",
        )
        st.caption(
            f"Live slider off — {off}: the view updates when the slider is released."
            if off
            else live_component.STARTING
        )
    columns = matrix.width(rows)
    paint = cached.painter(sample.key, sample.image)
    ties = bundle.settings.ties
    view = matrix.threshold_view(paint, maps_ranked, refs_ranked, reference, percent, ties)
    agreement_rows = matrix.agreement_rows(rows, reference, percent, view.constant)
    if off is None:  # the browser draws them (or, until it says it can, only keeps the maps)
        control = live_threshold.Control(
            percent,
            reference,
            ties,
            live_threshold.control_rows(agreement_rows, percent, reference),
            columns,
            live,
        )
        data = live_component.payload(key, sample.image, ranked)
        live_component.show(KEY, f"{KEY}_percent", data, control)
    if not live:
        st.subheader(f"Top {percent:g}% agreement with {reference}")
        st.caption("Yellow: both maps · red: the map only · blue: the reference only.")
        shown = (reference, percent, ties)
        show_rows(
            agreement_rows,
            lambda cell: panel_cache.agreement_jpeg(
                key, cell, shown, partial(view.picture, cell.key)
            ),
            columns,
        )
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
    curves = curve_figure(key, reference, ties, maps_ranked, refs_ranked[reference])
    if curves is not None:
        st.plotly_chart(viz.marked(curves, percent), width="stretch")
    title = f"{sample.id} · top {percent:g}% of pixels vs {reference} · ties: {TIE_LABELS[ties]}"
    panels = partial(grid_export.grid_rows, key, bundle, show_fixations, rows, agreement_rows, view)
    csv = None if long.empty else partial(grid_export.metrics_csv, long, percent, bundle)
    grid_export.downloads(panels, csv, sample.id, title)


def main() -> None:
    st.title("Explore")
    st.caption(
        "What detectors look at (CAMs) next to where people look (DeepGaze IIE, fixations, masks)."
    )
    link = address.incoming()
    sample = widgets.image_picker(KEY, link)
    restore_from_url(link)
    settings = sidebar_settings(sample)
    keep_in_url()
    if sample is None:
        st.info("Pick a dataset image or upload one in the sidebar.")
        return
    if st.session_state[f"{KEY}_preset"] == "Reproduce the study":
        with st.expander("What the study preset does", expanded=False):
            for note in STUDY_NOTES:
                st.markdown(f"- {note}")
    sample = pipeline.prepare_sample(sample, settings)
    st.caption(f"{sample.source} · {sample.id} · {sample.shape[1]}×{sample.shape[0]} px")
    bundle = compute(sample, settings)
    causes = why_empty(bundle)
    if causes:
        st.warning(
            "Nothing to show: no map could be computed.\n"
            + "\n".join(f"- {cause}" for cause in causes)
        )
        return
    remember_detections(bundle)
    show_notes([*unchosen_notes(settings), *bundle.skipped, *bundle.notes])
    agreement_view(bundle, cached.bundle_key(bundle))
    classifier_view.classifier_section(bundle)
    finegrained_section(bundle)


main()
