"""The Dataset report page's run panel: a compact settings form that starts
:func:`saliency_core.evaluate.engine.run` on a listed dataset in the background
(:func:`ui.results.start_run`), with a polled progress bar and a Stop button; when the run ends,
the page shows its folder.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from saliency_core.data import datasets
from saliency_core.evaluate import engine
from saliency_core.maps.references import REFERENCES
from saliency_core.settings import Settings
from ui import classifier_view, results, settings_form
from ui.errors import report as report_error
from ui.report import folders

KEY = "report"
FORM = settings_form.FormKeys(f"{KEY}_run")
CHOSEN = f"{KEY}_chosen"  # the folder of a run started here, selected once it exists
JOB = f"{KEY}_run_job"
POLL_SECONDS = 1.0
COMMAND = "saliency evaluate --dataset DIR --out {root}/NAME"
OUTCOME_BOX = {
    "complete": (st.success, ":material/check_circle:"),
    "partial": (st.warning, ":material/warning:"),
    "failed": (st.error, ":material/error:"),
    "stopped": (st.info, ":material/stop:"),
}
"""How a finished run's outcome (:attr:`engine.RunReport.outcome`) is shown."""


def take_chosen(found: list[str]) -> str | None:
    """The folder of a run started here, once it is among ``found`` (then forgotten)."""
    if st.session_state.get(CHOSEN) in found:
        return st.session_state.pop(CHOSEN)
    return None


def run_panel(root: Path) -> None:
    """A compact settings form; the run goes on in the background with a bar and Stop."""
    job: results.RunJob | None = st.session_state.get(JOB)
    running = job is not None and job.running
    try:
        available = datasets.all_datasets()
    except datasets.DatasetError as error:
        st.warning(str(error))
        available = {datasets.SAMPLE_NAME: datasets.sample_dataset()}
    name = st.selectbox("Dataset", list(available), key=f"{KEY}_run_dataset")
    dataset = available[name]
    settings_form.seed(FORM, Settings())
    left, right = st.columns(2)
    chosen = settings_form.detector_section(FORM, left)
    classifiers = classifier_view.choose(f"{KEY}_run", left)
    with right:
        default_refs = [key for key, has in _human(dataset).items() if has] or ["deepgaze"]
        references = st.multiselect(
            "References", list(REFERENCES), default_refs, key=f"{KEY}_run_refs_{_slug(name)}"
        )
        type2 = settings_form.Type2Weights()
        if any(REFERENCES[key].type2_model for key in references):
            type2 = settings_form.type2_weights(FORM, right)
        working = settings_form.working_size(FORM, right)
        limit = st.number_input(
            "Only the first N images (0: all)", 0, len(dataset.ids), 0, key=f"{KEY}_run_limit"
        )
        _follow_default(f"{KEY}_run_out", _slug(name))
        out_name = st.text_input(f"Output folder (under {root})", key=f"{KEY}_run_out")
    settings = Settings(
        **chosen.settings_fields(),
        type2=(),
        **type2.settings_fields(),
        references=tuple(references),
        working_size=working,
    )
    settings = classifier_view.with_classifiers(settings, classifiers)
    options = engine.Options(top_percents=(settings.top_percent,), limit=int(limit) or None)
    out = folders.output_folder(root, out_name)
    models = (chosen.detectors and chosen.cams) or (classifiers.classifiers and classifiers.methods)
    ready = bool(models and references)
    if not ready:
        st.caption(
            "Choose at least one detector and one CAM method (or a classifier and a method), "
            "and one reference."
        )
    start, stop = st.columns(2)
    start.button(
        "Start the run",
        on_click=_start,
        args=(dataset, settings, out, options),
        disabled=running or not ready,
        type="primary",
        key=f"{KEY}_run_start",
    )
    stop.button("Stop", on_click=_stop, disabled=not running, key=f"{KEY}_run_stop")
    if job is not None:
        st.fragment(run_progress, run_every=POLL_SECONDS if running else None)(job, running)
    else:
        st.caption(
            "The run resumes where an earlier run into the same folder stopped (same settings); "
            f"the command line does the same: `{COMMAND.format(root=root)}`."
        )


def _follow_default(key: str, default: str) -> None:
    """The widget ``key`` shows ``default`` (derived from another choice) unless the user has
    typed something else: its value follows the default while it still equals the last one."""
    last = f"{key}_default"
    if st.session_state.get(key, st.session_state.get(last)) == st.session_state.get(last):
        st.session_state[key] = default
    st.session_state[last] = default


def _human(dataset: datasets.Dataset) -> dict[str, bool]:
    return {"fixations": dataset.has_fixations, "mask": dataset.has_masks}


def _slug(name: str) -> str:
    text = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(part for part in text.split("-") if part)[:40] or "run"


def _start(dataset, settings: Settings, out: Path, options: engine.Options) -> None:
    previous = st.session_state.get(JOB)
    if previous is not None:
        previous.stop()
    st.session_state[JOB] = results.start_run(dataset, settings, out, options)
    st.session_state[CHOSEN] = str(out)


def _stop() -> None:
    st.session_state[JOB].stop()


def run_progress(job: results.RunJob, was_running: bool) -> None:
    """The running job's bar (polled); when it ends, the page reruns on its folder."""
    try:
        if job.running:
            fraction, text = results.progress_text(job.snapshot())
            st.progress(fraction, text=text)
            return
        if was_running:
            st.session_state[CHOSEN] = job.key
            st.rerun()
        if job.error is not None:
            st.session_state.pop(CHOSEN, None)
            report_error(job.error, "The run")
            return
        done = job.result
        outcome = done.outcome
        show, icon = OUTCOME_BOX[outcome.status]
        notices = f", {done.notices} notices" if done.notices else ""
        show(
            f"Run {outcome.text()} ({done.computed} by this run, {done.seconds:.0f} s{notices}) "
            f"→ {done.out}; the report below says what to do next, if anything.",
            icon=icon,
        )
    except Exception as error:  # noqa: BLE001 - a fragment rerun has no outer guard
        report_error(error, "The run's progress")
