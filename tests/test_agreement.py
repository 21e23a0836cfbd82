"""Agreement tables, fast top-p% masks, consensus maps, and the pictures drawn from them."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core import viz
from saliency_core.maps.cams import Detections
from saliency_core.scoring import agreement, metrics
from saliency_core.study import TIES_INCLUDE, TIES_NO_OVERSHOOT
from ui import matrix


@pytest.mark.parametrize("percent", [0, 0.5, 1, 2.5, 10, 33.3, 50, 99, 100])
def test_ranked_masks_equal_the_metric_definition(percent: float):
    rng = np.random.default_rng(1)
    values = rng.random((37, 53))
    values[:5, :5] = values.max()  # ties at the top
    ranked = agreement.RankedMap(values)
    np.testing.assert_array_equal(ranked.mask(percent), metrics.top_percent_mask(values, percent))


@pytest.mark.parametrize("level", [0.0, 0.7])
@pytest.mark.parametrize(
    ("ties", "percent", "selected"),
    [
        # the one tie block (20 px) exceeds ⌈p% · 20⌉ px and nothing lies above it: excluded
        (TIES_NO_OVERSHOOT, 10, 0),
        (TIES_NO_OVERSHOOT, 50, 0),
        (TIES_NO_OVERSHOOT, 100, 20),  # 20 px ≤ ⌈100% · 20⌉: no overshoot
        # the study's m ≥ percentile(m, 100 − p): every tie, so every pixel
        (TIES_INCLUDE, 10, 20),
        (TIES_INCLUDE, 50, 20),
    ],
)
def test_a_constant_map_selects_what_its_tie_rule_says(level, ties, percent, selected):
    """Issue 20 §6: "never more than p%" selected 100% of a constant map."""
    flat = np.full((4, 5), level)
    expected = np.full((4, 5), selected == 20)
    ranked = agreement.RankedMap(flat)
    np.testing.assert_array_equal(ranked.mask(percent, ties), expected)
    assert ranked.selected_share(percent, ties) == selected / 20
    selection = metrics.top_percent_selection(flat, percent, ties)
    np.testing.assert_array_equal(selection.mask, expected)
    assert selection.share == selected / 20 and selection.flag == metrics.FEW_ABOVE_MINIMUM


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        # ties at the maximum of a map that has lower values (a binary mask): kept whole
        ([0.0, 1.0, 1.0, 1.0], 25, [False, True, True, True]),
        # a tie block below the maximum that would exceed ⌈50% · 4⌉ = 2 px: excluded
        ([0.0, 0.5, 0.5, 1.0], 50, [False, False, False, True]),
    ],
)
def test_never_more_than_p_percent_excludes_an_overshooting_tie_block(values, percent, expected):
    row = np.array([values])
    assert agreement.RankedMap(row).mask(percent).tolist() == [expected]
    assert metrics.top_percent_mask(row, percent).tolist() == [expected]


def test_ranked_iou_matches_the_metric_and_explains_nan():
    rng = np.random.default_rng(2)
    a, b = rng.random((20, 20)), rng.random((20, 20))
    fast = agreement.ranked_iou(agreement.RankedMap(a), agreement.RankedMap(b), 10)
    assert fast.value == pytest.approx(metrics.top_percent_iou(a, b, 10))
    constant = agreement.ranked_iou(
        agreement.RankedMap(a), agreement.RankedMap(np.ones_like(b)), 10
    )
    assert np.isnan(constant.value) and constant.reason == metrics.CONSTANT_MAP


def test_tables_hold_every_pair_and_no_silent_nan():
    cam = np.zeros((10, 10))
    cam[:2, :5] = 1.0  # top 10% = the first 10 pixels
    human = np.zeros((10, 10))
    human[:1, :] = 1.0  # top 10% = row 0
    flat = np.full((10, 10), 0.5)
    maps = {"cam": cam, "flat": flat}
    refs = {"human": human}
    ranked = {name: agreement.RankedMap(v) for name, v in {**maps, **refs}.items()}
    iou = agreement.iou_table({k: ranked[k] for k in maps}, {"human": ranked["human"]}, 10)
    cam_iou = iou.set_index("map").loc["cam", "value"]
    assert cam_iou == pytest.approx(5 / 15)  # |row0 ∩ first 10| = 5, union = 10 + 10 − 5
    static = agreement.map_metrics(maps, refs)
    assert set(static["metric"]) == set(agreement.MAP_METRICS) and len(static) == 8
    mae = static.query("map == 'cam' and metric == 'MAE'")["value"].item()
    assert mae == pytest.approx(np.abs(cam - human).mean())
    summary = agreement.widen(iou)
    assert summary.table.shape == (2, 1)
    assert summary.table.index.tolist() == [("human", "cam"), ("human", "flat")]
    assert summary.notes == ["flat vs human, IoU@top-p%: constant map: the metric is undefined"]


def test_fixation_table_is_reproducible_and_covers_every_metric():
    s = np.zeros((20, 20))
    s[5, 5] = 1.0
    s += np.linspace(0, 0.1, 400).reshape(20, 20)
    fixations = np.array([[5, 5], [19, 19]])  # the peak and the ramp's top corner
    baseline = np.ones((20, 20)) + np.eye(20)
    first = agreement.fixation_metrics({"s": s}, fixations, baseline=baseline, seed=3)
    second = agreement.fixation_metrics({"s": s}, fixations, baseline=baseline, seed=3)
    assert list(first["metric"]) == list(agreement.FIXATION_METRICS)
    np.testing.assert_array_equal(first["value"], second["value"])
    sauc = first.set_index("metric").loc["sAUC"]
    assert np.isnan(sauc["value"]) and "fixations from other images" in sauc["reason"]
    assert first.set_index("metric").loc["AUC-Judd", "value"] == pytest.approx(1.0)


def test_iou_curves_and_consensus():
    a = np.arange(100, dtype=float).reshape(10, 10)
    ranked = agreement.RankedMap(a)
    curves = agreement.iou_curves({"a": ranked, "ref": ranked}, ranked, [1, 10], "ref")
    assert curves["iou"].tolist() == [1.0, 1.0] and set(curves["map"]) == {"a"}
    mean = agreement.consensus([a, a[::-1]])
    assert mean.min() == 0.0 and mean.max() == 1.0 and mean.dtype == np.float32
    smooth = agreement.consensus([a], sigma=2.0)
    assert smooth.shape == a.shape
    np.testing.assert_array_equal(agreement.consensus([np.ones((3, 3))]), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least one map"):
        agreement.consensus([])


def test_threshold_view_draws_each_map_against_the_shown_reference():
    rng = np.random.default_rng(4)
    maps = {name: agreement.RankedMap(rng.random((16, 16))) for name in ("a", "b", "ref")}
    refs = {"ref": maps["ref"]}
    paint = viz.AgreementPainter(np.zeros((16, 16, 3), np.uint8))
    view = matrix.threshold_view(paint, maps, refs, "ref", 25)
    masks = agreement.top_masks(maps, 25)
    np.testing.assert_array_equal(view.picture("a"), paint(masks["a"], masks["ref"]))
    expected = metrics.top_percent_iou(maps["a"].values, maps["ref"].values, 25)
    assert view.iou.set_index("map").loc["a", "value"] == pytest.approx(expected)


def test_threshold_view_paints_a_picture_only_when_asked(monkeypatch: pytest.MonkeyPatch):
    """The live slider draws the pictures in the browser: a run that shows none paints none."""
    painted: list[int] = []
    real = viz.AgreementPainter.__call__
    monkeypatch.setattr(
        viz.AgreementPainter,
        "__call__",
        lambda self, *masks: painted.append(1) or real(self, *masks),
    )
    ranked = {
        n: agreement.RankedMap(np.arange(16.0).reshape(4, 4) * k) for k, n in [(1, "a"), (-1, "r")]
    }
    paint = viz.AgreementPainter(np.zeros((4, 4, 3), np.uint8))
    view = matrix.threshold_view(paint, {"a": ranked["a"]}, {"r": ranked["r"]}, "r", 25)
    assert painted == [] and view.iou["value"].tolist() == [0.0]
    view.picture("a")
    assert painted == [1]


def test_a_constant_maps_panel_selects_nothing_and_is_named():
    ref = np.zeros((4, 5))
    ref[0] = 1.0  # its top 25% = row 0
    ranked = {"flat": agreement.RankedMap(np.zeros((4, 5))), "ref": agreement.RankedMap(ref)}
    paint = viz.AgreementPainter(np.full((4, 5, 3), 100, np.uint8))
    view = matrix.threshold_view(paint, {"flat": ranked["flat"]}, {"ref": ranked["ref"]}, "ref", 25)
    assert view.constant == {"flat"}
    # no red (map only) and no yellow (both): the reference's row alone, in blue
    np.testing.assert_array_equal(view.picture("flat"), paint(np.zeros((4, 5), bool), ref > 0))
    assert view.iou["reason"].tolist() == [metrics.CONSTANT_MAP]


def test_pictures():
    rgb = np.full((40, 60, 3), 100, np.uint8)
    heat = np.zeros((40, 60))
    heat[:, 30:] = 1.0
    over = viz.overlay(rgb, heat, alpha=0.5)
    assert over.shape == rgb.shape and over.dtype == np.uint8
    assert tuple(over[0, 59]) != tuple(over[0, 0])
    mask = np.zeros((40, 60), bool)
    mask[:, :30] = True
    ref = np.zeros((40, 60), bool)
    ref[:, 20:40] = True
    picture = viz.AgreementPainter(rgb)(mask, ref)
    assert picture[0, 25].tolist() == [216, 190, 25]  # both: 0.25·100 + 0.75·(255, 221, 0)
    assert picture[0, 50].tolist() == [35, 35, 35]  # neither: dimmed to 35%
    dets = Detections(
        np.array([[5, 5, 30, 30]], np.float32),
        np.array([0.9], np.float32),
        np.array([1]),
        ["person"],
    )
    drawn = viz.draw_detections(rgb, dets)
    assert (drawn != rgb).any() and drawn.shape == rgb.shape
    dotted = viz.draw_fixations(rgb, np.array([[10.0, 10.0], [np.nan, 3.0]]))
    assert dotted[10, 10].tolist() == [60, 255, 90]
    sheet = viz.grid_figure([("a long title " * 5, rgb), ("b", rgb)], columns=2, tile=100)
    assert sheet.shape[1] == 2 * (100 + 8) + 8
    assert viz.png_bytes(sheet)[:8] == b"\x89PNG\r\n\x1a\n"


def test_explained_boxes_are_drawn_thick_in_a_white_rim_and_the_others_thin():
    rgb = np.full((200, 200, 3), 100, np.uint8)
    dets = Detections(
        np.array([[20, 40, 80, 160], [120, 40, 180, 160]], np.float32),
        np.array([0.9, 0.6], np.float32),
        np.array([1, 3]),
        ["person", "car"],
    )
    plain = viz.draw_detections(rgb, dets)
    marked = viz.draw_detections(rgb, dets, explained=np.array([1]))
    width = 2  # max(2, round(200 / 250))

    def left_edge(picture: np.ndarray, x: int) -> list[bool]:
        """Which of the 8 columns from the left edge x differ from the background (row 100)."""
        return [picture[100, x + k].tolist() != [100, 100, 100] for k in range(8)]

    assert left_edge(plain, 20) == [True] * width + [False] * 6
    assert left_edge(marked, 20) == [True] + [False] * 7  # unexplained: thin, 1 px
    assert left_edge(marked, 120) == [True] * (2 * width + 2) + [False] * 2
    assert marked[100, 120 + 2 * width + 1].tolist() == [255, 255, 255]  # the white inner rim
    assert marked[100, 120].tolist() == plain[100, 120].tolist()  # the label colour outside
