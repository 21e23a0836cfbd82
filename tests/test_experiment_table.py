"""The experiment's tables from plain tables: a run's row from its accuracy and its results
folder's summary, and the arm table's means and Student-t intervals (numbers by hand)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from saliency_core.scoring.stats import mean_t_ci
from saliency_core.train import experiment
from saliency_core.train.experiment import REFERENCE_ARM

T_975_2 = 4.3026527297
"""t(0.975, 2 degrees of freedom) from a table."""


def summary(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    """A long summary as the evaluate store writes it (kind, method, reference_key, metric,
    mean; the other columns as a single-detector run has them)."""
    frame = pd.DataFrame(rows, columns=["kind", "method", "reference_key", "metric", "mean"])
    return frame.assign(
        detector="SSDlite320 MobileNetV3", weights="weights file", target="features[-1]",
        ci_low=np.nan, ci_high=np.nan, n=4, n_undefined=0, higher_is_better=True,
    )  # fmt: skip


ONE_METHOD = summary(
    [
        ("type-1", "EigenCAM", "mask", "MAE", 0.25),
        ("type-1", "EigenCAM", "mask", "IoU@top-10%", 0.5),
        ("baseline", "centre bias", "mask", "MAE", 0.75),
        ("type-2", "DeepGaze IIE", "mask", "MAE", 0.125),
    ]
)


def test_a_runs_row_holds_its_accuracy_and_its_cams_agreement_only():
    row = experiment.run_row("erase", 1, {"map": 0.3, "map_50": 0.6, "map_75": 0.2}, ONE_METHOD)
    assert row == {
        "arm": "erase",
        "seed": 1,
        "weights": "weights file",
        "map": 0.3,
        "map_50": 0.6,
        "MAE vs mask": 0.25,
        "IoU@top-10% vs mask": 0.5,
    }
    two = summary(
        [("type-1", "EigenCAM", "mask", "MAE", 0.25), ("type-1", "GradCAM", "mask", "MAE", 0.5)]
    )
    assert experiment.agreement_means(two) == {
        "EigenCAM: MAE vs mask": 0.25,
        "GradCAM: MAE vs mask": 0.5,
    }


def test_the_t_interval_over_three_seeds_by_hand():
    # mean 2, s = 1, s/√3 = 0.57735: 2 ± 4.302653 · 0.57735 = 2 ± 2.484138
    mean, low, high = mean_t_ci(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0
    assert low == pytest.approx(2 - T_975_2 / math.sqrt(3), abs=1e-9)
    assert high == pytest.approx(2 + 2.4841377, abs=1e-6)
    assert mean_t_ci(np.array([0.5, 0.5])) == (0.5, 0.5, 0.5)
    one = mean_t_ci(np.array([0.4, np.nan]))
    assert one[0] == 0.4 and math.isnan(one[1]) and math.isnan(one[2])


def test_the_table_has_the_reference_first_then_each_arm_over_its_seeds():
    results = pd.DataFrame(
        [
            {"arm": "none", "seed": 0, "map": 0.1, "MAE vs mask": 0.30},
            {"arm": "erase", "seed": 0, "map": 0.2, "MAE vs mask": 0.20},
            {"arm": "none", "seed": 1, "map": 0.2, "MAE vs mask": 0.30},
            {"arm": REFERENCE_ARM, "seed": None, "map": 0.05, "MAE vs mask": 0.40},
            {"arm": "erase", "seed": 1, "map": 0.4, "MAE vs mask": 0.10},
            {"arm": "none", "seed": 2, "map": 0.3, "MAE vs mask": 0.30},
        ]
    )
    results["weights"] = "fine-tuned: " + results["arm"] + "-s" + results["seed"].astype(str)
    results.loc[results["arm"] == REFERENCE_ARM, "weights"] = "untrained"
    table = experiment.experiment_table(results)
    assert list(table.columns) == [
        "arm", "weights", "n_seeds", "map", "map ci_low", "map ci_high",
        "MAE vs mask", "MAE vs mask ci_low", "MAE vs mask ci_high",
    ]  # fmt: skip
    assert table["arm"].tolist() == [REFERENCE_ARM, "none", "erase"]
    assert table["n_seeds"].tolist() == [1, 3, 2]
    assert table["weights"].tolist() == ["untrained", "fine-tuned", "fine-tuned"]
    reference, none, erase = (table.iloc[k] for k in range(3))
    assert reference["map"] == 0.05 and math.isnan(reference["map ci_low"])
    # none: map 0.1, 0.2, 0.3: mean 0.2, s = 0.1, half-width 4.302653 · 0.1 / √3 = 0.248414
    assert none["map"] == pytest.approx(0.2)
    assert (none["map ci_low"], none["map ci_high"]) == pytest.approx(
        (-0.048414, 0.448414), abs=1e-6
    )
    assert (none["MAE vs mask ci_low"], none["MAE vs mask ci_high"]) == pytest.approx((0.3, 0.3))
    # erase: map 0.2, 0.4: mean 0.3, s = 0.141421, t(0.975, 1) = 12.706205: 0.3 ± 1.270620
    assert (erase["map"], erase["map ci_low"], erase["map ci_high"]) == pytest.approx(
        (0.3, 0.3 - 1.270620, 0.3 + 1.270620), abs=1e-6
    )


def test_directions_follow_the_metrics():
    assert experiment.higher_is_better("map_50")
    assert not experiment.higher_is_better("MAE vs deepgaze")
    assert experiment.higher_is_better("IoU@top-10% vs mask")
    assert not experiment.higher_is_better("GradCAM: KLD vs mask")
    assert experiment.run_name("erase+transform", 2) == "erase+transform-s2"
