"""The study's main experiment: arms × seeds of fine-tuning, each final model scored for accuracy
(mAP) and agreement (the evaluate engine's summary), read together in one table.

Experiment folder::

    settings.toml              the experiment's settings
    runs/<arm>-s<seed>/        each training run (``saliency train``'s run folder)
    scores/reference/          evaluate results of the pre-fine-tuning model on the test split
    scores/<arm>-s<seed>/      evaluate results of each run's final model on the test split
    results.csv                one row per model: arm, seed, map, map_50, agreement means
    table.csv                  one row per arm: mean and 95% CI over seeds of every metric
    manifest.json              what was run, versions, seconds

The tables are built from plain tables by pure functions (:func:`run_row`,
:func:`experiment_table`): an agreement column is "<metric> vs <reference key>" (the mean over
the test images of the model's CAM rows, ``summary.csv``), prefixed "<method>: " when the
experiment scores several CAM methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from saliency_core.scoring.metrics import METRICS
from saliency_core.scoring.stats import mean_t_ci
from saliency_core.study import MapKind

REFERENCE_ARM = "pre-fine-tuning"
"""The arm of the model the runs started from (scored once: no seed)."""
ACCURACY = ("map", "map_50")
"""The accuracy columns: COCO mAP@[.5:.95] and VOC mAP@.5 on the test split."""
KEYS = ("arm", "seed")
SEP = " vs "


def run_name(arm: str, seed: int) -> str:
    """A run's folder name under ``runs/`` and ``scores/``: "erase-s0"."""
    return f"{arm}-s{seed}"


def agreement_means(summary: pd.DataFrame) -> dict[str, float]:
    """The model's agreement means from a results folder's long summary (``summary.csv``): its
    CAM rows (kind type-1), one value per (method, reference, metric): "MAE vs deepgaze", or
    "EigenCAM: MAE vs deepgaze" when the summary holds several methods."""
    rows = summary[summary["kind"] == MapKind.TYPE1]
    several = rows["method"].nunique() > 1
    means = {}
    for method, key, metric, mean in zip(
        rows["method"], rows["reference_key"], rows["metric"], rows["mean"], strict=True
    ):
        column = f"{metric}{SEP}{key}"
        means[f"{method}: {column}" if several else column] = float(mean)
    return means


def run_row(
    arm: str, seed: int | None, accuracy: Mapping[str, float], summary: pd.DataFrame
) -> dict[str, Any]:
    """One ``results.csv`` row: arm, seed (None for the reference), the accuracy columns and the
    agreement means (:func:`agreement_means`)."""
    row: dict[str, Any] = {"arm": arm, "seed": seed}
    row |= {name: float(accuracy[name]) for name in ACCURACY}
    return row | agreement_means(summary)


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The metric columns of ``results``: accuracy first, then agreement in their order."""
    return [column for column in results.columns if column not in KEYS]


def higher_is_better(column: str) -> bool:
    """Whether a larger value of ``column`` is better: mAP yes; an agreement column as its
    metric (``METRICS``; "IoU@top-10%" as "IoU@top-p%")."""
    if column in ACCURACY:
        return True
    metric = column.split(": ", 1)[-1].split(SEP, 1)[0]
    return METRICS["IoU@top-p%" if metric.startswith("IoU@") else metric].higher_is_better


def experiment_table(results: pd.DataFrame) -> pd.DataFrame:
    """``table.csv``: one row per arm, the reference (:data:`REFERENCE_ARM`) first, then the
    arms in their order in ``results``; for each metric column of ``results`` its mean over
    the arm's seeds and the 95% Student-t interval over seeds (:func:`mean_t_ci`: mean ±
    t(0.975, n - 1) · s / √n; NaN with one seed), columns "<metric>", "<metric> ci_low",
    "<metric> ci_high"; and ``n_seeds``, the runs in the arm."""
    metrics = metric_columns(results)
    arms = list(dict.fromkeys(results["arm"]))
    arms.sort(key=lambda arm: arm != REFERENCE_ARM)
    rows = []
    for arm in arms:
        runs = results[results["arm"] == arm]
        row: dict[str, Any] = {"arm": arm, "n_seeds": len(runs)}
        for metric in metrics:
            mean, low, high = mean_t_ci(runs[metric].to_numpy(dtype=np.float64))
            row |= {metric: mean, f"{metric} ci_low": low, f"{metric} ci_high": high}
        rows.append(row)
    columns = ["arm", "n_seeds"] + [
        name for metric in metrics for name in (metric, f"{metric} ci_low", f"{metric} ci_high")
    ]
    return pd.DataFrame(rows, columns=columns)
