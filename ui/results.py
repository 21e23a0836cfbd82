"""The Dataset report page's Streamlit side: cached reads of a results folder, cached gallery
pictures, and a dataset run in the background (:class:`ui.jobs.BackgroundJob`).

Reads are keyed by the folder's path and :func:`ui.report.folders.folder_fingerprint`, so a
run that adds images (from the page or the command line) is seen on the next rerun.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine, summary
from saliency_core.evaluate.store import REGIONS, TEMPORAL, ResultsFolder
from saliency_core.scoring import regions
from saliency_core.settings import Settings
from ui import cached, eta
from ui.jobs import BackgroundJob
from ui.report import figures, thumbnails


@st.cache_data(max_entries=8, show_spinner="Reading the per-image table…")
def table(root: str, fingerprint: str) -> pd.DataFrame:
    """The per-image table; ``fingerprint`` (the folder's state) keys the cache."""
    return ResultsFolder(Path(root)).table()


@st.cache_data(max_entries=8, show_spinner="Reading the IoU curves…")
def curves(root: str, fingerprint: str) -> pd.DataFrame:
    return ResultsFolder(Path(root)).curves()


@st.cache_data(max_entries=8, show_spinner="Summarising (bootstrap CIs)…")
def long_summary(root: str, fingerprint: str) -> pd.DataFrame:
    """Mean ± 95% bootstrap CI per map and (reference, metric), from the current table."""
    return summary.summarize(table(root, fingerprint))


@st.cache_data(max_entries=8, show_spinner=False)
def parquet_bytes(root: str, fingerprint: str) -> bytes:
    buffer = io.BytesIO()
    table(root, fingerprint).to_parquet(buffer, index=False)
    return buffer.getvalue()


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(
    dataset_name: str,
    dataset_root: str,
    stem: str,
    settings_json: str,
    identity: thumbnails.MapIdentity,
    reference_key: str,
    percent: float,
) -> thumbnails.Thumbnail:
    """One gallery picture; its maps come through the app's map caches (shared with Explore)."""
    sample = cached.sample(dataset_name, dataset_root, stem)
    settings = Settings.from_dict(json.loads(settings_json))
    return thumbnails.agreement_thumbnail(
        sample, settings, identity, reference_key, percent, cached.CACHED_MAPS
    )


# --- a run started from the page -------------------------------------------------------------


@dataclass(frozen=True)
class RunProgress:
    """Images done of ``total``, the last one's id, the seconds from the first image's end to
    the last one's (the images' pace, without the model loading) and when that was
    (``time.monotonic``)."""

    done: int
    total: int
    stem: str
    seconds: float = 0.0
    at: float = 0.0


RunJob = BackgroundJob[RunProgress, engine.RunReport]


def start_run(dataset: Dataset, settings: Settings, out: Path, options: engine.Options) -> RunJob:
    """``engine.run`` in a background thread; its ``cancel`` is the job's Stop."""
    total = len(dataset.ids[: options.limit])

    def work(update, cancel) -> engine.RunReport:
        first: list[float] = []  # when the first image ended

        def progress(done: int, remaining: int, stem: str) -> None:
            now = time.monotonic()
            if not first:
                first.append(now)
            update(RunProgress(done, remaining, stem, now - first[0], now))

        return engine.run(dataset, settings, out, options, progress=progress, cancel=cancel)

    return BackgroundJob(str(out), work, RunProgress(0, total, ""))


def progress_text(snapshot: RunProgress, now: float | None = None) -> tuple[float, str]:
    """The bar's fraction and text ("loading the models…" before the first image), with the
    time left as Explore words it (:func:`ui.eta.describe`): the images' pace so far
    (from the second image on) × the images left, less the time since the last one ended."""
    if snapshot.done == 0:
        return 0.0, "Loading the models, then the first image…"
    fraction = float(np.clip(snapshot.done / max(snapshot.total, 1), 0.0, 1.0))
    left, known = 0.0, snapshot.done > 1
    if known:
        pace = snapshot.seconds / (snapshot.done - 1)
        since = (time.monotonic() if now is None else now) - snapshot.at
        left = max(pace * (snapshot.total - snapshot.done) - since, 0.0)
    text = f"{snapshot.done}/{snapshot.total} images (last: {snapshot.stem})"
    return fraction, f"{text} · {eta.describe(left, known)}"


@st.cache_data(max_entries=8, show_spinner="Averaging the time curves (bootstrap CIs)…")
def time_tables(root: str, fingerprint: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(mean curves, peak-time counts) of the run's onset windows; None without them."""
    rows = ResultsFolder(Path(root)).extra_table(TEMPORAL)
    return None if rows.empty else figures.time_tables(rows)


@st.cache_data(max_entries=8, show_spinner=False)
def class_ratios(root: str, fingerprint: str) -> pd.DataFrame:
    """Per (map, detected class), the mean model/people ratio; empty without region rows."""
    rows = ResultsFolder(Path(root)).extra_table(REGIONS)
    return pd.DataFrame() if rows.empty else regions.class_ratios(rows)
