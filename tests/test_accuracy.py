"""ImageNet accuracy from the weights' metadata."""

from __future__ import annotations

import math

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
