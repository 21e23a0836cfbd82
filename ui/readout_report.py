"""The Dataset report's view of a readout experiment (``saliency readout-experiment``): Oyama &
Yamanaka's plot — each backbone's ImageNet top-1 accuracy (x, %) against the test metric of the
readouts trained on its features (y: the mean over seeds of each seed's mean over its test
images) — with Pearson's and Spearman's correlations over the pretrained backbones and their
hierarchical bootstrap CIs (seeds, then images;
:func:`saliency_core.scoring.stats.correlation_cis`). Untrained backbones have no ImageNet
accuracy: they are plotted apart, in their own panel, and left out of the correlations. The
centre-bias floor, DeepGaze IIE and the human ceiling are horizontal lines (their mean over the
same runs' test images). Streamlit-free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from saliency_core.scoring.stats import correlation_cis
from saliency_core.train.readout_experiment import (
    CEILING,
    DEEPGAZE,
    FLOOR,
    MIT_METRICS,
    READOUT,
)

READOUT_VIEW = "Readout saliency accuracy (Oyama & Yamanaka)"
"""The experiment's view: readouts trained on each backbone's features, scored on held-out
images."""
CAM_VIEW = "CAM agreement"
"""The classifier-map view: each classifier's own CAM against fixations, no training."""
DEFAULT_METRIC = "AUC-Judd"
"""Oyama & Yamanaka's first metric (they report AUC-Judd, AUC-Borji and sAUC)."""
POINT_COLUMNS = ["backbone", "weights", "top1_accuracy", "value", "seeds", "untrained"]
LINES = (FLOOR, DEEPGAZE, CEILING)


def metric_choices(table: pd.DataFrame) -> list[str]:
    """The experiment's metrics, :data:`DEFAULT_METRIC` first."""
    present = [m for m in MIT_METRICS if m in set(table["metric"])]
    return sorted(present, key=lambda metric: metric != DEFAULT_METRIC)


def _selected(frame: pd.DataFrame, metric: str, test_dataset: str, kind: str) -> pd.DataFrame:
    return frame[
        (frame["metric"] == metric)
        & (frame["test_dataset"] == test_dataset)
        & (frame["kind"] == kind)
    ]


def readout_points(table: pd.DataFrame, metric: str, test_dataset: str, kind: str) -> pd.DataFrame:
    """One row per backbone × weights (:data:`POINT_COLUMNS`): its top-1 accuracy (%, NaN
    untrained), the readouts' mean ``metric`` over seeds, the number of seeds."""
    rows = _selected(table, metric, test_dataset, kind)
    rows = rows[rows["model"] == READOUT]
    grouped = rows.groupby(["backbone", "weights"], sort=False)
    points = grouped.agg(
        top1_accuracy=("top1_accuracy", "first"), value=("value", "mean"), seeds=("seed", "count")
    ).reset_index()
    points["untrained"] = points["weights"] == "untrained"
    return points[POINT_COLUMNS]


def reference_lines(table: pd.DataFrame, metric: str, test_dataset: str, kind: str) -> dict:
    """{floor | DeepGaze IIE | human ceiling: mean ``metric`` over the runs' rows} for those
    the experiment scored."""
    rows = _selected(table, metric, test_dataset, kind)
    means = rows.groupby("model")["value"].mean()
    return {
        name: float(means[name]) for name in LINES if name in means and np.isfinite(means[name])
    }


def correlations(
    images: pd.DataFrame,
    table: pd.DataFrame,
    metric: str,
    test_dataset: str,
    kind: str,
    rng: int = 0,
    resamples: int = 1000,
) -> pd.DataFrame:
    """Pearson and Spearman of the pretrained backbones' top-1 accuracy against their readouts'
    ``metric``, with 95% bootstrap CIs over seeds and images: columns correlation, value,
    ci_low, ci_high, backbones."""
    points = readout_points(table, metric, test_dataset, kind)
    points = points[~points["untrained"] & points["top1_accuracy"].notna()]
    rows = _selected(images, metric, test_dataset, kind)
    rows = rows[(rows["model"] == READOUT) & (rows["weights"] != "untrained")]
    groups = [
        [
            seed_rows["value"].to_numpy(dtype=np.float64)
            for _seed, seed_rows in rows[rows["backbone"] == backbone].groupby("seed")
        ]
        for backbone in points["backbone"]
    ]
    found = correlation_cis(points["top1_accuracy"].to_numpy(), groups, rng, resamples)
    return pd.DataFrame(
        [(name, *values, len(points)) for name, values in found.items()],
        columns=["correlation", "value", "ci_low", "ci_high", "backbones"],
    )


def correlation_caption(frame: pd.DataFrame) -> str:
    """E.g. "Pearson r = 0.91 [0.80, 0.99], Spearman ρ = 1.00 [1.00, 1.00] over 3 pretrained
    backbones (95% bootstrap CIs over seeds and images)"; undefined with fewer than 3."""
    count = int(frame["backbones"].iloc[0]) if len(frame) else 0
    if frame["value"].isna().all():
        return (
            f"No correlation: {count} pretrained backbone(s) with an ImageNet accuracy; "
            "a correlation needs at least 3."
        )
    symbols = {"Pearson": "r", "Spearman": "ρ"}
    parts = [
        f"{row.correlation} {symbols[row.correlation]} = {row.value:.2f} "
        f"[{row.ci_low:.2f}, {row.ci_high:.2f}]"
        for row in frame.itertuples(index=False)
    ]
    return (
        f"{', '.join(parts)} over {count} pretrained backbones "
        "(95% bootstrap CIs over seeds and images)"
    )


def readout_figure(points: pd.DataFrame, lines: dict, metric: str) -> go.Figure:
    """Two panels sharing y: untrained backbones (left, by name: they have no ImageNet accuracy)
    and pretrained ones at their top-1 accuracy (right); the floor, DeepGaze IIE and the
    ceiling as labelled horizontal lines."""
    figure = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.25, 0.75],
        subplot_titles=("untrained backbones (no ImageNet accuracy)", "pretrained backbones"),
    )
    untrained, trained = points[points["untrained"]], points[~points["untrained"]]
    figure.add_trace(
        go.Scatter(
            x=untrained["backbone"],
            y=untrained["value"],
            mode="markers+text",
            text=[f"{name} [UNTRAINED]" for name in untrained["backbone"]],
            textposition="top center",
            marker={"symbol": "x", "size": 11},
            name="untrained backbone",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=trained["top1_accuracy"],
            y=trained["value"],
            mode="markers+text",
            text=trained["backbone"],
            textposition="top center",
            marker={"size": 11},
            name="pretrained backbone",
        ),
        row=1,
        col=2,
    )
    for name, value in lines.items():
        figure.add_hline(
            y=value, line_dash="dot", annotation_text=name, row="all", col="all", opacity=0.6
        )
    figure.update_xaxes(title_text="ImageNet top-1 accuracy (%)", row=1, col=2)
    figure.update_yaxes(title_text=f"readout's test {metric}", row=1, col=1)
    figure.update_layout(title=f"{READOUT_VIEW}: ImageNet top-1 accuracy vs. test {metric}")
    return figure
