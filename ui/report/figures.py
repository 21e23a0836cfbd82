"""The report's charts (per-image values, mean IoU curves) and the time charts' tables."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from saliency_core import viz
from saliency_core.evaluate import summary as summaries
from saliency_core.scoring import temporal
from saliency_core.study import TOP_PERCENT
from ui import tables
from ui.report.summary_table import REFERENCE_KINDS, cell_order, map_labels


def metric_choices(table: pd.DataFrame) -> dict[str, list[str]]:
    """Reference key -> its metrics, in the summary's column order."""
    choices: dict[str, list[str]] = {}
    for reference_key, metric in cell_order(table.drop_duplicates(["reference_key", "metric"])):
        choices.setdefault(reference_key, []).append(metric)
    return choices


def _map_order(table: pd.DataFrame) -> list[str]:
    """Map labels: compared maps first (summary kind order), reference rows last."""
    labels = map_labels(table)
    order = labels["kind"].map(summaries.KIND_ORDER).fillna(len(summaries.KIND_ORDER))
    return labels.assign(_order=order).sort_values(["_order", "map"], kind="stable")["map"].tolist()


def direction(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def distribution_figure(
    table: pd.DataFrame, reference_key: str, metric: str, style: str = "box"
) -> go.Figure:
    """Per-image values of ``metric`` against ``reference_key``: one box (or violin) per map,
    hover naming the image. Undefined values are left out and counted in the trace name."""
    rows = table[(table["reference_key"] == reference_key) & (table["metric"] == metric)]
    figure = go.Figure()
    trace = {"box": go.Box, "violin": go.Violin}[style]
    kinds = dict(zip(rows["map"], rows["kind"], strict=False))
    for label in [m for m in _map_order(table) if m in kinds]:
        values = rows[rows["map"] == label]
        defined = values[values["value"].notna()]
        undefined = len(values) - len(defined)
        name = label + (f" ({tables.NOT_AVAILABLE}: {undefined})" if undefined else "")
        extra = {"boxpoints": "all", "jitter": 0.3} if style == "box" else {"points": "all"}
        if style == "violin":
            extra["box_visible"] = True
        if kinds[label] in REFERENCE_KINDS:
            extra["marker_color"] = "grey"
        figure.add_trace(
            trace(
                y=defined["value"].to_numpy(dtype=float),
                name=name,
                text=defined["image"].to_numpy(),
                hovertemplate="%{text}: %{y:.3f}<extra></extra>",
                **extra,
            )
        )
    better = direction(bool(rows["higher_is_better"].iloc[0])) if len(rows) else ""
    reference = rows["reference"].iloc[0] if len(rows) else reference_key
    figure.update_layout(
        title=f"{metric} vs. {reference} per image ({better})",
        yaxis_title=metric,
        showlegend=False,
        margin={"l": 40, "r": 10, "t": 50, "b": 10},
        height=460,
    )
    return figure


def mean_curves(curves: pd.DataFrame, reference_key: str) -> pd.DataFrame:
    """Mean IoU over images at each top-p% per map against ``reference_key``: columns map,
    percent, iou (mean of the defined values; NaN where none is), n (images with a value)."""
    rows = curves[curves["reference_key"] == reference_key]
    grouped = rows.groupby(["map", "percent"], sort=False)["iou"]
    means = pd.concat([grouped.mean().rename("iou"), grouped.count().rename("n")], axis=1)
    return means.reset_index()


def mean_curve_figure(
    curves: pd.DataFrame, reference_key: str, marked: float = TOP_PERCENT
) -> go.Figure:
    """Mean IoU-vs-top-p% curve per map, the study's top-p% (``marked``) as a dotted line."""
    means = mean_curves(curves, reference_key)
    rows = curves[curves["reference_key"] == reference_key]
    reference = rows["reference"].iloc[0] if len(rows) else reference_key
    images = rows["image"].nunique()
    figure = viz.iou_curve_figure(means, reference, marked)
    figure.add_annotation(
        x=marked, y=1, yref="y", text=f"study: top {marked:g}%", showarrow=False, yshift=8
    )
    figure.update_layout(
        title=f"Mean IoU of the top-p% pixels vs. {reference} ({images} images)",
        yaxis_title="mean IoU",
    )
    return figure


def time_tables(per_image: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean curves with bootstrap CIs, peak-time counts) of a run's onset-window table
    (``temporal.parquet``: :func:`temporal.window_metrics` rows with an ``image`` column)."""
    curves = temporal.mean_curves(per_image, seed=seed)
    peaks = [temporal.peak_windows(rows) for _, rows in per_image.groupby("image", sort=False)]
    return curves, temporal.peak_time_counts(pd.concat(peaks, ignore_index=True))
