"""Plotly charts of the agreement tables (no Streamlit).

Time curves (:mod:`saliency_core.scoring.temporal`): :func:`time_curve_figure` for one image,
:func:`dataset_time_figure` (mean with CI band) and :func:`peak_time_figure` for a dataset.
Regions (:mod:`saliency_core.scoring.regions`): :func:`region_ratio_figure` for one image and
:func:`class_ratio_figure` for a dataset. Classifiers (:mod:`saliency_core.scoring.accuracy`):
:func:`accuracy_scatter`, ImageNet accuracy against agreement. Undefined values are left out
of a chart and listed under it with their reasons.
"""

from __future__ import annotations

import pandas as pd
import plotly.colors
import plotly.express as px
import plotly.graph_objects as go

from saliency_core.scoring.temporal import SECONDS

OVER, UNDER = "#d62728", "#1f77b4"
"""Bar colours: over-weighted by the model (log ratio > 0), under-weighted (< 0)."""
LAYOUT = {
    "legend": {"orientation": "h", "y": -0.25},
    "margin": {"l": 40, "r": 10, "t": 50, "b": 10},
    "height": 420,
}


NOTE_OFFSET = 110
"""Pixels between the plot's bottom edge and the list of left-out values (ticks, axis title,
legend)."""


def _colours(names) -> dict[str, str]:
    """One qualitative colour per name, in order of appearance."""
    palette = plotly.colors.qualitative.Plotly
    return {name: palette[k % len(palette)] for k, name in enumerate(dict.fromkeys(names))}


def _x(table: pd.DataFrame) -> pd.Series:
    """Plot position of windows: the centre of onset windows, the ordinal itself otherwise."""
    return (table["start"] + table["end"]) / 2


def _x_title(table: pd.DataFrame) -> str:
    if table.empty or table["unit"].iloc[0] == SECONDS:
        return "onset (s, window centre)"
    return "fixation number (of each subject)"


def _undefined_note(figure: go.Figure, lines: list[str]) -> None:
    """List left-out values below the plot, under the axis title and legend (at most 5 lines,
    then a count); the figure grows to make room."""
    if not lines:
        return
    shown = lines[:5] + ([f"… and {len(lines) - 5} more"] if len(lines) > 5 else [])
    room = 16 * (len(shown) + 1)
    figure.add_annotation(
        text="<br>".join(["n/a (left out):", *shown]),
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        yanchor="top",
        yshift=-NOTE_OFFSET,
        showarrow=False,
        align="left",
        font={"size": 11},
    )
    figure.update_layout(
        height=LAYOUT["height"] + room,
        margin={"b": LAYOUT["margin"]["b"] + NOTE_OFFSET + room},
    )


def time_curve_figure(
    curves: pd.DataFrame, metric: str, peaks: pd.DataFrame | None = None
) -> go.Figure:
    """One line per map of ``metric`` over the windows of :func:`temporal.window_metrics`,
    with each map's peak (:func:`temporal.peak_windows`) marked by a star."""
    table = curves[curves["metric"] == metric]
    colours = _colours(table["map"])
    figure = go.Figure()
    for name, group in table.groupby("map", sort=False):
        figure.add_trace(
            go.Scatter(
                x=_x(group),
                y=group["value"],
                mode="lines+markers",
                name=str(name),
                line={"color": colours[name]},
                customdata=group[["window", "n_fixations"]],
                hovertemplate="%{customdata[0]}: %{y:.3f} (%{customdata[1]} fixations)",
            )
        )
    if peaks is not None:
        best = peaks[(peaks["metric"] == metric) & peaks["value"].notna()]
        for row in best.itertuples(index=False):
            if row.map not in colours:
                continue
            figure.add_trace(
                go.Scatter(
                    x=[(row.start + row.end) / 2],
                    y=[row.value],
                    mode="markers",
                    marker={"symbol": "star", "size": 15, "color": colours[row.map]},
                    name=f"{row.map}: peak",
                    showlegend=False,
                    hovertemplate=f"{row.map} peaks in {row.window}: %{{y:.3f}}",
                )
            )
    figure.update_layout(
        title=f"{metric} as viewing unfolds (★ peak)",
        xaxis_title=_x_title(table),
        yaxis_title=metric,
        **LAYOUT,
    )
    undefined = table[table["value"].isna()]
    _undefined_note(
        figure, [f"{r.map}, {r.window}: {r.reason}" for r in undefined.itertuples(index=False)]
    )
    return figure


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = plotly.colors.hex_to_rgb(colour)
    return f"rgba({red}, {green}, {blue}, {alpha})"


def dataset_time_figure(mean_curves: pd.DataFrame, metric: str) -> go.Figure:
    """Mean curve per map of :func:`temporal.mean_curves` with its bootstrap CI as a band."""
    table = mean_curves[mean_curves["metric"] == metric]
    colours = _colours(table["map"])
    figure = go.Figure()
    for name, group in table.groupby("map", sort=False):
        band = group.dropna(subset=["ci_low", "ci_high"])
        if not band.empty:
            figure.add_trace(
                go.Scatter(
                    x=pd.concat([_x(band), _x(band)[::-1]]),
                    y=pd.concat([band["ci_high"], band["ci_low"][::-1]]),
                    fill="toself",
                    fillcolor=_rgba(colours[name], 0.2),
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name}: CI",
                )
            )
        figure.add_trace(
            go.Scatter(
                x=_x(group),
                y=group["mean"],
                mode="lines+markers",
                name=str(name),
                line={"color": colours[name]},
                customdata=group[["window", "n_images"]],
                hovertemplate="%{customdata[0]}: mean %{y:.3f} over %{customdata[1]} images",
            )
        )
    figure.update_layout(
        title=f"Mean {metric} over images, with its 95% bootstrap CI",
        xaxis_title=_x_title(table),
        yaxis_title=metric,
        **LAYOUT,
    )
    undefined = table[table["mean"].isna()]
    _undefined_note(
        figure, [f"{r.map}, {r.window}: {r.reason}" for r in undefined.itertuples(index=False)]
    )
    return figure


