"""Plotly charts: time curves and region ratios (traces, peak markers, bands, bar colours), and
the accuracy-vs-agreement scatter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from saliency_core import viz
from saliency_core.scoring import regions, temporal
from ui import charts


def curves() -> pd.DataFrame:
    rows, cols = np.mgrid[:16, :16]
    maps = {
        "early": np.exp(-((cols - 4) ** 2 + (rows - 4) ** 2) / 8.0),
        "late": np.exp(-((cols - 12) ** 2 + (rows - 12) ** 2) / 8.0),
    }
    windows = [
        temporal.Window("0–0.5 s", "s", 0.0, 0.5, np.array([[4.0, 4.0], [5.0, 4.0]])),
        temporal.Window("0.5–1 s", "s", 0.5, 1.0, np.array([[12.0, 12.0], [11.0, 12.0]])),
        temporal.Window("1–1.5 s", "s", 1.0, 1.5, np.empty((0, 2))),
    ]
    return temporal.window_metrics(maps, windows, sigma=1.0)


def test_time_curve_figure_draws_a_line_per_map_and_stars_the_peaks():
    table = curves()
    figure = charts.time_curve_figure(table, "NSS", temporal.peak_windows(table))
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    stars = [trace for trace in figure.data if trace.mode == "markers"]
    assert [trace.name for trace in lines] == ["early", "late"]
    assert list(lines[0].x) == [0.25, 0.75, 1.25]
    assert {(trace.x[0], trace.marker.symbol) for trace in stars} == {
        (0.25, "star"),
        (0.75, "star"),
    }
    assert stars[0].marker.color == lines[0].line.color
    assert figure.layout.xaxis.title.text == "onset (s, window centre)"
    note = figure.layout.annotations[0].text
    assert "early, 1–1.5 s: " + temporal.EMPTY_WINDOW in note


def test_dataset_time_figure_draws_the_ci_band_under_the_mean():
    per_image = pd.concat([curves().assign(image="a"), curves().assign(image="b")])
    per_image.loc[per_image["image"] == "b", "value"] *= 0.5
    mean = temporal.mean_curves(per_image, n_resamples=200)
    figure = charts.dataset_time_figure(mean, "NSS")
    band, line = figure.data[0], figure.data[1]
    assert band.fill == "toself" and line.name == "early"
    assert len(band.x) == 4  # two windows with a CI, there and back
    high = mean[(mean["map"] == "early") & (mean["metric"] == "NSS")]["ci_high"].iloc[0]
    assert band.y[0] == pytest.approx(high)


def test_peak_time_figure_counts_images_per_window():
    peaks = pd.concat(
        [temporal.peak_windows(curves()).assign(image=k) for k in ("a", "b")], ignore_index=True
    )
    figure = charts.peak_time_figure(temporal.peak_time_counts(peaks), "NSS")
    assert [(trace.name, list(trace.x), list(trace.y)) for trace in figure.data] == [
        ("early", [0.25], [2]),
        ("late", [0.75], [2]),
    ]


def test_region_ratio_figure_colours_over_and_under_weighted_regions():
    shape = (10, 10)
    saliency = np.full(shape, 0.2)
    saliency[0:2, 0:5] = 3.0
    saliency[5:10, 5:10] = 1.0
    boxes = np.array([[0.0, 0.0, 5.0, 2.0], [5.0, 5.0, 10.0, 10.0], [0.0, 5.0, 2.0, 10.0]])
    fixations = np.array([[2.0, 1.0], [7.0, 7.0], [8.0, 6.0], [7.0, 1.0]])
    shares = regions.region_shares(
        regions.from_boxes(boxes, ["person", "dog", "person"], shape), {"m": saliency}, fixations, 0
    )
    figure = charts.region_ratio_figure(shares, "m")
    bars = figure.data[0]
    assert list(bars.y) == ["dog 1", "person 1"]
    assert list(bars.marker.color) == [charts.UNDER, charts.OVER]
    assert bars.customdata[1][1] == pytest.approx(1 / 4)  # people's share of person 1
    assert "person 2: " + regions.NO_PEOPLE_SHARE in figure.layout.annotations[-1].text
    classes = regions.class_ratios(shares.assign(image="a"))
    class_bars = charts.class_ratio_figure(classes, "m").data[0]
    assert list(class_bars.y) == ["dog", "person"]


def test_scatter_plots_one_point_per_classifier_and_names_the_missing():
    frame = pd.DataFrame(
        {
            "classifier": ["ResNet-50", "ViT-B/16", "Swin-T (UNTRAINED)"],
            "accuracy": [80.858, 81.072, float("nan")],
            "agreement": [0.41, 0.37, 0.12],
        }
    )
    figure = charts.accuracy_scatter(frame)
    (trace,) = figure.data
    assert list(trace.x) == [80.858, 81.072] and list(trace.y) == [0.41, 0.37]
    assert list(trace.text) == ["ResNet-50", "ViT-B/16"]
    assert "not shown (no value): Swin-T (UNTRAINED)" in figure.layout.title.text
    assert figure.layout.xaxis.title.text == "ImageNet top-1 accuracy (%)"
    with pytest.raises(ValueError, match="lacks the column"):
        charts.accuracy_scatter(frame.drop(columns="agreement"))


def test_a_cached_iou_curve_marked_unvalidated_equals_the_validated_figure():
    table = pd.DataFrame(
        {"map": ["a", "a", "b", "b"], "percent": [1.0, 2.0, 1.0, 2.0], "iou": [0.1, 0.2, 0.3, 0.4]}
    )
    base = viz.iou_curve_figure(table, "fixations").to_dict()
    assert "shapes" not in base["layout"]
    figure = viz.marked(base, 7.5)
    assert figure.to_dict() == viz.iou_curve_figure(table, "fixations", 7.5).to_dict()
    assert figure.layout.shapes[0].x0 == 7.5 and figure.layout.shapes[0].line.dash == "dot"
    assert "shapes" not in base["layout"], "the cached figure is left as it was"
    assert viz.marked(figure.to_dict(), 20).layout.shapes[0].x0 == 20  # replaced, not added
