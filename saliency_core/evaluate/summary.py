"""The study's Tables 2–4 for any run: mean ± 95% bootstrap CI per detector × method × weights.

For every group (kind, detector, method, weights) and every (reference, metric), the mean over
images of the defined values, its 95% percentile-bootstrap confidence interval
(``scipy.stats.bootstrap``, seeded), ``n`` (images with a value) and ``n_undefined`` (NaN, each
with its reason in the per-image table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saliency_core.scoring.stats import RESAMPLES, mean_ci
from saliency_core.study import MapKind

GROUP = ["kind", "detector", "method", "weights", "target"]
CELL = ["reference_key", "metric"]
KIND_ORDER = {kind: rank for rank, kind in enumerate(MapKind)}


def summarize(table: pd.DataFrame, seed: int = 0, resamples: int = RESAMPLES) -> pd.DataFrame:
    """Long summary: one row per group × (reference_key, metric) with mean, ci_low, ci_high, n,
    n_undefined and higher_is_better."""
    columns = [*GROUP, *CELL, "mean", "ci_low", "ci_high", "n", "n_undefined", "higher_is_better"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for keys, group in table.groupby([*GROUP, *CELL], sort=False, dropna=False):
        values = group["value"].to_numpy(dtype=np.float64)
        mean, low, high = mean_ci(values, seed, resamples)
        defined = int(np.isfinite(values).sum())
        rows.append(
            [
                *keys,
                mean,
                low,
                high,
                defined,
                len(values) - defined,
                group["higher_is_better"].iloc[0],
            ]
        )
    summary = pd.DataFrame(rows, columns=columns)
    order = summary["kind"].map(KIND_ORDER).fillna(len(KIND_ORDER))
    return (
        summary.assign(_order=order)
        .sort_values(["_order", *GROUP[1:], *CELL])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def format_cell(mean: float, low: float, high: float, digits: int = 3) -> str:
    """ "0.238 [0.201, 0.270]"; "n/a" when undefined; no CI when it is undefined."""
    if not np.isfinite(mean):
        return "n/a"
    text = f"{mean:.{digits}f}"
    if np.isfinite(low) and np.isfinite(high):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text.replace("-0.000", "0.000")


def wide(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows detector × method × weights, columns (reference, metric) "mean [CI]", with n and
    n undefined per row (the largest over the row's cells)."""
    if summary.empty:
        return pd.DataFrame()
    cells = summary.assign(
        cell=[
            format_cell(m, lo, hi)
            for m, lo, hi in zip(
                summary["mean"], summary["ci_low"], summary["ci_high"], strict=True
            )
        ]
    )
    index = ["kind", "detector", "method", "weights"]
    table = cells.pivot_table(index=index, columns=CELL, values="cell", aggfunc="first", sort=False)
    counts = cells.groupby(index, sort=False)[["n", "n_undefined"]].max()
    table.columns = [f"{metric} vs {reference}" for reference, metric in table.columns]
    return table.join(counts).reset_index()


def to_latex(summary: pd.DataFrame) -> str:
    """The wide summary as a LaTeX tabular (booktabs)."""
    table = wide(summary)
    if table.empty:
        return "% no results\n"
    return table.to_latex(index=False, escape=True)
