"""Augment: the study's selective erasing and inpainting, step by step, on one image."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from saliency_core import viz
from saliency_core.augment import (
    FILLS,
    KERNELS,
    METHODS,
    PRESETS,
    EraseRule,
    EraseSettings,
    RuleDecision,
    augment_sample,
)
from saliency_core.augment.dip import (
    CPU_BUDGET_S,
    CPU_SECONDS_PER_ITERATION,
    CPU_SECONDS_PER_MEGAPIXEL,
    STUDY_ITERATIONS,
    default_iterations,
)
from saliency_core.augment.rule import COMPARATORS, RULE_METRICS
from saliency_core.augment.working_size import default_max_side, working_shape
from saliency_core.data import fixations
from saliency_core.data.filenames import safe_filename
from saliency_core.data.images import Sample, image_hash
from saliency_core.maps.cams import CAM_METHODS, CamResult
from saliency_core.maps.references import (
    REFERENCES,
    ReferenceMap,
    build_reference,
    predicted_reference,
)
from saliency_core.models.cache import default_device
from saliency_core.models.detectors import DETECTORS, pretrained_path
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.settings import LIST_SEPARATOR
from saliency_core.study import ERASE_PERCENT, SCORE_THRESHOLD
from ui import address, cached, policy_preview, widgets
from ui.augment_jobs import InpaintJob, format_duration, progress_text
from ui.errors import guarded, report
from ui.progress import fetch_deepgaze, fetch_detector

KEY = "augment"
JOB = f"{KEY}_dip_job"
ITERATIVE = "Deep Image Prior"
POLL_SECONDS = 1.0  # how often a running Deep Image Prior is polled
WORKING_SIDES = (128, 256, 384, 512, 768, 1024, 2048)
"""Working sizes offered (longer side, px), besides the device's default."""
PREVIEW_EVERY = 10


@dataclass(frozen=True)
class Erased:
    """The erase mask, the erased image, and a caption naming where they come from."""

    mask: np.ndarray
    image: np.ndarray
    caption: str
    tag: str


FROM_EXPLORE = {
    "explore_dataset": f"{KEY}_dataset",
    "explore_image": f"{KEY}_image",
    "explore_size": f"{KEY}_size",
    "explore_weights": f"{KEY}_weights",
}
"""Explore's session keys -> this page's: the view this page starts from."""


def follow_explore() -> None:
    """Start from the Explore page's dataset image, first detector, input size and weight
    source (else the link's ``det`` parameter): each copied when it changed there since the
    last copy, so choices made on this page stay until Explore's view changes. An uploaded
    image stays on Explore (uploads are per page)."""
    state = st.session_state
    values = {mine: state[theirs] for theirs, mine in FROM_EXPLORE.items() if theirs in state}
    if state.get("explore_source") == "Upload":
        for key in (f"{KEY}_dataset", f"{KEY}_image"):
            values.pop(key, None)
    linked = st.query_params.get("det", "").split(LIST_SEPARATOR)
    detector = next(iter(state.get("explore_detectors") or linked), None)
    if detector in DETECTORS:
        values[f"{KEY}_detector"] = detector
        path = state.get(f"explore_path_{detector}")
        if path:
            values[f"{KEY}_weights_path"] = path
    seen = state.get(f"{KEY}_followed", {})
    changed = {key: value for key, value in values.items() if seen.get(key) != value}
    if not changed:  # Streamlit drops Explore's widget keys after a run elsewhere: kept as seen
        return
    state[f"{KEY}_followed"] = {**seen, **changed}
    if f"{KEY}_image" in changed:
        state[f"{KEY}_source"] = "Dataset"
    state.update(changed)


def detector_settings() -> tuple[ModelChoice, str] | None:
    """Sidebar: detector, weight source (and file), input size and CAM method."""
    side = st.sidebar
    side.header("Detector and CAM")
    name = side.selectbox("Detector", list(DETECTORS), key=f"{KEY}_detector")
    with side:
        source = widgets.weight_source(f"{KEY}_weights")
    path = None
    if source is WeightSource.FILE:
        path = side.text_input("State-dict file", key=f"{KEY}_weights_path") or None
        if path is None:
            st.info("Enter the path of a state-dict file in the sidebar to run the detector.")
            return None
    elif source is WeightSource.PRETRAINED and not pretrained_path(DETECTORS[name]).exists():
        side.caption(f"`{DETECTORS[name].checkpoint_name}` is downloaded on first use.")
    size = widgets.input_size(f"{KEY}_size", side)
    method = side.selectbox(
        "CAM method",
        list(CAM_METHODS),
        key=f"{KEY}_cam",
        help="\n".join(f"- **{m.name}** ({m.cost}): {m.description}" for m in CAM_METHODS.values()),
    )
    return ModelChoice(name, source, path, size), method


