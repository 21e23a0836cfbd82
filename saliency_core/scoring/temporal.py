"""Agreement as viewing unfolds: maps scored against the fixations of each moment of viewing.

One image's fixation table (:func:`saliency_core.data.fixations.read_fixation_table`, points in the
maps' pixel grid) is split into :class:`Window` s, either by ordinal (the k-th fixation of every
subject: :func:`split_by_ordinal`) or by onset time (``[k·w, (k+1)·w)`` seconds:
:func:`split_by_onset`). :func:`window_metrics` scores every map against every window (NSS,
AUC-Judd, and the top-p% IoU against the window's fixation density), :func:`peak_windows` finds
each map's best window. Onset windows need recorded onsets: a fixation without one (``onset_s``
empty, not a number of seconds >= 0) is left out of them (:func:`onset_note` says how many), and
without any the split raises ValueError (:data:`NO_ONSETS`) rather than guessing times. The
ordinal split needs no onsets.

Per dataset, the per-image tables (with an ``image`` column) are averaged by
:func:`mean_curves` (mean per window with a seeded percentile-bootstrap CI over images) and
:func:`peak_time_counts` (how often each window is a map's peak). Plotly figures of these tables
are in :mod:`ui.charts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from saliency_core.data.fixations import (
    NO_SUBJECTS,
    ONSET_COLUMN,
    REQUIRED_COLUMNS,
    SUBJECT_COLUMN,
    density_map,
    to_pixel_coords,
)
from saliency_core.scoring import metrics
from saliency_core.scoring.agreement import RankedMap, ranked_iou
from saliency_core.scoring.stats import mean_ci
from saliency_core.study import TOP_PERCENT

TIME_METRICS = ("NSS", "AUC-Judd", "IoU@top-p%")
"""Scored per window; IoU@top-p% compares the map's top-p% with the window density's top-p%."""
COLUMNS = [
    "map",
    "window",
    "unit",
    "start",
    "end",
    "n_fixations",
    "metric",
    "value",
    "higher_is_better",
    "reason",
]
PEAK_COLUMNS = ["map", "metric", "window", "unit", "start", "end", "value", "reason"]
CURVE_COLUMNS = [
    "map",
    "metric",
    "window",
    "unit",
    "start",
    "end",
    "n_images",
    "n_undefined",
    "mean",
    "ci_low",
    "ci_high",
    "higher_is_better",
    "reason",
]
NO_ONSETS = (
    f"the fixations carry no onset times (the {ONSET_COLUMN!r} column is absent, empty or holds "
    "no number of seconds >= 0): agreement over time needs recorded onsets, none are guessed"
)
EMPTY_WINDOW = "no fixations inside the image in this window"
NEVER_DEFINED = "undefined in every window"
SECONDS, ORDINAL = "s", "fixation"
"""Values of the ``unit`` column: onset windows in seconds, or the fixation's ordinal."""


@dataclass(frozen=True)
class Window:
    """A subset of one image's fixations.

    ``unit`` is :data:`SECONDS` (fixations with ``start <= onset < end``) or :data:`ORDINAL`
    (the ``start``-th fixation of every subject; ``end == start``). ``points``: float64 (N, 2).
    """

    label: str
    unit: str
    start: float
    end: float
    points: np.ndarray


def onsets(table: pd.DataFrame) -> np.ndarray:
    """The onset column as float64 seconds, NaN where a fixation has none (empty, not a number,
    negative or infinite); all NaN without an ``onset_s`` column."""
    if ONSET_COLUMN not in table.columns:
        return np.full(len(table), np.nan)
    seconds = pd.to_numeric(table[ONSET_COLUMN], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(seconds) & (seconds >= 0), seconds, np.nan)


def has_onsets(table: pd.DataFrame) -> bool:
    """Whether any fixation of ``table`` carries an onset time (onset windows can be made)."""
    return bool(np.isfinite(onsets(table)).any())


def onset_note(table: pd.DataFrame) -> str | None:
    """What the onset windows leave out: "3 of 16 fixations carry no onset time: …", or None."""
    missing = int(np.isnan(onsets(table)).sum())
    if not missing or missing == len(table):
        return None
    return (
        f"{missing} of {len(table)} fixations carry no onset time ({ONSET_COLUMN} empty or "
        "not a number of seconds >= 0): they are left out of the onset windows"
    )


def _points(table: pd.DataFrame) -> np.ndarray:
    return table[list(REQUIRED_COLUMNS)].to_numpy(dtype=np.float64).reshape(-1, 2)


