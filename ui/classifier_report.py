"""Classifier maps' tables: accuracy vs. agreement over a run (Oyama & Yamanaka), one point per
classifier map; and ROAD faithfulness of a bundle's classifier maps, beside their agreement.

x is the ImageNet top-1 accuracy (%) of the classifier's weights, recorded by the engine in the
run's manifest (``classifier_accuracy``, read from the weights' metadata, no model loaded);
y is the map's mean over images of one agreement metric (NSS at the fixation points by default,
else the top-p% IoU against the fixation density, the mask or DeepGaze IIE). A point with no
accuracy (untrained weights, a weights file) or no defined agreement is left out, with why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from saliency_core.maps.classifier_maps import get_classifier
from saliency_core.pipeline import FIXATION_POINTS, Bundle
from saliency_core.scoring import faithfulness
from saliency_core.study import MapKind

PREFERRED = (
    ("NSS", FIXATION_POINTS),
    ("IoU", "fixations"),
    ("IoU", "mask"),
    ("IoU", "deepgaze"),
)
"""Default agreement, first available: "IoU" stands for any top-p% IoU metric."""
POINT_COLUMNS = ["map", "classifier", "method", "accuracy", "agreement", "reason"]


def classifier_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The per-image table's rows of classifier maps."""
    return table[table["kind"] == MapKind.CLASSIFIER]


def agreement_choices(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(metric, reference_key) pairs of the classifier rows, the preferred default first."""
    rows = classifier_rows(table)
    pairs = list(dict.fromkeys(zip(rows["metric"], rows["reference_key"], strict=True)))

    def rank(pair: tuple[str, str]) -> int:
        metric, reference = pair
        family = "IoU" if metric.startswith("IoU@") else metric
        try:
            return PREFERRED.index((family, reference))
        except ValueError:
            return len(PREFERRED)

    return sorted(pairs, key=rank)


def accuracy_points(
    table: pd.DataFrame,
    accuracies: Mapping[str, Mapping],
    metric: str,
    reference_key: str,
) -> pd.DataFrame:
    """One row per classifier map: its classifier's top-1 accuracy (%) from ``accuracies``
    (the manifest's ``classifier_accuracy``: name -> {"top1_accuracy", "reason"}), the mean of
    its defined ``metric`` values against ``reference_key``, and why a point has no value."""
    rows = classifier_rows(table)
    rows = rows[(rows["metric"] == metric) & (rows["reference_key"] == reference_key)]
    points = []
    for label, group in rows.groupby("map", sort=False):
        name = str(group["detector"].iloc[0])
        accuracy, reasons = _accuracy(accuracies.get(name))
        values = group["value"].to_numpy(dtype=np.float64)
        defined = values[np.isfinite(values)]
        agreement = float(defined.mean()) if defined.size else math.nan
        if not defined.size:
            reasons.append(f"no image has a defined {metric}")
        method = str(group["method"].iloc[0])
        points.append((label, name, method, accuracy, agreement, "; ".join(reasons)))
    return pd.DataFrame(points, columns=POINT_COLUMNS)


def _accuracy(record: Mapping | None) -> tuple[float, list[str]]:
    """(top-1 accuracy in %, [why it is unknown]) of a manifest record."""
    if record is None:
        return math.nan, ["the run recorded no accuracy for this classifier"]
    top1 = record.get("top1_accuracy")
    if top1 is None:
        return math.nan, [str(record.get("reason") or "no accuracy recorded")]
    return float(top1), []


ORDER_SHORT = {"most relevant first": "MoRF", "least relevant first": "LeRF"}


def road_beside_agreement(road: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per map: its ROAD changes (columns "ROAD MoRF, 80% removed", …; Δ probability)
    then its agreement values (columns "metric vs reference") from a tidy metrics table
    (:func:`saliency_core.pipeline.metrics_table`); undefined agreement stays NaN."""
    road = road.assign(
        column=[
            f"ROAD {ORDER_SHORT[order]}, {removed:g}% removed"
            for order, removed in zip(road["order"], road["removed"], strict=True)
        ]
    )
    faithful = road.pivot_table(index="map", columns="column", values="change", sort=False)
    faithful = faithful[list(dict.fromkeys(road["column"]))]
    metrics = metrics.assign(column=metrics["metric"] + " vs " + metrics["reference"])
    agree = metrics.pivot_table(
        index="map", columns="column", values="value", sort=False, dropna=False
    )
    agree = agree[list(dict.fromkeys(metrics["column"]))]
    return faithful.join(agree, how="left").reset_index()


ROAD_COLUMNS = [
    "map",
    "classifier",
    "method",
    "order",
    "percentile",
    "removed",
    "change",
    "target_class",
    "note",
]


def road_table(
    bundle: Bundle,
    percentiles: Sequence[float] = faithfulness.ROAD_PERCENTILES,
    device: torch.device | None = None,
) -> pd.DataFrame:
    """ROAD (:func:`saliency_core.scoring.faithfulness.classifier_road`) of every classifier map of
    ``bundle``, each against its own classifier and its explained class (for a top-k map, the
    first of the k: ROAD scores one class's softmax probability). Expensive: per map, order and
    percentile one sparse solve and two forwards. Columns :data:`ROAD_COLUMNS`."""
    frames = []
    for label, run in bundle.classified.items():
        entry = get_classifier(run.job.choice, device)
        note = "" if len(run.explained) == 1 else f"scored on class {run.explained[0]} only"
        with entry.lock:
            table = faithfulness.classifier_road(
                entry.value,
                bundle.sample.image,
                {label: bundle.maps[label].values},
                run.explained[0],
                percentiles,
            )
        frames.append(
            table.assign(classifier=run.job.choice.label, method=run.job.method, note=note)
        )
    if not frames:
        return pd.DataFrame(columns=ROAD_COLUMNS)
    return pd.concat(frames, ignore_index=True)[ROAD_COLUMNS]