REFERENCE_CHOICES = {
    "DeepGaze IIE": "deepgaze",
    "Human fixation density": "fixations",
    "Human attention mask": "mask",
}
"""The radio's labels -> keys of :data:`saliency_core.maps.references.REFERENCES`."""


def deepgaze(sample: Sample) -> ReferenceMap:
    """Sidebar: DeepGaze IIE's weights; its map through the app's cache."""
    with st.sidebar:
        source = widgets.weight_source(f"{KEY}_gaze_weights", "DeepGaze weights", "MIT1003")
    path = None
    if source is WeightSource.FILE:
        path = st.sidebar.text_input("DeepGaze checkpoint file", key=f"{KEY}_gaze_path") or None
    fetch_deepgaze(source)
    predicted = cached.type2(sample.key, sample.image, "DeepGaze IIE", source.value, path, False)
    return predicted_reference("DeepGaze IIE", predicted)


def reference_map(sample: Sample) -> ReferenceMap:
    """Sidebar: the human reference among those the sample has, built by the registry."""
    st.sidebar.header("Human reference")
    options = [
        name for name, key in REFERENCE_CHOICES.items() if not REFERENCES[key].missing(sample)
    ]
    key = REFERENCE_CHOICES[
        st.sidebar.radio("Compare the CAM with", options, key=f"{KEY}_reference")
    ]
    model = REFERENCES[key].type2_model
    type2 = {model: deepgaze(sample)} if model else {}
    sigma = None
    if key == "fixations":
        default = round(fixations.default_sigma(sample.shape), 1)
        sigma = st.sidebar.slider(
            "Fixation density sigma (px)", 1.0, 4 * default, default, key=f"{KEY}_sigma"
        )
    built = build_reference(key, sample, sigma, type2)
    if sigma is not None:
        return replace(built, label=f"{built.label} (σ = {sigma:g} px)")
    return built


def rule_editor(reference: ReferenceMap) -> EraseRule:
    """A preset with its explanation, and its metric, comparator and threshold to edit.

    The editing widgets are keyed by the preset, so choosing a preset starts from its values.
    """
    st.subheader("Erasing rule")
    name = st.selectbox("Rule preset", list(PRESETS), key=f"{KEY}_preset")
    preset = PRESETS[name].rule
    st.info(PRESETS[name].explanation, icon=":material/menu_book:")
    prefix = f"{KEY}_rule{list(PRESETS).index(name)}"
    metric, comparator, threshold, percent = st.columns(4)
    rule = EraseRule(
        metric=metric.selectbox(
            "Metric", RULE_METRICS, RULE_METRICS.index(preset.metric), key=f"{prefix}_metric"
        ),
        comparator=comparator.selectbox(
            "Comparator",
            list(COMPARATORS),
            list(COMPARATORS).index(preset.comparator),
            key=f"{prefix}_comparator",
        ),
        threshold=threshold.number_input(
            "Threshold", value=preset.threshold, step=0.01, format="%.3f", key=f"{prefix}_threshold"
        ),
        percent=percent.slider(
            "Top-p% binarising both maps (IoU)",
            1.0,
            50.0,
            preset.percent,
            step=0.5,
            key=f"{prefix}_percent",
        ),
        reference=reference.key,
    )
    edited = replace(rule, reference=preset.reference) != preset
    suffix = " (edited: differs from the preset)" if edited else ""
    st.caption(f"Erase when {rule.describe()} (CAM vs. {reference.label}){suffix}.")
    return rule


def show_decision(
    sample: Sample, cam: CamResult, reference: ReferenceMap, rule: EraseRule, decision: RuleDecision
) -> None:
    """The CAM, the reference, the metric value and the rule's decision."""
    left, middle, right = st.columns([2, 2, 1])
    left.image(viz.overlay(sample.image, cam.cam), caption=cam.label, width="stretch")
    middle.image(
        viz.overlay(sample.image, reference.values, colormap="inferno"),
        caption=reference.label,
        width="stretch",
    )
    value = "n/a" if math.isnan(decision.value) else f"{decision.value:.3f}"
    right.metric(rule.metric_label, value)
    right.caption(f"{cam.label} vs. {reference.label}")
    if decision.erase:
        right.warning(f"Erase — {decision.text}", icon=":material/healing:")
    else:
        right.success(f"Keep — {decision.text}", icon=":material/check_circle:")
    for note in [*cam.notes, *(f"{reference.label}: {note}" for note in reference.notes)]:
        st.caption(f"ℹ️ {note}")