def ordinals(table: pd.DataFrame) -> np.ndarray:
    """1-based ordinal of each fixation within its subject's scanpath, int64 (N,), table order.

    Within a subject, fixations are ordered by ``onset_s`` when every fixation has an onset
    (ties keep file order), else by file order: no onset is needed. Raises ValueError without a
    ``subject`` column (a fixation's ordinal needs its scanpath) or with a missing subject id.
    """
    if SUBJECT_COLUMN not in table.columns:
        raise ValueError(f"fixation ordinals need subject ids: {NO_SUBJECTS}")
    if table[SUBJECT_COLUMN].isna().any():
        raise ValueError(f"{SUBJECT_COLUMN} is missing in some rows: fixation ordinals need it")
    order = pd.DataFrame(
        {"subject": table[SUBJECT_COLUMN].to_numpy(), "row": np.arange(len(table))}
    )
    seconds = onsets(table)
    if len(table) and np.isfinite(seconds).all():
        order["onset"] = seconds
        order = order.sort_values(["onset", "row"], kind="stable")
    ranks = order.groupby("subject", sort=False).cumcount().to_numpy() + 1
    result = np.empty(len(table), dtype=np.int64)
    result[order["row"].to_numpy()] = ranks
    return result


def split_by_ordinal(table: pd.DataFrame, max_ordinal: int | None = None) -> list[Window]:
    """Windows "fixation 1", "fixation 2", …: the k-th fixation of every subject (see
    :func:`ordinals`), for k = 1 … ``max_ordinal`` (default: the longest scanpath). Later
    ordinals hold fewer subjects (shorter scanpaths drop out)."""
    ranks = ordinals(table)
    last = int(ranks.max(initial=0)) if max_ordinal is None else int(max_ordinal)
    if last < 0:
        raise ValueError(f"max_ordinal must be >= 0, got {max_ordinal}")
    points = _points(table)
    return [
        Window(f"fixation {k}", ORDINAL, float(k), float(k), points[ranks == k])
        for k in range(1, last + 1)
    ]


def split_by_onset(table: pd.DataFrame, width_s: float) -> list[Window]:
    """Onset windows ``[k·w, (k+1)·w)`` seconds, k = 0 … ⌊last onset / w⌋, ``w = width_s``.

    The windows start at 0 (stimulus onset) and end with the one holding the recording's last
    onset; windows without fixations are kept (their metrics are undefined, with the reason).
    Fixations without an onset (:func:`onsets`) are in no window (:func:`onset_note`). A table
    without rows gives no windows. Raises ValueError when no fixation has an onset
    (:data:`NO_ONSETS`) or for ``width_s <= 0``.
    """
    if not width_s > 0:
        raise ValueError(f"the window width must be > 0 seconds, got {width_s}")
    if not len(table):
        return []
    seconds = onsets(table)
    timed = np.isfinite(seconds)
    if not timed.any():
        raise ValueError(NO_ONSETS)
    # rounding absorbs float error such as 0.6 / 0.2 = 2.9999999999999996
    index = np.floor(np.round(seconds[timed] / width_s, 9)).astype(np.int64)
    points = _points(table)[timed]
    windows = []
    for k in range(int(index.max()) + 1):
        start, end = k * width_s, (k + 1) * width_s
        label = f"{round(start, 6):g}–{round(end, 6):g} s"
        windows.append(Window(label, SECONDS, start, end, points[index == k]))
    return windows


def _shape(maps: Mapping[str, np.ndarray]) -> tuple[int, int]:
    shapes = {np.shape(values) for values in maps.values()}
    if len(shapes) != 1:
        raise ValueError(f"the maps must share one (H, W) shape, got {sorted(shapes)}")
    shape = shapes.pop()
    if len(shape) != 2:
        raise ValueError(f"maps must be 2-D (H, W), got shape {shape}")
    return shape