def peak_time_figure(counts: pd.DataFrame, metric: str) -> go.Figure:
    """How many images peak in each window, per map (:func:`temporal.peak_time_counts`)."""
    table = counts[counts["metric"] == metric]
    colours = _colours(table["map"])
    figure = go.Figure()
    for name, group in table.groupby("map", sort=False):
        figure.add_trace(
            go.Bar(
                x=_x(group),
                y=group["n_images"],
                name=str(name),
                marker_color=colours[name],
                customdata=group[["window", "share"]],
                hovertemplate="%{customdata[0]}: %{y} images (%{customdata[1]:.0%})",
            )
        )
    figure.update_layout(
        title=f"When does {metric} peak? Images per peak window",
        xaxis_title=_x_title(table),
        yaxis_title="images",
        barmode="group",
        **LAYOUT,
    )
    return figure


def _ratio_bars(
    figure: go.Figure, labels: pd.Series, values: pd.Series, hover: pd.DataFrame, template: str
) -> None:
    """Horizontal log-ratio bars around 0, symmetric axis; ``template`` reads ``hover``."""
    figure.add_trace(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=[OVER if v > 0 else UNDER for v in values],
            customdata=hover,
            hovertemplate=f"%{{y}}: log2 ratio %{{x:.2f}}<br>{template}<extra></extra>",
            showlegend=False,
        )
    )
    reach = max(1.0, float(values.abs().max()) * 1.15) if len(values) else 1.0
    figure.add_vline(x=0, line_color="grey")
    for x, text, anchor in (
        (-reach, "← under-weighted", "left"),
        (reach, "over-weighted →", "right"),
    ):
        figure.add_annotation(x=x, y=1.02, yref="paper", text=text, showarrow=False, xanchor=anchor)
    figure.update_xaxes(range=[-reach, reach], title="log2(model share / people share)")


def region_ratio_figure(shares: pd.DataFrame, map_name: str) -> go.Figure:
    """Regions over- or under-weighted by ``map_name`` relative to people: horizontal bars of
    ``log2_ratio`` from :func:`regions.region_shares` (red > 0: more of the map's mass than of
    people's; blue < 0: less), largest first."""
    table = shares[shares["map"] == map_name]
    defined = table.dropna(subset=["log2_ratio"]).sort_values("log2_ratio")
    figure = go.Figure()
    _ratio_bars(
        figure,
        defined["region"],
        defined["log2_ratio"],
        # the people share the ratio was taken against (fixations or density)
        defined.assign(people_share=defined["map_share"] / defined["ratio"])[
            ["map_share", "people_share", "ratio"]
        ],
        "map share %{customdata[0]:.1%}, people %{customdata[1]:.1%}, "
        "ratio %{customdata[2]:.2f}",
    )
    figure.update_layout(
        title=f"{map_name}: share of the map vs share of people, per region",
        yaxis_title="region",
        **LAYOUT,
    )
    undefined = table[table["log2_ratio"].isna()]
    _undefined_note(figure, [f"{r.region}: {r.reason}" for r in undefined.itertuples(index=False)])
    return figure


def class_ratio_figure(class_ratios: pd.DataFrame, map_name: str) -> go.Figure:
    """Per category, ``map_name``'s mean log2 ratio over a dataset (:func:`regions.class_ratios`):
    the categories it over-weights (red) or under-weights (blue) relative to people."""
    table = class_ratios[class_ratios["map"] == map_name]
    defined = table.dropna(subset=["mean_log2_ratio"]).sort_values("mean_log2_ratio")
    figure = go.Figure()
    _ratio_bars(
        figure,
        defined["category"],
        defined["mean_log2_ratio"],
        defined[["n_regions", "n_images", "mean_ratio"]],
        "%{customdata[0]} regions in %{customdata[1]} images, mean ratio %{customdata[2]:.2f}",
    )
    figure.update_layout(
        title=f"{map_name}: mean log2 ratio per category",
        yaxis_title="category",
        **LAYOUT,
    )
    undefined = table[table["mean_log2_ratio"].isna()]
    _undefined_note(
        figure, [f"{r.category}: {r.reason}" for r in undefined.itertuples(index=False)]
    )
    return figure


def accuracy_scatter(
    frame: pd.DataFrame,
    agreement: str = "agreement",
    accuracy: str = "accuracy",
    label: str = "classifier",
    title: str = "ImageNet top-1 accuracy vs. mean agreement with people",
) -> go.Figure:
    """Scatter of ``frame[accuracy]`` (x, %) against ``frame[agreement]`` (y), one labelled
    point per row; rows with a NaN in either are left out and named under the title."""
    missing = [column for column in (agreement, accuracy, label) if column not in frame]
    if missing:
        raise ValueError(f"The table lacks the column(s) {', '.join(missing)}.")
    usable = frame.dropna(subset=[agreement, accuracy])
    left_out = frame.loc[~frame.index.isin(usable.index), label].astype(str).tolist()
    figure = px.scatter(
        usable,
        x=accuracy,
        y=agreement,
        text=label,
        labels={accuracy: "ImageNet top-1 accuracy (%)", agreement: f"mean {agreement}"},
        title=title,
    )
    figure.update_traces(textposition="top center")
    if left_out:
        figure.update_layout(
            title={"text": f"{title}<br><sup>not shown (no value): {', '.join(left_out)}</sup>"}
        )
    return figure