def erase_controls() -> EraseSettings:
    """Erasing controls: where and how to erase."""
    percent, dilate, kernel, fill = st.columns(4)
    top = percent.slider(
        "Erase the CAM's top p%",
        0.5,
        20.0,
        ERASE_PERCENT,
        step=0.5,
        key=f"{KEY}_top",
        help=f"study: {ERASE_PERCENT}%",
    )
    radius = dilate.slider("Dilate (px)", 0, 30, 0, key=f"{KEY}_dilate")
    shape = kernel.selectbox("Dilation kernel", list(KERNELS), key=f"{KEY}_kernel")
    colour = fill.selectbox("Fill", list(FILLS), key=f"{KEY}_fill", help="study: black")
    return EraseSettings(top, radius, shape, colour)


def show_erased(sample: Sample, erased: Erased, fill: str) -> None:
    """The mask over the image and the erased image."""
    mask = erased.mask
    left, right = st.columns(2)
    left.image(
        viz.overlay(sample.image, mask.astype(np.float32), alpha=0.6, colormap="inferno"),
        caption=f"Erase mask ({mask.sum()} px, {100 * mask.mean():.1f}%): {erased.caption}",
        width="stretch",
    )
    right.image(erased.image, caption=f"Erased ({fill})", width="stretch")


def inpaint_controls() -> tuple[str, dict]:
    """The inpainting method and, for a one-shot method, its radius (the Deep Image Prior's
    controls come with its Run button)."""
    st.subheader("Inpainting")
    method = st.radio("Method", list(METHODS), horizontal=True, key=f"{KEY}_inpaint")
    st.caption(METHODS[method].summary)
    if method == ITERATIVE:
        return method, {}
    radius = st.slider(
        "Neighbourhood radius (px)", 1.0, 15.0, METHODS[method].defaults["radius"], step=0.5
    )
    return method, {"radius": radius}


def augment(
    sample: Sample,
    cam: CamResult,
    reference: ReferenceMap | None,
    rule: EraseRule | None,
    decision_slot: DeltaGenerator,
) -> None:
    """The controls, then one :func:`augment_sample` (erase, and inpaint with a one-shot
    method; a kept image is erased all the same, as a preview); its results where they belong.
    """
    st.subheader("Erasing")
    kept_slot = st.container()
    erasing = erase_controls()
    erased_slot = st.container()
    method, params = inpaint_controls()
    augmented = augment_sample(
        sample.image,
        cam.cam,
        None if reference is None else reference.values,
        rule=rule,
        erasing=erasing,
        inpaint_method=None if method == ITERATIVE else method,
        inpaint_params=params,
        erase_kept=True,
    )
    decision = augmented.decision
    if decision is not None:
        with decision_slot:
            show_decision(sample, cam, reference, rule, decision)
        if not decision.erase:
            kept_slot.info(
                "The rule keeps this image (the dataset command copies it unchanged); below is "
                "what erasing would do.",
                icon=":material/info:",
            )
    tag = "" if cam.trained else "_UNTRAINED"
    dilated = f", dilated {erasing.dilate_px} px" if erasing.dilate_px else ""
    caption = f"top {erasing.top_percent:g}% of {cam.label}{dilated}"
    erased = Erased(augmented.mask, augmented.erased, caption, tag)
    with erased_slot:
        show_erased(sample, erased, erasing.fill)
    if method == ITERATIVE:
        deep_image_prior(sample, erased)
    else:
        results(sample, erased, augmented.image, method)


def results(sample: Sample, erased: Erased, inpainted: np.ndarray | None, method: str) -> None:
    """Erased and inpainted side by side, a before/after swipe against the original, and the
    downloads (portable file names)."""
    left, right = st.columns(2)
    left.image(erased.image, caption=f"Erased: {erased.caption}", width="stretch")
    if inpainted is not None:
        right.image(inpainted, caption=f"Inpainted ({method})", width="stretch")
    compare(sample, erased, inpainted, method)
    stem = f"{sample.id}{erased.tag}"
    erased_col, inpainted_col, mask_col = st.columns(3)
    erased_col.download_button(
        "Erased image (PNG)",
        viz.png_bytes(erased.image),
        safe_filename(f"{stem}_erased.png"),
        "image/png",
    )
    inpainted_col.download_button(
        "Inpainted image (PNG)",
        viz.png_bytes(inpainted) if inpainted is not None else b"",
        safe_filename(f"{stem}_inpainted_{method}.png"),
        "image/png",
        disabled=inpainted is None,
    )
    mask_col.download_button(
        "Erase mask (PNG)",
        viz.png_bytes(erased.mask.astype(np.uint8) * 255),
        safe_filename(f"{stem}_erase_mask.png"),
        "image/png",
    )


