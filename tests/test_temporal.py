"""Agreement over time: ordinal and onset windows, per-window metrics, peaks, dataset curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core.data.fixations import default_sigma, density_map, read_fixation_table
from saliency_core.scoring import metrics, temporal

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample"


def gaussian_map(shape: tuple[int, int], centre: tuple[float, float], sigma: float) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2) / (2 * sigma**2))


def early_late_table() -> pd.DataFrame:
    """Two subjects: fixations before 0.5 s near (8, 8), later ones near (24, 24)."""
    return pd.DataFrame(
        {
            "x": [8.0, 9.0, 24.0, 25.0, 7.0, 23.0, 24.0, 26.0],
            "y": [8.0, 7.0, 24.0, 23.0, 9.0, 25.0, 24.0, 22.0],
            "subject": [0, 0, 0, 0, 1, 1, 1, 1],
            "onset_s": [0.1, 0.3, 0.6, 1.2, 0.2, 0.7, 0.9, 1.4],
        }
    )


def test_time_curve_peaks_in_the_first_window_for_a_map_on_the_early_fixations():
    shape = (32, 32)
    maps = {"early": gaussian_map(shape, (8, 8), 3.0)}
    windows = temporal.split_by_onset(early_late_table(), 0.5)
    assert [w.label for w in windows] == ["0–0.5 s", "0.5–1 s", "1–1.5 s"]
    assert [len(w.points) for w in windows] == [3, 3, 2]
    curves = temporal.window_metrics(maps, windows, sigma=2.0, percent=10.0)
    assert list(curves.columns) == temporal.COLUMNS
    assert len(curves) == 3 * 3
    nss = curves[curves["metric"] == "NSS"].set_index("start")["value"]
    assert nss[0.0] > 2.0 and nss[0.5] < 0 and nss[1.0] < 0
    peaks = temporal.peak_windows(curves)
    assert list(peaks["metric"]) == list(temporal.TIME_METRICS)
    assert (peaks["start"] == 0.0).all() and (peaks["window"] == "0–0.5 s").all()
    assert peaks["reason"].isna().all()
    assert peaks.set_index("metric").loc["NSS", "value"] == pytest.approx(nss[0.0])


def test_window_metrics_equal_the_metric_functions_on_the_window_fixations():
    shape = (32, 32)
    saliency = gaussian_map(shape, (20, 12), 5.0)
    window = temporal.split_by_onset(early_late_table(), 0.5)[1]
    row = temporal.window_metrics({"m": saliency}, [window], sigma=2.0).set_index("metric")
    assert row.loc["NSS", "value"] == pytest.approx(metrics.nss(saliency, window.points))
    assert row.loc["AUC-Judd", "value"] == pytest.approx(metrics.auc_judd(saliency, window.points))
    expected = metrics.top_percent_iou(saliency, density_map(window.points, shape, 2.0), 10.0)
    assert row.loc["IoU@top-p%", "value"] == pytest.approx(expected)
    assert (row["n_fixations"] == 3).all()


def test_onset_windows_boundaries_and_empty_windows():
    table = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "subject": [0, 0, 0], "onset_s": [0, 0.6, 1.0]}
    )
    windows = temporal.split_by_onset(table, 0.2)
    # 0.6 / 0.2 is 2.9999999999999996 in floats: it still opens the fourth window [0.6, 0.8)
    assert [len(w.points) for w in windows] == [1, 0, 0, 1, 0, 1]
    assert windows[3].start == pytest.approx(0.6) and windows[-1].end == pytest.approx(1.2)
    curves = temporal.window_metrics({"m": gaussian_map((8, 8), (2, 2), 1.0)}, windows, sigma=1.0)
    empty = curves[curves["start"] == pytest.approx(0.2)]
    assert empty["value"].isna().all()
    assert (empty["reason"] == temporal.EMPTY_WINDOW).all()
    assert (empty["n_fixations"] == 0).all()


def test_missing_onsets_are_refused_not_guessed():
    for table in (
        early_late_table().drop(columns="onset_s"),
        early_late_table().assign(onset_s=np.nan),
        early_late_table().assign(onset_s="soon"),
    ):
        with pytest.raises(ValueError) as error:
            temporal.split_by_onset(table, 0.5)
        assert str(error.value) == temporal.NO_ONSETS
        assert not temporal.has_onsets(table) and temporal.onset_note(table) is None
    with pytest.raises(ValueError, match="width must be > 0"):
        temporal.split_by_onset(early_late_table(), 0)


def test_fixations_without_an_onset_are_left_out_of_the_onset_windows_only():
    table = early_late_table()
    table["onset_s"] = table["onset_s"].astype(object)
    table.loc[2, "onset_s"] = np.nan  # subject 0's third fixation (0.6 s)
    table.loc[4, "onset_s"] = "soon"  # subject 1's first (0.2 s)
    table.loc[7, "onset_s"] = -1.0  # subject 1's last (1.4 s)
    windows = temporal.split_by_onset(table, 0.5)
    assert [len(w.points) for w in windows] == [2, 2, 1]
    np.testing.assert_array_equal(windows[1].points, [[23.0, 25.0], [24.0, 24.0]])
    assert temporal.onset_note(table) == (
        "3 of 8 fixations carry no onset time (onset_s empty or not a number of seconds >= 0): "
        "they are left out of the onset windows"
    )
    assert temporal.onset_note(early_late_table()) is None
    assert [len(w.points) for w in temporal.split_by_ordinal(table)] == [2, 2, 2, 2]


def test_ordinals_follow_onsets_within_each_subject_else_file_order():
    table = pd.DataFrame(
        {
            "x": [0.0] * 5,
            "y": [0.0] * 5,
            "subject": ["a", "b", "a", "a", "b"],
            "onset_s": [0.9, 0.5, 0.1, 0.4, 0.2],
        }
    )
    assert temporal.ordinals(table).tolist() == [3, 2, 1, 2, 1]
    assert temporal.ordinals(table.drop(columns="onset_s")).tolist() == [1, 1, 2, 3, 2]
    # an onset missing (empty or unusable): the file order, no error
    for missing in (np.nan, "soon"):
        partial = table.astype({"onset_s": object})
        partial.loc[3, "onset_s"] = missing
        assert temporal.ordinals(partial).tolist() == [1, 1, 2, 3, 2]
    with pytest.raises(ValueError, match="subject ids"):
        temporal.ordinals(table.drop(columns="subject"))


def test_split_by_ordinal_gives_the_kth_fixation_of_every_subject():
    windows = temporal.split_by_ordinal(early_late_table())
    assert [w.label for w in windows] == [f"fixation {k}" for k in (1, 2, 3, 4)]
    assert windows[0].unit == temporal.ORDINAL and windows[0].start == windows[0].end == 1
    np.testing.assert_array_equal(windows[0].points, [[8.0, 8.0], [7.0, 9.0]])
    np.testing.assert_array_equal(windows[3].points, [[25.0, 23.0], [26.0, 22.0]])
    assert len(temporal.split_by_ordinal(early_late_table(), max_ordinal=2)) == 2


def test_peaks_prefer_the_earliest_tie_and_report_never_defined_curves():
    curves = pd.DataFrame(
        {
            "map": ["a"] * 3 + ["b"] * 2,
            "window": ["w0", "w1", "w2", "w0", "w1"],
            "unit": ["s"] * 5,
            "start": [0.0, 0.5, 1.0, 0.0, 0.5],
            "end": [0.5, 1.0, 1.5, 0.5, 1.0],
            "n_fixations": [1] * 5,
            "metric": ["NSS"] * 5,
            "value": [0.1, 0.7, 0.7, np.nan, np.nan],
            "higher_is_better": [True] * 5,
            "reason": [None, None, None, "x", "x"],
        }
    )
    peaks = temporal.peak_windows(curves).set_index("map")
    assert peaks.loc["a", "window"] == "w1" and peaks.loc["a", "value"] == 0.7
    assert np.isnan(peaks.loc["b", "value"]) and peaks.loc["b", "reason"] == temporal.NEVER_DEFINED


def per_image_rows(values: list[float | None], start: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image": [f"i{k}" for k in range(len(values))],
            "map": "m",
            "window": "0–0.5 s",
            "unit": "s",
            "start": start,
            "end": start + 0.5,
            "n_fixations": 1,
            "metric": "NSS",
            "value": [np.nan if v is None else v for v in values],
            "higher_is_better": True,
            "reason": [("x" if v is None else None) for v in values],
        }
    )


def test_mean_curves_average_images_with_a_seeded_bootstrap_band():
    table = pd.concat(
        [per_image_rows([0.2, 0.4, 0.9, None]), per_image_rows([0.5], start=0.5)],
        ignore_index=True,
    )
    curves = temporal.mean_curves(table, n_resamples=500, seed=3)
    assert list(curves.columns) == temporal.CURVE_COLUMNS
    first, second = curves.iloc[0], curves.iloc[1]
    assert first["mean"] == pytest.approx(0.5)
    assert (first["n_images"], first["n_undefined"]) == (3, 1)
    assert 0.2 <= first["ci_low"] < 0.5 < first["ci_high"] <= 0.9
    assert second["mean"] == 0.5 and np.isnan(second["ci_low"])
    assert "at least 2 images" in second["reason"]
    pd.testing.assert_frame_equal(curves, temporal.mean_curves(table, n_resamples=500, seed=3))
    undefined = temporal.mean_curves(per_image_rows([None, None]))
    assert np.isnan(undefined["mean"].iloc[0]) and "every image" in undefined["reason"].iloc[0]


def test_peak_time_counts_give_the_distribution_of_peak_windows():
    peaks = pd.DataFrame(
        {
            "map": ["m"] * 4,
            "metric": ["NSS"] * 4,
            "window": ["0–0.5 s", "0.5–1 s", "0–0.5 s", None],
            "unit": ["s"] * 4,
            "start": [0.0, 0.5, 0.0, np.nan],
            "end": [0.5, 1.0, 0.5, np.nan],
            "value": [1.0, 2.0, 0.5, np.nan],
            "reason": [None, None, None, temporal.NEVER_DEFINED],
        }
    )
    counts = temporal.peak_time_counts(peaks)
    assert counts["start"].tolist() == [0.0, 0.5]
    assert counts["n_images"].tolist() == [2, 1]
    assert counts["share"].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_sample_004_time_curves_are_finite_where_windows_hold_fixations():
    table = read_fixation_table(SAMPLE / "fixations" / "004.csv")
    width, height = Image.open(SAMPLE / "images" / "004.jpg").size
    shape = (height, width)
    maps = {"centre": gaussian_map(shape, (width / 2, height / 2), width / 4)}
    windows = temporal.split_by_onset(table, 0.5)
    assert len(windows) == 6  # last onset 2.772 s
    curves = temporal.window_metrics(maps, windows, sigma=default_sigma(shape))
    assert np.isfinite(curves["value"]).all() and curves["reason"].isna().all()
    assert curves.groupby("start")["n_fixations"].first().sum() == len(table)
    by_ordinal = temporal.window_metrics(maps, temporal.split_by_ordinal(table), sigma=8.0)
    assert np.isfinite(by_ordinal["value"]).all()
    assert temporal.peak_windows(by_ordinal)["reason"].isna().all()
