"""Metrics: hand-computed values on tiny maps, undefined cases, properties, registry and wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saliency_core.data.fixations import fixation_map
from saliency_core.scoring.metrics import (
    ALL_PIXELS_FIXATED,
    CONSTANT_MAP,
    EMPTY_MASK,
    EPS,
    METRICS,
    NO_FIXATIONS,
    NO_OTHER_FIXATIONS,
    ZERO_MASS,
    MetricValue,
    UndefinedMetricError,
    auc_borji,
    auc_judd,
    cc,
    compute,
    compute_all,
    info_gain,
    kld,
    mae,
    normalize,
    nss,
    sauc,
    sim,
    top_percent_iou,
    top_percent_mask,
)

TEN = np.arange(10.0).reshape(2, 5)  # [[0 1 2 3 4], [5 6 7 8 9]]


def random_maps(n: int = 3, shape: tuple[int, int] = (16, 12), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(shape) for _ in range(n)]


# --- normalize / MAE ----------------------------------------------------------------------------


def test_normalize_is_min_max():
    # (m - 1) / (9 - 1)
    np.testing.assert_allclose(normalize([[1, 3], [5, 9]]), [[0, 0.25], [0.5, 1]])


def test_normalize_constant_map_raises_with_reason():
    with pytest.raises(UndefinedMetricError) as error:
        normalize(np.full((2, 2), 0.3))
    assert error.value.reason == CONSTANT_MAP


def test_mae_hand_computed():
    # â = [0, .25, .5, 1]; b̂ = ([1, 1, 1, 3] - 1) / 2 = [0, 0, 0, 1]
    # |â - b̂| = [0, .25, .5, 0] -> mean 0.75 / 4 = 0.1875
    a = np.array([[0.0, 2.0], [4.0, 8.0]])
    b = np.array([[1.0, 1.0], [1.0, 3.0]])
    assert mae(a, b) == pytest.approx(0.1875)
    assert mae(3 * a + 1, 0.5 * b) == pytest.approx(0.1875)  # min-max: affine invariant
    assert mae(b, a) == pytest.approx(0.1875)
    assert mae(a, a) == 0.0


def test_mae_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\) and \(5, 2\)"):
        mae(TEN, TEN.T)


def test_maps_must_be_finite_2d():
    with pytest.raises(ValueError, match="NaN or infinite"):
        cc(np.array([[0.0, np.nan]]), np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        cc(np.arange(3.0), np.arange(3.0))


# --- top-p% masks and IoU -------------------------------------------------------------------------


def test_top_percent_mask_uses_the_study_percentile():
    # percentile(0..9, 90): rank 0.9 * 9 = 8.1 -> 8 + 0.1 * (9 - 8) = 8.1 -> only 9 passes
    assert np.argwhere(top_percent_mask(TEN, 10)).tolist() == [[1, 4]]
    # percentile(0..9, 80) = 7.2 -> 8 and 9
    assert np.argwhere(top_percent_mask(TEN, 20)).tolist() == [[1, 3], [1, 4]]


def test_top_percent_mask_includes_ties_under_the_study_rule():
    # percentile([0, 1, 1, 1], 75): rank 2.25 between 1 and 1 -> 1 -> three pixels, not one
    assert top_percent_mask(np.array([[0.0, 1.0, 1.0, 1.0]]), 25, ties="include").tolist() == [
        [False, True, True, True]
    ]


def test_top_percent_mask_percent_bounds():
    assert top_percent_mask(TEN, 100).all()
    assert not top_percent_mask(TEN, 0).any()  # top 0% is empty, not the maximum
    for percent in (-1, 100.5):
        with pytest.raises(ValueError, match=r"\[0, 100\]"):
            top_percent_mask(TEN, percent)


def test_iou_hand_computed():
    # top 20% of TEN: values 8, 9 at (1, 3), (1, 4)
    # b's top 20%: its 8 at (0, 0) and 9 at (1, 4) -> intersection 1, union 3
    b = np.array([[8.0, 0, 1, 2, 3], [4, 5, 6, 7, 9]])
    assert top_percent_iou(TEN, b, 20) == pytest.approx(1 / 3)
    assert top_percent_iou(TEN, b, 10) == 1.0  # both top-10% masks are {(1, 4)}
    assert top_percent_iou(TEN, TEN, 10) == 1.0
    assert top_percent_iou(TEN, 2 * TEN + 1, 37) == 1.0


def test_iou_undefined_cases():
    with pytest.raises(UndefinedMetricError) as error:
        top_percent_iou(TEN, np.zeros_like(TEN), 10)
    assert error.value.reason == CONSTANT_MAP
    with pytest.raises(UndefinedMetricError) as error:
        top_percent_iou(TEN, TEN, 0)
    assert error.value.reason == EMPTY_MASK


# --- CC, SIM, KLD ---------------------------------------------------------------------------------


def test_cc_hand_computed():
    # deviations [-1, 0, 1] and [-1, 1, 0]: Σ products 1, Σ squares 2 and 2 -> 1 / 2
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 3.0, 2.0]])
    assert cc(a, b) == pytest.approx(0.5)
    assert cc(a, 4 * a + 2) == pytest.approx(1.0)
    assert cc(a, -a) == pytest.approx(-1.0)


def test_cc_symmetric_and_bounded():
    a, b, c = random_maps()
    assert cc(a, b) == pytest.approx(cc(b, a))
    assert -1.0 <= cc(a, b) <= 1.0
    assert -1.0 <= cc(a + c, a - c) <= 1.0
    assert cc(a, a) == pytest.approx(1.0)


def test_cc_constant_map_undefined():
    with pytest.raises(UndefinedMetricError, match="constant map"):
        cc(TEN, np.ones_like(TEN))


def test_sim_hand_computed():
    # a: min-max [0, 1/3, 1], sum 4/3 -> [0, .25, .75]; b: min-max [1, 0, 1], sum 2 -> [.5, 0, .5]
    # Σ min = 0 + 0 + .5
    a, b = np.array([[0.0, 1.0, 3.0]]), np.array([[2.0, 0.0, 2.0]])
    assert sim(a, b) == pytest.approx(0.5)
    assert sim(b, a) == pytest.approx(0.5)
    assert sim(a, 7 * a) == pytest.approx(1.0)


def test_sim_bounded_and_constant_undefined():
    a, b, _ = random_maps()
    assert 0.0 <= sim(a, b) <= 1.0
    with pytest.raises(UndefinedMetricError, match="constant map"):
        sim(a, np.zeros_like(a))


def test_kld_hand_computed():
    # p̂ = [1, 1, 2] / 4 = [.25, .25, .5]; q̂ = [1, 0, 1] / 2 = [.5, 0, .5]
    # KLD = .5 ln(.5 / .25) + 0 + .5 ln(.5 / .5) = .5 ln 2 (ε = 2.2e-16 negligible)
    p, q = np.array([[1.0, 1.0, 2.0]]), np.array([[1.0, 0.0, 1.0]])
    assert kld(p, q) == pytest.approx(0.5 * math.log(2))
    assert kld(10 * p, 0.1 * q) == pytest.approx(0.5 * math.log(2))  # sum-normalised
    # Direction: the reference (second) is the ground truth. With q as the prediction, its zero
    # where the ground truth has .25 costs .25 ln(.25 / ε):
    # .25 ln(.25 / ε) + .25 ln(.25 / .5) + .5 ln(.5 / .5)
    expected = 0.25 * math.log(0.25 / EPS) + 0.25 * math.log(0.5)
    assert kld(q, p) == pytest.approx(expected, rel=1e-9)


def test_kld_non_negative_and_zero_for_identical():
    a, b, _ = random_maps()
    assert kld(a, b) > 0
    assert kld(b, a) > 0
    assert kld(a, a) == pytest.approx(0.0, abs=1e-9)
    assert kld(np.ones((3, 3)), np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)


def test_kld_zero_mass_and_negative_values():
    with pytest.raises(UndefinedMetricError) as error:
        kld(np.zeros((2, 2)), np.ones((2, 2)))
    assert error.value.reason == ZERO_MASS
    with pytest.raises(ValueError, match="non-negative"):
        kld(np.array([[-1.0, 2.0]]), np.array([[1.0, 1.0]]))


# --- NSS ------------------------------------------------------------------------------------------

ROW = np.array([[0.0, 1.0, 2.0, 3.0]])  # mean 1.5, sample var (2.25 + .25 + .25 + 2.25) / 3 = 5/3


def test_nss_hand_computed():
    std = math.sqrt(5 / 3)
    assert nss(ROW, np.array([[3, 0]])) == pytest.approx(1.5 / std)  # (3 - 1.5) / 1.2910
    assert nss(ROW, np.array([[3, 0], [0, 0]])) == pytest.approx(0.0)  # (1.5 - 1.5) / 2 / std
    assert nss(2 * ROW + 7, np.array([[3, 0]])) == pytest.approx(1.5 / std)


def test_nss_counts_a_pixel_once_and_drops_outside_points():
    # MIT binary fixation map: the repeated (3, 0) counts once -> mean of z(3) and z(0) = 0
    assert nss(ROW, np.array([[3, 0], [3, 0], [0, 0]])) == pytest.approx(0.0)
    # (10, 0), (-3, 0) and (1, 2) are outside the 1×4 map; (2.6, 0.2) rounds to pixel (3, 0)
    points = np.array([[10.0, 0.0], [-3.0, 0.0], [1.0, 2.0], [2.6, 0.2]])
    assert nss(ROW, points) == pytest.approx(1.5 / math.sqrt(5 / 3))


@pytest.mark.parametrize(
    "points", [np.empty((0, 2)), np.array([[9.0, 9.0], [-1.0, 0.0]])], ids=["empty", "outside"]
)
def test_nss_without_fixations_undefined(points):
    with pytest.raises(UndefinedMetricError) as error:
        nss(ROW, points)
    assert error.value.reason == NO_FIXATIONS


# --- AUCs -----------------------------------------------------------------------------------------


def test_auc_judd_hand_computed():
    # fixated values .8 (x=3) and .35 (x=2); negatives .1, .4; P = 4, N = 2
    # t = .8:  TPR 1/2, FPR (1 - 1) / 2 = 0;  t = .35: TPR 2/2, FPR (3 - 2) / 2 = .5
    # curve (0,0) (0,.5) (.5,1) (1,1): 0 + .5 * (.5 + 1) / 2 + .5 * 1 = .875
    # (the MIT definition; the Mann-Whitney AUC would be 3/4)
    s = np.array([[0.1, 0.4, 0.35, 0.8]])
    fixations = np.array([[3, 0], [2, 0]])
    assert auc_judd(s, fixations) == pytest.approx(0.875)
    assert auc_judd(s**3 + 2, fixations) == pytest.approx(0.875)  # only the ranking matters


def test_auc_judd_ties_enter_together():
    # the fixated 1 at x=0 ties with the unfixated 1 at x=1: t = 1 -> TPR 1, FPR (2 - 1) / 3
    # curve (0,0) (1/3,1) (1,1): 1/3 * 1/2 + 2/3 * 1 = 5/6
    assert auc_judd(np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[0, 0]])) == pytest.approx(5 / 6)
    # both 1s fixated: t = 1 (twice) -> TPR 2/2, FPR (2 - 2) / 2 = 0 -> a perfect 1.0 (the
    # unjittered MIT loop would pass through (1/2, 1/2) with TPR = k / N and give .75)
    assert auc_judd(np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[0, 0], [1, 0]])) == 1.0


def test_auc_judd_matches_mit_loop_without_ties():
    rng = np.random.default_rng(3)
    s = rng.random((20, 30))
    points = np.column_stack([rng.integers(0, 30, 40), rng.integers(0, 20, 40)])
    fixated = fixation_map(points, s.shape).ravel()
    values = normalize(s).ravel()
    thresholds = np.sort(values[fixated])[::-1]
    n, p = len(thresholds), values.size
    # AUC_Judd.m: tp(i+1) = i / N, fp(i+1) = (#{S >= t_i} - i) / (P - N)
    tp = [0.0] + [i / n for i in range(1, n + 1)] + [1.0]
    fp = [0.0] + [((values >= t).sum() - i) / (p - n) for i, t in enumerate(thresholds, 1)] + [1.0]
    assert auc_judd(s, points) == pytest.approx(np.trapezoid(tp, fp), abs=1e-12)


def test_auc_judd_undefined_cases():
    with pytest.raises(UndefinedMetricError, match="constant map"):
        auc_judd(np.ones((2, 2)), np.array([[0, 0]]))
    with pytest.raises(UndefinedMetricError) as error:
        auc_judd(np.array([[0.0, 1.0]]), np.array([[0, 0], [1, 0]]))
    assert error.value.reason == ALL_PIXELS_FIXATED


def perfect_map(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    return fixation_map(points, shape).astype(np.float64)


def test_perfect_map_scores_one():
    points = np.array([[2, 3], [7, 1], [5, 5]])
    s = perfect_map((8, 10), points)
    assert auc_judd(s, points) == 1.0
    # negatives from other images' fixations, none on a fixated pixel: every split is perfect
    assert sauc(s, points, np.array([[0, 0], [9, 7], [4, 4]]), rng=0) == 1.0
    # one fixated pixel among 10,000: a uniform negative hits it with probability 1e-4
    lone = np.array([[50, 50]])
    assert auc_borji(perfect_map((100, 100), lone), lone, rng=0) >= 0.99


def test_sauc_hand_computed_is_deterministic_when_all_others_are_used():
    # positives .85 (x=3), .35 (x=1); the 2 other pixels .55 (x=2), .05 (x=0) are all drawn
    # (min(N, M) = 2 of 2), so every split is the same ROC with thresholds 1.0, .9, ..., 0:
    # TPR: 0 for t > .85, .5 for .35 < t <= .8, 1 for t <= .3; FPR: 0 for t >= .6, .5 for
    # .1 <= t <= .5, 1 at t = 0 -> area .5 * .5 (from (0,.5) to (.5,.5)) + .5 * 1 = .75
    s = np.array([[0.05, 0.35, 0.55, 0.85, 0.0, 1.0]])
    fixations, others = np.array([[3, 0], [1, 0]]), np.array([[2, 0], [0, 0]])
    for seed in (0, 1, 2):
        assert sauc(s, fixations, others, n_splits=5, rng=seed) == pytest.approx(0.75)


def test_auc_borji_matches_mit_loop_with_the_same_draws():
    rng = np.random.default_rng(4)
    s = rng.random((12, 15)) ** 2
    points = np.column_stack([rng.integers(0, 15, 25), rng.integers(0, 12, 25)])
    values = normalize(s).ravel()
    positives = values[fixation_map(points, s.shape).ravel()]
    draws = np.random.default_rng(9).integers(0, values.size, size=(7, len(positives)))
    aucs = []
    for split in draws:  # AUC_Borji.m, thresholds 0:0.1:max per split, descending
        negatives = values[split]
        top = max(positives.max(), negatives.max())
        thresholds = np.arange(0, int(np.floor(top * 10 + 1e-9)) + 1)[::-1] / 10
        tp = [0.0] + [(positives >= t).mean() for t in thresholds] + [1.0]
        fp = [0.0] + [(negatives >= t).mean() for t in thresholds] + [1.0]
        aucs.append(np.trapezoid(tp, fp))
    assert auc_borji(s, points, n_splits=7, rng=9) == pytest.approx(np.mean(aucs), abs=1e-12)


def test_auc_borji_expected_value_and_reproducibility():
    # fixation on the 1 of [[0, 1]]: a split drawing the 0 scores 1, drawing the 1 scores .5
    # -> expected 1 - .5 * .5 = .75; std of the mean over 1000 splits ~ .008
    s, points = np.array([[0.0, 1.0]]), np.array([[1, 0]])
    assert auc_borji(s, points, n_splits=1000, rng=0) == pytest.approx(0.75, abs=0.04)
    assert auc_borji(s, points, rng=7) == auc_borji(s, points, rng=np.random.default_rng(7))


def test_sauc_discounts_centre_bias():
    # a pure centre-bias map: AUC-Borji rewards it, sAUC (negatives from the same centre-biased
    # distribution) gives chance
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:64, 0:64]
    centre = np.exp(-((x - 32) ** 2 + (y - 32) ** 2) / (2 * 8.0**2))
    fixations = rng.normal(32, 8, (300, 2))
    others = rng.normal(32, 8, (300, 2))
    assert auc_borji(centre, fixations, rng=0) > 0.8
    assert sauc(centre, fixations, others, rng=0) == pytest.approx(0.5, abs=0.05)


def test_sauc_without_other_fixations_undefined():
    with pytest.raises(UndefinedMetricError) as error:
        sauc(ROW, np.array([[1, 0]]), np.array([[7.0, 7.0]]))
    assert error.value.reason == NO_OTHER_FIXATIONS


# --- information gain -----------------------------------------------------------------------------


def test_info_gain_hand_computed():
    # ŝ: min-max [0, 1/3, 1] / (4/3) = [0, .25, .75]; b̂: min-max [0, 1, .5] / 1.5 = [0, 2/3, 1/3]
    # x=2: log2(.75 / (1/3)) = log2 2.25; x=1: log2(.25 / (2/3)) = log2 .375
    s, baseline = np.array([[0.0, 1.0, 3.0]]), np.array([[1.0, 3.0, 2.0]])
    assert info_gain(s, np.array([[2, 0]]), baseline) == pytest.approx(math.log2(2.25))
    both = np.array([[2, 0], [1, 0]])
    expected = (math.log2(2.25) + math.log2(0.375)) / 2
    assert info_gain(s, both, baseline) == pytest.approx(expected)
    assert info_gain(10 * s, both, 3 * baseline) == pytest.approx(expected)
    assert info_gain(s, both, s) == 0.0


def test_info_gain_uniform_baseline_undefined():
    with pytest.raises(UndefinedMetricError, match="constant map"):
        info_gain(ROW, np.array([[1, 0]]), np.ones_like(ROW))


# --- registry and wrapper -------------------------------------------------------------------------


def test_registry_names_and_metadata():
    assert list(METRICS) == [
        "MAE",
        "IoU@top-p%",
        "CC",
        "SIM",
        "KLD",
        "NSS",
        "AUC-Judd",
        "AUC-Borji",
        "sAUC",
        "IG",
    ]
    assert {name for name, m in METRICS.items() if not m.higher_is_better} == {"MAE", "KLD"}
    assert METRICS["sAUC"].needs == "fixations+others"
    assert METRICS["IG"].needs == "fixations+baseline"
    assert all(m.name == name and m.description for name, m in METRICS.items())


def test_compute_passes_percent_and_matches_the_functions():
    b = np.array([[8.0, 0, 1, 2, 3], [4, 5, 6, 7, 9]])
    assert compute("IoU@top-p%", TEN, reference=b, percent=20) == MetricValue(1 / 3)
    assert compute("CC", TEN, reference=b).value == pytest.approx(cc(TEN, b))
    value = compute("NSS", ROW, fixations=np.array([[3, 0]]))
    assert value.value == pytest.approx(1.5 / math.sqrt(5 / 3))
    assert value.reason is None


@pytest.mark.parametrize(
    ("name", "kwargs", "reason"),
    [
        ("CC", {"reference": np.ones((1, 4))}, CONSTANT_MAP),
        ("IoU@top-p%", {"reference": ROW, "percent": 0}, EMPTY_MASK),
        ("NSS", {"fixations": np.empty((0, 2))}, NO_FIXATIONS),
        ("AUC-Judd", {"fixations": np.array([[-5, 0]])}, NO_FIXATIONS),
        ("sAUC", {"fixations": np.array([[1, 0]]), "other_fixations": np.empty((0, 2))},
         NO_OTHER_FIXATIONS),
        ("KLD", {"reference": np.zeros((1, 4))}, ZERO_MASS),
        ("NSS", {}, "NSS needs fixations: none given"),
        ("sAUC", {"fixations": np.array([[1, 0]])},
         "sAUC needs fixations from other images: none given"),
    ],
)  # fmt: skip
def test_compute_undefined_gives_nan_with_reason(name, kwargs, reason):
    value = compute(name, ROW, **kwargs)
    assert math.isnan(value.value)
    assert value.reason == reason


def test_compute_errors_that_are_bugs_still_raise():
    with pytest.raises(ValueError, match=r"\(1, 4\) and \(2, 2\)"):
        compute("MAE", ROW, reference=np.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown metric 'AUC'.*AUC-Judd"):
        compute("AUC", ROW, fixations=np.array([[1, 0]]))


def test_metric_value_reason_iff_nan():
    with pytest.raises(ValueError, match="reason"):
        MetricValue(float("nan"))
    with pytest.raises(ValueError, match="reason"):
        MetricValue(0.5, "constant map: the metric is undefined")


def test_compute_all_runs_the_metrics_whose_inputs_are_given():
    s, ref, base = random_maps(shape=(24, 32))
    points = np.array([[3, 4], [20, 10], [31, 23]])
    assert list(compute_all(s, reference=ref)) == ["MAE", "IoU@top-p%", "CC", "SIM", "KLD"]
    assert list(compute_all(s, fixations=points)) == ["NSS", "AUC-Judd", "AUC-Borji"]
    everything = compute_all(
        s, reference=ref, fixations=points, other_fixations=points[::-1] + 1, baseline=base, rng=1
    )
    assert list(everything) == list(METRICS)
    assert all(math.isfinite(v.value) and v.reason is None for v in everything.values())
    again = compute_all(
        s, reference=ref, fixations=points, other_fixations=points[::-1] + 1, baseline=base, rng=1
    )
    assert again == everything  # an integer rng makes the random AUCs reproducible


def test_compute_all_on_a_constant_map_explains_every_nan():
    points = np.array([[1, 1], [2, 0]])
    values = compute_all(
        np.zeros((3, 4)), reference=np.ones((3, 4)), fixations=points,
        other_fixations=points, baseline=np.arange(12.0).reshape(3, 4),
    )  # fmt: skip
    assert values["KLD"].reason == ZERO_MASS
    for name in ("MAE", "IoU@top-p%", "CC", "SIM", "NSS", "AUC-Judd", "AUC-Borji", "sAUC", "IG"):
        assert math.isnan(values[name].value)
        assert values[name].reason == CONSTANT_MAP, name
    # a positive constant map is a uniform density: KLD is defined for it
    assert math.isfinite(compute("KLD", np.ones((3, 4)), reference=np.eye(3, 4)).value)