def compare(sample: Sample, erased: Erased, inpainted: np.ndarray | None, method: str) -> None:
    """Before/after swipe: the original left of the split, the chosen result right of it."""
    choices = {f"Inpainted ({method})": inpainted, "Erased": erased.image}
    available = [name for name, picture in choices.items() if picture is not None]
    with st.expander("Before / after (swipe)", expanded=True):
        shown, split = st.columns([1, 2])
        after = shown.radio("Compare the original with", available, key=f"{KEY}_after")
        percent = split.slider(
            "Original ← split → result (% of the width shown as the original)",
            0,
            100,
            50,
            key=f"{KEY}_swipe",
        )
        st.image(
            viz.swipe(sample.image, choices[after], percent / 100),
            caption=f"Left {percent}%: original · right: {after.lower()}",
            width="stretch",
        )


def start_job(key: tuple, erased: Erased, params: dict) -> None:
    previous = st.session_state.get(JOB)
    if previous is not None:
        previous.stop()
    st.session_state[JOB] = InpaintJob(key, erased.image, erased.mask, ITERATIVE, params)


def stop_job() -> None:
    st.session_state[JOB].stop()


def dip_running(job: InpaintJob, erased: Erased, working: tuple[int, int]) -> None:
    """A running fit: what it is doing (then iteration, s/it, ETA) and its latest preview.

    Only the erased image and the preview are drawn: this runs every poll, and re-encoding the
    swipe and the downloads each second would take CPU time from the fit."""
    snapshot = job.snapshot()
    st.progress(snapshot.iteration / snapshot.total, text=progress_text(snapshot, working))
    left, right = st.columns(2)
    left.image(erased.image, caption=f"Erased: {erased.caption}", width="stretch")
    if snapshot.preview is not None:
        right.image(
            snapshot.preview,
            caption=f"Inpainted ({ITERATIVE}, preview after iteration "
            f"{snapshot.preview_iteration})",
            width="stretch",
        )


def dip_progress(
    job: InpaintJob, was_running: bool, sample: Sample, erased: Erased, working: tuple[int, int]
) -> None:
    """Progress and preview of a Deep Image Prior job; polled while it runs."""
    if job.running:
        dip_running(job, erased, working)
        return
    if was_running:
        st.rerun()
    if job.error is not None:
        report(job.error, ITERATIVE)
        results(sample, erased, None, ITERATIVE)
        return
    done = job.result
    how = "stopped" if done.stopped_early else "finished"
    st.caption(f"{ITERATIVE} {how} after {done.iterations_run} iterations.")
    snapshot = job.snapshot()
    if done.iterations_run:
        st.caption(
            f"Fitted at {working[1]}×{working[0]} in about "
            f"{format_duration(snapshot.seconds_per_iteration * done.iterations_run)} "
            f"({snapshot.seconds_per_iteration:.2f} s per iteration)."
        )
    results(sample, erased, done.image, f"{ITERATIVE}, {done.iterations_run} iterations")


def working_size(sample: Sample, column: DeltaGenerator) -> tuple[int, int]:
    """The working-size choice (longer side) and the (height, width) the fit will work at."""
    device = default_device().type
    default = default_max_side(device)
    sides = sorted({*WORKING_SIDES, default})
    side = column.selectbox(
        "Working size (longer side)",
        sides,
        sides.index(default),
        format_func=lambda px: f"{px} px",
        key=f"{KEY}_dip_side",
        help=f"The fit runs on the image downscaled to this longer side (default on {device}: "
        f"{default} px; the study worked at 512×512); the result is resized back and replaces "
        "only the erased pixels. Smaller is faster: the time per iteration grows with the pixels.",
    )
    working = working_shape(sample.shape, side)
    height, width = sample.shape
    scaled = "" if working == (height, width) else f", resized back to {width}×{height}"
    st.caption(
        f"{ITERATIVE} works at {working[1]}×{working[0]} (working size {side} px on {device}"
        f"{scaled}; pixels outside the erase mask stay the original's)."
    )
    return working


