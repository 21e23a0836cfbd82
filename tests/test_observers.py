"""The human inter-observer ceiling (leave-one-subject-out) and the centre-bias floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core.data.fixations import (
    NO_SUBJECTS,
    default_sigma,
    density_map,
    points_by_subject,
    read_fixation_table,
    read_fixations,
)
from saliency_core.models.gaze.centerbias import CentreBias, centre_bias
from saliency_core.scoring import ceiling as human_ceiling
from saliency_core.scoring import metrics

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample"


def three_subjects() -> pd.DataFrame:
    """On a 4×4 image: A at (0,0),(1,0); B at (0,0); C at (3,3),(2,1) (x, y)."""
    return pd.DataFrame(
        {
            "x": [0.0, 3.0, 1.0, 0.0, 2.0],
            "y": [0.0, 3.0, 0.0, 0.0, 1.0],
            "subject": ["A", "C", "A", "B", "C"],
        }
    )


def test_points_by_subject_splits_in_file_order():
    split = points_by_subject(three_subjects())
    assert list(split) == ["A", "B", "C"]
    np.testing.assert_array_equal(split["A"], [[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(split["C"], [[3.0, 3.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="no subject ids"):
        points_by_subject(three_subjects().drop(columns="subject"))


def test_leave_one_subject_out_scores_the_others_gold_standard():
    # sigma-free check: bandwidth 0 makes the kernel part the others' counts / total
    shape = (4, 4)
    prior = np.arange(16, dtype=np.float64).reshape(shape) + 1.0
    prior /= prior.sum()
    fit = human_ceiling.GoldStandard(0.0, (0.5, 0.25, 0.25), 0.0)
    others = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 3.0], [2.0, 1.0]])  # A and C, for B
    by_hand = 0.25 * prior + 0.25 / 16
    for x, y in others.astype(int):
        by_hand[y, x] += 0.5 / 4
    np.testing.assert_allclose(fit.density(others, shape, prior), by_hand)
    per_subject = human_ceiling.leave_one_subject_out(
        three_subjects(), shape, baseline=prior, fit=fit, names=("NSS", "AUC-Judd", "IG")
    )
    assert list(per_subject.columns) == human_ceiling.SUBJECT_COLUMNS
    values = per_subject.set_index(["metric", "subject"])["value"]
    b = np.array([[0.0, 0.0]])
    assert values["NSS", "B"] == pytest.approx(metrics.nss(by_hand, b))
    assert values["AUC-Judd", "B"] == pytest.approx(metrics.auc_judd(by_hand, b))
    assert values["IG", "B"] == pytest.approx(metrics.info_gain(by_hand, b, prior))
    assert len(per_subject) == 3 * 3


def test_held_out_densities_equal_density_map_of_the_others():
    shape = (12, 20)
    subjects = [
        np.array([[2.0, 3.0], [15.0, 9.0]]),
        np.array([[4.0, 4.0]]),
        np.array([[19.0, 0.0]]),
    ]
    for bandwidth in (0.7, 2.5, 30.0):
        values = human_ceiling._HeldOut(subjects, shape).at_fixations(bandwidth)
        expected = []
        for i, points in enumerate(subjects):
            others = np.concatenate([p for j, p in enumerate(subjects) if j != i])
            density = density_map(others, shape, bandwidth)
            expected += [density[int(y), int(x)] for x, y in points]
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-9)


SHAPE = (48, 64)
CENTRES = np.array([[16.0, 20.0], [46.0, 30.0]])  # (x, y) of the two Gaussians


def two_gaussians(n_subjects: int, per_subject: int = 15, spread: float = 4.0) -> pd.DataFrame:
    """Fixations drawn (seed 0) from an equal mixture of two isotropic Gaussians."""
    rng = np.random.default_rng(0)
    rows = []
    for subject in range(n_subjects):
        points = CENTRES[rng.integers(0, 2, per_subject)]
        points = points + rng.normal(0.0, spread, (per_subject, 2))
        rows += [{"x": x, "y": y, "subject": f"s{subject:02d}"} for x, y in points]
    return pd.DataFrame(rows)


def known_density(spread: float = 4.0) -> np.ndarray:
    ys, xs = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    return sum(np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * spread**2)) for x, y in CENTRES)


def test_the_ceiling_rises_towards_the_known_density_and_stays_above_the_floor():
    baseline = np.exp(centre_bias(SHAPE).log_density)
    other = np.random.default_rng(9).uniform([0, 0], [63, 47], (300, 2))
    kwargs = {"other_fixations": other, "baseline": baseline, "seed": 0}
    everyone = two_gaussians(40)
    ceilings = {}
    for n in (3, 12, 40):
        table = everyone[everyone["subject"] < f"s{n:02d}"]
        ceiling = human_ceiling.inter_observer_ceiling(table, SHAPE, 2.0, **kwargs)
        floor = human_ceiling.centre_bias_floor(table[["x", "y"]].to_numpy(), SHAPE, 2.0, **kwargs)
        values, floors = ceiling.set_index("metric")["value"], floor.set_index("metric")["value"]
        for metric in human_ceiling.OBSERVER_METRICS:
            assert values[metric] > floors[metric] + 0.03, (n, metric)
        assert ceiling["notice"].isna().all() and (ceiling["n_subjects"] == n).all()
        assert values["IG"] >= 0.0
        ceilings[n] = values
    # the known density's own scores (AUC-Judd 0.965, IoU 0.878 here) bound the ceiling from above;
    # NSS and the MIT IG (min-max normalised) are no such bounds: a sharper map can beat the truth
    points = everyone[["x", "y"]].to_numpy()
    truth = known_density()
    own = {
        "AUC-Judd": metrics.auc_judd(truth, points),
        "IoU@top-p%": metrics.top_percent_iou(truth, density_map(points, SHAPE, 2.0), 10.0),
    }
    for metric, target in own.items():  # closer to the known density's own score each time
        assert ceilings[3][metric] < ceilings[12][metric] < ceilings[40][metric] < target
    for metric in human_ceiling.OBSERVER_METRICS:  # never falls by more than sampling noise
        assert ceilings[12][metric] >= ceilings[3][metric] - 0.01
        assert ceilings[40][metric] >= ceilings[12][metric] - 0.01


def test_the_bandwidth_chosen_by_crossvalidated_likelihood_follows_the_spread():
    prior = np.exp(centre_bias(SHAPE).log_density.astype(np.float64))
    fits = {}
    for spread in (2.0, 8.0):
        subjects = points_by_subject(two_gaussians(12, spread=spread))
        fits[spread] = human_ceiling.fit_gold_standard(list(subjects.values()), SHAPE, prior)
    assert fits[2.0].bandwidth < 2.0 < 3.0 < fits[8.0].bandwidth < 8.0
    for fit in fits.values():
        assert sum(fit.weights) == pytest.approx(1.0) and fit.weights[0] > 0.99
        assert fit.log_likelihood > 0  # better than uniform
    assert fits[2.0].log_likelihood > fits[8.0].log_likelihood


def test_a_ceiling_worse_than_the_floor_says_so_with_the_number_of_subjects():
    # two subjects, four fixations each, drawn from the centre bias itself (seed 1): the floor is
    # the true density, so two viewers' estimate loses on some metrics
    baseline = np.exp(centre_bias(SHAPE).log_density.astype(np.float64))
    prior = baseline / baseline.sum()
    ys, xs = np.divmod(np.random.default_rng(1).choice(prior.size, 8, p=prior.ravel()), SHAPE[1])
    table = pd.DataFrame({"x": xs * 1.0, "y": ys * 1.0, "subject": ["A"] * 4 + ["B"] * 4})
    ceiling = human_ceiling.inter_observer_ceiling(table, SHAPE, 2.0, baseline=baseline)
    floor = human_ceiling.centre_bias_floor(
        table[["x", "y"]].to_numpy(), SHAPE, 2.0, baseline=baseline
    )
    rows, floors = ceiling.set_index("metric"), floor.set_index("metric")["value"]
    flagged = rows["notice"].dropna()
    assert sorted(flagged.index) == ["AUC-Borji", "IoU@top-p%"]
    assert set(flagged) == {"below the floor with 2 subjects: not a ceiling"}
    for metric in flagged.index:  # the value is kept, next to the notice
        assert rows.loc[metric, "value"] < floors[metric]
    assert rows.loc[["NSS", "AUC-Judd", "sAUC", "IG"], "notice"].isna().all()
    assert rows.loc["NSS", "value"] > floors["NSS"]
    # one subject: no estimate at all, and the row says why
    alone = human_ceiling.inter_observer_ceiling(table[table["subject"] == "A"], SHAPE, 2.0)
    assert alone["value"].isna().all() and (alone["reason"] == human_ceiling.FEW_SUBJECTS).all()


def test_fewer_than_two_subjects_give_nan_rows_with_the_reason():
    one = three_subjects()[three_subjects()["subject"] == "A"]
    ceiling = human_ceiling.inter_observer_ceiling(one, (4, 4), sigma=1.0)
    assert ceiling["value"].isna().all() and (ceiling["reason"] == human_ceiling.FEW_SUBJECTS).all()
    # a subject whose fixations all fall outside the image does not count
    outside = pd.concat([one, pd.DataFrame({"x": [9.0], "y": [9.0], "subject": ["Z"]})])
    assert human_ceiling.inter_observer_ceiling(outside, (4, 4), sigma=1.0)["value"].isna().all()
    anonymous = human_ceiling.inter_observer_ceiling(
        three_subjects().drop(columns="subject"), (4, 4), 1.0
    )
    assert anonymous["value"].isna().all()
    assert (anonymous["reason"] == f"{human_ceiling.FEW_SUBJECTS}: {NO_SUBJECTS}").all()


def test_centre_bias_floor_scores_the_prior_against_all_fixations():
    shape = (6, 8)
    log_density = np.log(np.arange(48, dtype=np.float64).reshape(shape) + 1.0)
    log_density -= np.log(np.exp(log_density).sum())
    prior = CentreBias(log_density, "test prior", from_template=False)
    points = np.array([[7.0, 5.0], [6.0, 5.0], [1.0, 1.0]])
    floor = human_ceiling.centre_bias_floor(
        points, shape, sigma=1.0, baseline=np.exp(log_density), prior=prior
    ).set_index("metric")
    assert (floor["map"] == "centre bias (test prior)").all()
    assert floor.loc["NSS", "value"] == pytest.approx(metrics.nss(np.exp(log_density), points))
    assert floor.loc["IG", "value"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(floor.loc["sAUC", "value"])
    with pytest.raises(ValueError, match="prior has shape"):
        human_ceiling.centre_bias_floor(points, (5, 5), sigma=1.0, prior=prior)


def test_sample_004_ceiling_and_floor_are_finite():
    table = read_fixation_table(SAMPLE / "fixations" / "004.csv")
    width, height = Image.open(SAMPLE / "images" / "004.jpg").size
    shape, sigma = (height, width), default_sigma((height, width))
    baseline = np.exp(centre_bias(shape).log_density)
    others = read_fixations(SAMPLE / "fixations" / "014.csv")
    kwargs = {"other_fixations": others, "baseline": baseline, "seed": 0}
    ceiling = human_ceiling.inter_observer_ceiling(table, shape, sigma, **kwargs)
    floor = human_ceiling.centre_bias_floor(table[["x", "y"]].to_numpy(), shape, sigma, **kwargs)
    assert np.isfinite(ceiling["value"]).all() and np.isfinite(floor["value"]).all()
    assert (ceiling["n_subjects"] == 12).all()
    people, prior = ceiling.set_index("metric")["value"], floor.set_index("metric")["value"]
    for metric in human_ceiling.OBSERVER_METRICS:  # 12 viewers: at or above the floor everywhere
        assert people[metric] > prior[metric], metric
    assert ceiling["notice"].isna().all()
