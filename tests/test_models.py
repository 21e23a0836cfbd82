"""The registry API of saliency_core.models: list_models and get_model over the registries."""

from __future__ import annotations

import pytest
import torch

from saliency_core.models import get_model, list_models, model_kinds
from saliency_core.models.classifiers import CLASSIFIERS, load_classifier
from saliency_core.models.detectors import DETECTORS, load_detector
from saliency_core.models.gaze import TYPE2_MODELS
from saliency_core.models.weights import MissingWeightsError


def test_list_models_names_each_registry_in_its_order():
    assert list_models("detector") == list(DETECTORS)
    assert list_models("classifier") == list(CLASSIFIERS)
    assert list_models("type2") == list(TYPE2_MODELS)
    assert list_models("classifier")[:2] == ["ResNet-50", "DenseNet-201"]
    assert list_models() == [*DETECTORS, *CLASSIFIERS, *TYPE2_MODELS]
    assert len(set(list_models())) == len(list_models())  # a name belongs to one kind
    with pytest.raises(ValueError, match=r"kind of model 'readout'; choose from \['detector', "):
        list_models("readout")


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_get_model_builds_an_untrained_detector_through_its_loader():
    name = "SSDlite320 MobileNetV3"
    built = get_model(name, "untrained", input_size=64, seed=3)
    assert built.label == f"{name} (UNTRAINED)" and not built.trained
    assert built.spec is DETECTORS[name] and not built.model.training
    assert _same_weights(built.model, load_detector(name, "untrained", seed=3).model)
    assert not _same_weights(built.model, load_detector(name, "untrained", seed=4).model)


def test_get_model_builds_an_untrained_classifier_at_a_small_input_side():
    built = get_model("ResNet-50", input_size=32)
    assert built.label == "ResNet-50 (UNTRAINED)" and built.input_size == 32
    assert _same_weights(built.model, load_classifier("ResNet-50", input_size=32).model)
    logits = built.model(torch.zeros(1, 3, 32, 32))
    assert logits.shape == (1, 1000)


def test_get_model_passes_the_weight_source_to_the_type2_loader():
    with pytest.raises(MissingWeightsError, match="needs the path of a state-dict file"):
        get_model("DeepGaze IIE", "file")
    with pytest.raises(ValueError, match="Spectral residual is weight-free: it has no network"):
        get_model("Spectral residual")


def test_an_unknown_model_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError) as error:
        get_model("ResNet-5O")
    message = str(error.value)
    assert message.startswith("Unknown model 'ResNet-5O'; choose from ['Faster R-CNN R50-FPN', ")
    assert all(f"'{name}'" in message for name in list_models())
    assert set(model_kinds()) == {"detector", "classifier", "type2"}