def iteration_default(working: tuple[int, int]) -> int:
    """The device's default for this working size; the widget follows it until edited."""
    device = default_device().type
    default = default_iterations(device, working)
    state = st.session_state
    key, seen = f"{KEY}_dip_iters", f"{KEY}_dip_iters_default"
    if state.get(seen) != default:
        if state.get(key) in (None, state.get(seen)):
            state[key] = default
        state[seen] = default
    return default


def deep_image_prior(sample: Sample, erased: Erased) -> None:
    """Working size, iterations, learning rate, seed; Run/Stop; the fit runs in a background
    thread."""
    defaults = METHODS[ITERATIVE].defaults
    size_col, iterations, rate, seed, every = st.columns(5)
    working = working_size(sample, size_col)
    default = iteration_default(working)
    params = {
        "max_side": max(working),
        "iterations": int(
            iterations.number_input(
                "Iterations",
                1,
                20000,
                step=10,
                key=f"{KEY}_dip_iters",
                help=f"Default for {default_device().type} at {working[1]}×{working[0]}: "
                f"{default}. On a CPU the default run is sized to about "
                f"{CPU_BUDGET_S:.0f} s on a quiet 2-core machine ({CPU_SECONDS_PER_ITERATION} s "
                f"+ {CPU_SECONDS_PER_MEGAPIXEL} s per megapixel per iteration, measured); a "
                "loaded one takes several times longer (the ETA says how long after the first "
                f"iteration). On CUDA it is the paper's {STUDY_ITERATIONS}.",
            )
        ),
        "learning_rate": float(
            rate.number_input(
                "Learning rate",
                1e-4,
                0.1,
                defaults["learning_rate"],
                format="%.4f",
                key=f"{KEY}_dip_lr",
            )
        ),
        "seed": int(seed.number_input("Seed", 0, 2**31 - 1, defaults["seed"], key=f"{KEY}_seed")),
        "progress_every": int(
            every.number_input(
                "Preview every N iterations",
                1,
                1000,
                PREVIEW_EVERY,
                key=f"{KEY}_dip_every",
                help="A preview is also shown after the first iteration and the last.",
            )
        ),
    }
    key = (image_hash(erased.image), image_hash(erased.mask), tuple(sorted(params.items())))
    job: InpaintJob | None = st.session_state.get(JOB)
    if job is not None and job.key != key and job.running:
        job.stop()
    current = job if job is not None and job.key == key else None
    running = current is not None and current.running
    run, stop = st.columns(2)
    run.button(
        f"Run {ITERATIVE}",
        on_click=start_job,
        args=(key, erased, params),
        disabled=running,
        type="primary",
    )
    stop.button("Stop", on_click=stop_job, disabled=not running)
    if current is None:
        st.caption(
            f"{ITERATIVE} fits a network to this image (slow on a CPU); it runs in the "
            "background and can be stopped at any time, keeping what it has."
        )
        results(sample, erased, None, ITERATIVE)
        return
    poll = st.fragment(dip_progress, run_every=POLL_SECONDS if running else None)
    poll(current, running, sample, erased, working)


def erasing(sample: Sample, choice: ModelChoice, method: str) -> None:
    """The CAM, the reference, the rule, then erasing and inpainting."""
    cam = reference = rule = None
    with st.spinner(f"{choice.label} · {method}…"), guarded(f"{choice.label} · {method}"):
        fetch_detector(choice)
        cam = cached.cam(sample, choice, method, None, SCORE_THRESHOLD)
    if cam is None:
        return
    with guarded("The reference map"):
        reference = reference_map(sample)
    if reference is not None:
        with guarded("The rule"):
            rule = rule_editor(reference)
    decision_slot = st.container()
    with guarded("Erasing and inpainting"):
        augment(sample, cam, reference, rule, decision_slot)


def main() -> None:
    st.title("Augment")
    st.caption(
        "Selective erasing and inpainting: where the detector's CAM and a human reference "
        "disagree, erase the CAM's most salient pixels, then fill them again. Boxes are "
        "unchanged (pixels are replaced in place). For a whole dataset: "
        "`saliency augment --help`. Below them, the non-trivial "
        "transformations, which move the boxes with the pixels."
    )
    follow_explore()
    sample = widgets.image_picker(KEY, address.incoming())
    address.write(widgets.source_params(KEY), widgets.SOURCE_PARAMS)
    settings = detector_settings()
    if sample is None:
        st.info("Pick a dataset image or upload one in the sidebar.")
        return
    st.caption(f"{sample.source} · {sample.id} · {sample.shape[1]}×{sample.shape[0]} px")
    if settings is not None:
        erasing(sample, *settings)
    with guarded("The transformation preview"):
        policy_preview.section(KEY, sample)


main()
