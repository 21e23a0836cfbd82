"""ImageNet accuracy from the weights' metadata and the accuracy-vs-agreement scatter."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from saliency_core.models.classifiers import CLASSIFIERS, LoadedClassifier
from saliency_core.models.weights import WeightSource
from saliency_core.scoring import accuracy as A


def loaded(name: str, source: WeightSource) -> LoadedClassifier:
    """A registry entry with a weight source (the accuracy needs no built network)."""
    return LoadedClassifier(CLASSIFIERS[name], None, source, [], None, 224)


def test_top1_accuracy_from_the_weights_metadata():
    assert A.top1_accuracy(loaded("ResNet-50", WeightSource.PRETRAINED)) == (80.858, None)
    assert A.top1_accuracy(loaded("ViT-B/16", WeightSource.PRETRAINED)) == (81.072, None)
    value, reason = A.top1_accuracy(loaded("Swin-T", WeightSource.UNTRAINED))
    assert math.isnan(value) and "untrained" in reason
    value, reason = A.top1_accuracy(loaded("Swin-T", WeightSource.FILE))
    assert math.isnan(value) and "file" in reason


def test_scatter_plots_one_point_per_classifier_and_names_the_missing():
    frame = pd.DataFrame(
        {
            "classifier": ["ResNet-50", "ViT-B/16", "Swin-T (UNTRAINED)"],
            "accuracy": [80.858, 81.072, float("nan")],
            "agreement": [0.41, 0.37, 0.12],
        }
    )
    figure = A.accuracy_scatter(frame)
    (trace,) = figure.data
    assert list(trace.x) == [80.858, 81.072] and list(trace.y) == [0.41, 0.37]
    assert list(trace.text) == ["ResNet-50", "ViT-B/16"]
    assert "not shown (no value): Swin-T (UNTRAINED)" in figure.layout.title.text
    assert figure.layout.xaxis.title.text == "ImageNet top-1 accuracy (%)"
    with pytest.raises(ValueError, match="lacks the column"):
        A.accuracy_scatter(frame.drop(columns="agreement"))
