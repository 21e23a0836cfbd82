"""ETAs: every method of every registry declares its cost; an unknown step has no estimate."""

from __future__ import annotations

import dataclasses
import time

import pytest

from saliency_core.maps.cams import CAM_METHODS, CamEntry
from saliency_core.maps.classifier_maps import ClassifierStep
from saliency_core.maps.classifier_methods import (
    CLASSIFIER_CAM_METHODS,
    METHOD_COSTS,
    METHOD_FORWARDS,
)
from saliency_core.maps.gradient_saliency import GRADIENT_METHODS, GradientMethod
from saliency_core.models.gaze import TYPE2_MODELS, Type2Model
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.pipeline import CamStep, Type2Step
from ui import eta
from ui.compute_job import Progress

DETECTOR = ModelChoice("SSDlite320 MobileNetV3", WeightSource.UNTRAINED, None, 96)
CLASSIFIER = ModelChoice("ResNet-50", WeightSource.UNTRAINED, None, 64)


def type2(model: str) -> Type2Step:
    return Type2Step(model, WeightSource.UNTRAINED, None, False, 256, scored=True)


@pytest.mark.parametrize("entry", [CamEntry, GradientMethod, Type2Model])
def test_every_registry_entry_must_declare_its_cost(entry):
    """``forwards`` has no default: a new method without a cost fails when it is declared."""
    field = next(f for f in dataclasses.fields(entry) if f.name == "forwards")
    assert field.default is dataclasses.MISSING
    assert field.default_factory is dataclasses.MISSING


def test_every_detector_cam_has_an_estimate_from_the_detectors_timed_forward():
    times = eta.StepTimes()
    times.record(CamStep(DETECTOR, "EigenCAM", "backbone"), 1.5)  # 1 forward: 1.5 s
    estimates = {name: times.estimate(CamStep(DETECTOR, name, "backbone")) for name in CAM_METHODS}
    assert estimates == {
        "EigenCAM": 1.5,
        "EigenGradCAM": 3.0,
        "GradCAM": 3.0,
        "GradCAM++": 3.0,
        "XGradCAM": 3.0,
        "HiResCAM": 3.0,
        "LayerCAM": 3.0,
        "AblationCAM": None,  # one forward per channel of the layer: only its own time says
        "ScoreCAM": None,
    }


def test_every_classifier_method_has_an_estimate_from_the_classifiers_timed_steps():
    """Issue 20 §6: Captum's methods (and FullGrad) raised KeyError in the ETA."""
    assert set(METHOD_FORWARDS) == set(METHOD_COSTS)
    assert set(METHOD_FORWARDS) == {*CLASSIFIER_CAM_METHODS, *GRADIENT_METHODS}
    times = eta.StepTimes()
    times.record(ClassifierStep(CLASSIFIER, "GradCAM"), 0.5)  # 2 forwards: 0.25 s each
    estimates = {name: times.estimate(ClassifierStep(CLASSIFIER, name)) for name in METHOD_FORWARDS}
    assert estimates == {
        **dict.fromkeys(["EigenGradCAM", "GradCAM", "GradCAM++", "XGradCAM"], 0.5),
        **dict.fromkeys(["HiResCAM", "LayerCAM", "FullGrad"], 0.5),
        "EigenCAM": 0.25,
        "AblationCAM": None,
        "ScoreCAM": None,
        "Gradient": 0.75,  # 1 forward + 1 backward, +1 forward for the top-5
        "Guided Backprop": 0.75,
        "SmoothGrad": 0.25 * (2 * 16 + 1),
        "Integrated Gradients": 0.25 * (2 * 32 + 1),
    }
    assert times.estimate(CamStep(DETECTOR, "GradCAM", "backbone")) is None, "another model"


def test_every_type2_model_has_a_cost_a_weight_free_one_none():
    times = eta.StepTimes()
    estimates = {name: times.estimate(type2(name)) for name in TYPE2_MODELS}
    networks = {name for name, entry in TYPE2_MODELS.items() if entry.needs_weights}
    assert "DeepGaze IIE" in networks
    assert estimates == {name: None if name in networks else 0.0 for name in TYPE2_MODELS}
    times.record(type2("DeepGaze IIE"), 4.0)
    assert times.estimate(type2("DeepGaze IIE")) == 4.0


def test_an_unknown_step_has_no_estimate_and_the_progress_text_says_so():
    unknown = [CamStep(DETECTOR, "NoSuchCAM", "backbone"), ClassifierStep(CLASSIFIER, "NoSuch")]
    times = eta.StepTimes()
    times.record(CamStep(DETECTOR, "EigenCAM", "backbone"), 1.0)
    times.record(ClassifierStep(CLASSIFIER, "GradCAM"), 1.0)
    assert [times.estimate(job) for job in unknown] == [None, None]
    assert times.remaining(unknown, elapsed=0.0) == (0.0, False)
    progress = Progress(0, 2, "SSDlite · NoSuchCAM", time.monotonic(), tuple(unknown))
    assert progress.text(times) == "Map 1 of 2: SSDlite · NoSuchCAM — 0 s, time left not known yet"
