"""Classification accuracy, to set against saliency agreement (Oyama & Yamanaka).

The accuracy is the ImageNet-1K top-1 accuracy (%) that torchvision records in the official
weights' metadata (``weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]``); it describes those
weights only, so untrained models and weight files get NaN with the reason.
"""

from __future__ import annotations

import math

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