def window_metrics(
    maps: Mapping[str, np.ndarray],
    windows: Sequence[Window],
    sigma: float,
    percent: float = TOP_PERCENT,
) -> pd.DataFrame:
    """Every map scored against every window's fixations (long format, :data:`COLUMNS`).

    Per (map, window): NSS and AUC-Judd of the map at the window's fixations, and IoU@top-p% of
    the map's top-``percent``% pixels vs the top-``percent``% of the window's fixation density
    (:func:`saliency_core.data.fixations.density_map`, Gaussian ``sigma`` pixels). The points must
    be in the maps' pixel grid. ``n_fixations`` counts the window's fixations inside the image; a
    window with none gives NaN rows with :data:`EMPTY_WINDOW`. Other NaNs carry the metric's
    reason."""
    if not maps:
        return pd.DataFrame(columns=COLUMNS)
    shape = _shape(maps)
    ranked = {name: RankedMap(values) for name, values in maps.items()}
    rows = []
    for window in windows:
        n_inside = len(to_pixel_coords(window.points, shape))
        density = RankedMap(density_map(window.points, shape, sigma)) if n_inside else None
        for name, values in maps.items():
            for metric in TIME_METRICS:
                if density is None:
                    value = metrics.MetricValue(float("nan"), EMPTY_WINDOW)
                elif metric == "IoU@top-p%":
                    value = ranked_iou(ranked[name], density, percent)
                else:
                    value = metrics.compute(metric, values, fixations=window.points)
                rows.append(
                    {
                        "map": name,
                        "window": window.label,
                        "unit": window.unit,
                        "start": window.start,
                        "end": window.end,
                        "n_fixations": n_inside,
                        "metric": metric,
                        "value": value.value,
                        "higher_is_better": metrics.METRICS[metric].higher_is_better,
                        "reason": value.reason,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def peak_windows(curves: pd.DataFrame) -> pd.DataFrame:
    """Each (map, metric)'s best window of a :func:`window_metrics` table (:data:`PEAK_COLUMNS`).

    Best is the largest value (the smallest for a lower-is-better metric); on ties the earliest
    window. A (map, metric) undefined in every window gets a NaN row with :data:`NEVER_DEFINED`.
    """
    rows = []
    for (name, metric), group in curves.groupby(["map", "metric"], sort=False):
        defined = group.dropna(subset=["value"]).sort_values("start", kind="stable")
        if defined.empty:
            rows.append(
                {"map": name, "metric": metric, "window": None, "unit": group["unit"].iloc[0]}
                | {"start": np.nan, "end": np.nan, "value": np.nan, "reason": NEVER_DEFINED}
            )
            continue
        values = defined["value"].astype(float)
        best = defined.loc[
            values.idxmax() if group["higher_is_better"].iloc[0] else values.idxmin()
        ]
        rows.append({column: best[column] for column in PEAK_COLUMNS if column != "reason"})
        rows[-1]["reason"] = None
    return pd.DataFrame(rows, columns=PEAK_COLUMNS)


def mean_curves(
    per_image: pd.DataFrame,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-dataset curves: mean of each (map, metric, window) over images, with a bootstrap CI.

    ``per_image`` stacks :func:`window_metrics` tables of several images (any extra column, e.g.
    ``image``, is ignored; windows align by ``start``, so use one window width for every image).
    ``mean`` averages the images where the value is defined (``n_images`` of them;
    ``n_undefined`` were NaN); ``ci_low``/``ci_high`` is the percentile bootstrap interval of
    that mean (``n_resamples`` resamples of the images, seeded by ``seed``: reproducible). NaN
    with a reason when no image (mean and CI) or a single image (CI) has a value.
    """
    rng = np.random.default_rng(seed)
    keys = ["map", "metric", "unit", "start"]
    rows = []
    for (name, metric, unit, start), group in per_image.groupby(keys, sort=False):
        values = group["value"].dropna().to_numpy(dtype=np.float64)
        mean, low, high = mean_ci(values, rng, n_resamples, confidence)
        reason = None
        if values.size == 0:
            reason = "undefined on every image in this window"
        elif values.size == 1:
            reason = "a confidence interval needs values on at least 2 images"
        rows.append(
            {
                "map": name,
                "metric": metric,
                "window": group["window"].iloc[0],
                "unit": unit,
                "start": start,
                "end": group["end"].iloc[0],
                "n_images": int(values.size),
                "n_undefined": int(len(group) - values.size),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "higher_is_better": bool(group["higher_is_better"].iloc[0]),
                "reason": reason,
            }
        )
    table = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return table.sort_values(["map", "metric", "start"], kind="stable", ignore_index=True)


def peak_time_counts(peaks: pd.DataFrame) -> pd.DataFrame:
    """Distribution of peak windows over images: columns map, metric, window, unit, start, end,
    n_images (images whose peak is this window) and share (of the images with a defined peak).

    ``peaks`` stacks :func:`peak_windows` tables of several images; undefined peaks are left out.
    """
    defined = peaks.dropna(subset=["value"])
    columns = ["map", "metric", "window", "unit", "start", "end"]
    if defined.empty:
        return pd.DataFrame(columns=[*columns, "n_images", "share"])
    counts = defined.groupby(columns, sort=False).size().rename("n_images").reset_index()
    totals = counts.groupby(["map", "metric"])["n_images"].transform("sum")
    counts["share"] = counts["n_images"] / totals
    return counts.sort_values(["map", "metric", "start"], kind="stable", ignore_index=True)
