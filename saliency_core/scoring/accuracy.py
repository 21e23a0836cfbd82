"""Classification accuracy against saliency agreement (Oyama & Yamanaka): data and a scatter.

The accuracy is the ImageNet-1K top-1 accuracy (%) that torchvision records in the official
weights' metadata (``weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]``); it describes those
weights only, so untrained models and weight files get NaN with the reason.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from saliency_core.models.classifiers import CLASSIFIERS, ClassifierSpec, LoadedClassifier
from saliency_core.models.weights import ModelChoice, WeightSource


def top1_accuracy(classifier: LoadedClassifier) -> tuple[float, str | None]:
    """(ImageNet top-1 accuracy in %, None), or (NaN, why it is unknown)."""
    return weights_accuracy(classifier.spec, classifier.source)


def weights_accuracy(spec: ClassifierSpec, source: WeightSource) -> tuple[float, str | None]:
    """:func:`top1_accuracy` of ``spec`` with weights from ``source``, without building it."""
    if source is WeightSource.UNTRAINED:
        return math.nan, "untrained (random) weights: no ImageNet accuracy (chance is 0.1 %)"
    if source is WeightSource.FILE:
        return math.nan, "weights from a file: their ImageNet accuracy is not recorded"
    metrics = spec.weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    if "acc@1" not in metrics:
        return math.nan, f"{spec.name}'s weights record no ImageNet-1K top-1 accuracy"
    return float(metrics["acc@1"]), None


def accuracy_record(choice: ModelChoice) -> dict[str, object]:
    """{"weights", "top1_accuracy" (%, None when unknown), "reason"} of a classifier choice's
    weights, read from their metadata (:func:`weights_accuracy`; no model built)."""
    value, reason = weights_accuracy(CLASSIFIERS[choice.name], choice.source)
    return {
        "weights": choice.source.value,
        "top1_accuracy": None if math.isnan(value) else value,
        "reason": reason,
    }


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
