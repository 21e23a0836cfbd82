"""The human inter-observer ceiling (leave-one-subject-out) and the centre-bias floor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core import metrics, observers
from saliency_core.fixations import (
    NO_SUBJECTS,
    default_sigma,
    points_by_subject,
    read_fixation_table,
    read_fixations,
)
from saliency_core.gaze.centerbias import CentreBias, centre_bias

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


def test_leave_one_subject_out_on_three_subjects_equals_a_hand_computation():
    # sigma = 0: the others' density is their counts / total.
    # A vs B+C: 1/3 at (0,0), (2,1), (3,3); A fixates values 1/3 and 0.
    # B vs A+C: 1/4 at (0,0), (1,0), (2,1), (3,3); B fixates 1/4.
    # C vs A+B: 2/3 at (0,0), 1/3 at (1,0); C fixates 0 and 0.
    mean = 1 / 16
    std_a = math.sqrt((3 * (1 / 3 - mean) ** 2 + 13 * mean**2) / 15)
    std_b = math.sqrt((4 * (1 / 4 - mean) ** 2 + 12 * mean**2) / 15)
    std_c = math.sqrt(((2 / 3 - mean) ** 2 + (1 / 3 - mean) ** 2 + 14 * mean**2) / 15)
    nss = {
        "A": ((1 / 3 - mean) / std_a + (0 - mean) / std_a) / 2,
        "B": (1 / 4 - mean) / std_b,
        "C": (0 - mean) / std_c,
    }
    # ROC through (0,0), (FPR, TPR) per fixated value descending, (1,1); trapezoids:
    # A: t = 1/3 -> (2/14, 1/2), t = 0 -> (1, 1); B: t = 1/4 -> (3/15, 1); C: t = 0 -> (1, 1)
    auc = {"A": 0.5 * (1 / 7) * 0.5 + (6 / 7) * 0.75, "B": 0.5 * 0.2 + 0.8, "C": 0.5}
    # top-10% masks (>= 90th percentile, ties included): A {(0,0),(2,1),(3,3)} vs {(0,0),(1,0)}
    # -> 1/4; B: its one-pixel density ties at 0, so its mask is all 16 pixels -> 4/16;
    # C: {(0,0),(1,0)} vs {(3,3),(2,1)} -> 0
    iou = {"A": 1 / 4, "B": 4 / 16, "C": 0.0}

    per_subject = observers.leave_one_subject_out(
        three_subjects(), (4, 4), sigma=0.0, ties="include"
    )
    assert list(per_subject.columns) == observers.SUBJECT_COLUMNS
    values = per_subject.set_index(["metric", "subject"])["value"]
    for subject in "ABC":
        assert values["NSS", subject] == pytest.approx(nss[subject])
        assert values["AUC-Judd", subject] == pytest.approx(auc[subject])
        assert values["IoU@top-p%", subject] == pytest.approx(iou[subject])

    ceiling = observers.inter_observer_ceiling(three_subjects(), (4, 4), sigma=0.0, ties="include")
    assert list(ceiling.columns) == observers.COLUMNS
    assert list(ceiling["metric"]) == list(observers.OBSERVER_METRICS)
    assert (ceiling["map"] == observers.PEOPLE).all()
    rows = ceiling.set_index("metric")
    assert rows.loc["NSS", "value"] == pytest.approx(sum(nss.values()) / 3)
    assert rows.loc["AUC-Judd", "value"] == pytest.approx(sum(auc.values()) / 3)
    assert rows.loc["IoU@top-p%", "value"] == pytest.approx(1 / 6)
    assert rows.loc["IoU@top-p%", "reference"] == observers.DENSITY_REFERENCE
    assert rows.loc["NSS", "n_subjects"] == 3 and rows.loc["NSS", "reference"] == "fixations"
    assert 0 <= rows.loc["AUC-Borji", "value"] <= 1
    assert np.isnan(rows.loc["sAUC", "value"]) and "other images" in rows.loc["sAUC", "reason"]
    assert np.isnan(rows.loc["IG", "value"]) and "baseline" in rows.loc["IG", "reason"]
    assert rows.loc["IG", "n_subjects"] == 0


def test_ig_and_sauc_use_the_given_baseline_and_other_fixations():
    shape = (4, 4)
    baseline = np.arange(16, dtype=np.float64).reshape(shape) + 1.0
    others = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 0.0]])
    per_subject = observers.leave_one_subject_out(
        three_subjects(), shape, sigma=0.0, other_fixations=others, baseline=baseline, seed=1
    )
    ig = per_subject[per_subject["metric"] == "IG"].set_index("subject")["value"]
    density_b = np.zeros(shape)
    density_b[[0, 0, 1, 3], [0, 1, 2, 3]] = 0.25  # others of B: A and C
    assert ig["B"] == pytest.approx(metrics.info_gain(density_b, np.array([[0.0, 0.0]]), baseline))
    assert per_subject["value"].notna().all()


def test_fewer_than_two_subjects_give_nan_rows_with_the_reason():
    one = three_subjects()[three_subjects()["subject"] == "A"]
    ceiling = observers.inter_observer_ceiling(one, (4, 4), sigma=1.0)
    assert ceiling["value"].isna().all() and (ceiling["reason"] == observers.FEW_SUBJECTS).all()
    # a subject whose fixations all fall outside the image does not count
    outside = pd.concat([one, pd.DataFrame({"x": [9.0], "y": [9.0], "subject": ["Z"]})])
    assert observers.inter_observer_ceiling(outside, (4, 4), sigma=1.0)["value"].isna().all()
    anonymous = observers.inter_observer_ceiling(
        three_subjects().drop(columns="subject"), (4, 4), 1.0
    )
    assert anonymous["value"].isna().all()
    assert (anonymous["reason"] == f"{observers.FEW_SUBJECTS}: {NO_SUBJECTS}").all()


def test_centre_bias_floor_scores_the_prior_against_all_fixations():
    shape = (6, 8)
    log_density = np.log(np.arange(48, dtype=np.float64).reshape(shape) + 1.0)
    log_density -= np.log(np.exp(log_density).sum())
    prior = CentreBias(log_density, "test prior", from_template=False)
    points = np.array([[7.0, 5.0], [6.0, 5.0], [1.0, 1.0]])
    floor = observers.centre_bias_floor(
        points, shape, sigma=1.0, baseline=np.exp(log_density), prior=prior
    ).set_index("metric")
    assert (floor["map"] == "centre bias (test prior)").all()
    assert floor.loc["NSS", "value"] == pytest.approx(metrics.nss(np.exp(log_density), points))
    assert floor.loc["IG", "value"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(floor.loc["sAUC", "value"])
    with pytest.raises(ValueError, match="prior has shape"):
        observers.centre_bias_floor(points, (5, 5), sigma=1.0, prior=prior)


def test_sample_004_ceiling_and_floor_are_finite():
    table = read_fixation_table(SAMPLE / "fixations" / "004.csv")
    width, height = Image.open(SAMPLE / "images" / "004.jpg").size
    shape, sigma = (height, width), default_sigma((height, width))
    baseline = np.exp(centre_bias(shape).log_density)
    others = read_fixations(SAMPLE / "fixations" / "014.csv")
    kwargs = {"other_fixations": others, "baseline": baseline, "seed": 0}
    ceiling = observers.inter_observer_ceiling(table, shape, sigma, **kwargs)
    floor = observers.centre_bias_floor(table[["x", "y"]].to_numpy(), shape, sigma, **kwargs)
    assert np.isfinite(ceiling["value"]).all() and np.isfinite(floor["value"]).all()
    assert (ceiling["n_subjects"] == 12).all()
    people, prior = ceiling.set_index("metric")["value"], floor.set_index("metric")["value"]
    assert people["NSS"] > prior["NSS"] and people["AUC-Judd"] > prior["AUC-Judd"]
