"""Gradient CAMs with the backward stopped at the target layer equal pytorch-grad-cam's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam import (
    EigenGradCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    XGradCAM,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torchvision.models import resnet18

from saliency_core.maps import cams as C
from saliency_core.maps.fast_backward import TargetLayerNotReachedError, stop_at_target
from saliency_core.models.detectors import load_detector, to_input_tensor

GRADIENT_CLASSES = (GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM, EigenGradCAM)


@pytest.fixture(scope="module")
def small_faster_rcnn():
    return load_detector("Faster R-CNN R50-FPN", "untrained", input_size=128)


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return resnet18(num_classes=10).eval()


def _image(size: int = 128) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _cam(cam_class, model, layers, tensor, targets) -> np.ndarray:
    with torch.enable_grad(), cam_class(model, layers) as cam:
        return cam(tensor, targets=targets)


@pytest.mark.parametrize("cam_class", GRADIENT_CLASSES, ids=lambda c: c.__name__)
def test_detector_cam_equals_the_library_output(small_faster_rcnn, cam_class):
    model = small_faster_rcnn.model
    tensor = to_input_tensor(_image(), small_faster_rcnn.device)
    layers = [model.backbone.body.layer4]
    plain = _cam(cam_class, model, layers, tensor, [C.DetectionScoreTarget(0.0)])
    model.zero_grad(set_to_none=True)
    fast = _cam(stop_at_target(cam_class), model, layers, tensor, [C.DetectionScoreTarget(0.0)])
    assert fast.shape == plain.shape == (1, 128, 128)
    assert plain.max() - plain.min() > 0.5  # a real map, not a constant
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    assert all(p.grad is None for p in model.parameters())  # no parameter gradient
    assert all(p.requires_grad for p in model.parameters())  # parameters left as they were


@pytest.mark.parametrize("cam_class", GRADIENT_CLASSES, ids=lambda c: c.__name__)
def test_classifier_cam_equals_the_library_output_with_default_targets(classifier, cam_class):
    tensor = torch.from_numpy(_image(64)).permute(2, 0, 1)[None].float() / 255
    layers = [classifier.layer4]
    plain = _cam(cam_class, classifier, layers, tensor, None)
    classifier.zero_grad(set_to_none=True)
    fast = _cam(stop_at_target(cam_class), classifier, layers, tensor, None)
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    assert plain.max() - plain.min() > 0.5


def test_no_graph_below_the_target_and_nested_targets_match(classifier):
    tensor = torch.from_numpy(_image(64)).permute(2, 0, 1)[None].float() / 255
    seen: dict[str, bool] = {}
    hook = classifier.layer2.register_forward_hook(
        lambda module, args, output: seen.update(layer2=output.requires_grad)
    )
    layers = [classifier.layer3, classifier.layer4]  # layer4 lies above layer3
    targets = [ClassifierOutputTarget(3)]
    try:
        fast = _cam(stop_at_target(GradCAM), classifier, layers, tensor, targets)
    finally:
        hook.remove()
    assert seen == {"layer2": False}  # no autograd graph below the lowest target layer
    plain = _cam(GradCAM, classifier, layers, tensor, targets)
    classifier.zero_grad(set_to_none=True)
    np.testing.assert_allclose(fast, plain, atol=1e-5)


def test_run_cam_fast_and_library_paths_agree_on_ssdlite():
    detector = load_detector("SSDlite320 MobileNetV3", "untrained")
    rgb = _image(96)
    fast = C.run_cam(detector, rgb, "GradCAM", score_threshold=0.0)
    plain = C.run_cam(detector, rgb, "GradCAM", score_threshold=0.0, fast=False)
    np.testing.assert_allclose(fast.cam, plain.cam, atol=1e-5)
    np.testing.assert_array_equal(fast.detections.boxes, plain.detections.boxes)
    assert fast.cam.shape == (96, 96) and fast.cam.min() == 0.0 and fast.cam.max() == 1.0
    assert all(p.grad is None for p in detector.model.parameters())


def test_unreached_target_layer_is_a_clear_error(classifier):
    tensor = torch.zeros(1, 3, 32, 32)
    unused = torch.nn.Conv2d(3, 3, 1)
    with pytest.raises(TargetLayerNotReachedError, match="did not run"):
        _cam(stop_at_target(GradCAM), classifier, [unused], tensor, None)


def test_gradient_free_methods_keep_the_library_class():
    assert C.CAM_METHODS["EigenCAM"].runner() is C.CAM_METHODS["EigenCAM"].cam_class
    assert C.CAM_METHODS["GradCAM"].runner().__name__ == "FastGradCAM"
    assert C.CAM_METHODS["GradCAM"].runner(fast=False) is GradCAM
    assert stop_at_target(GradCAM) is stop_at_target(GradCAM)
