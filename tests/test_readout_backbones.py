"""Readouts on the detectors' backbones (issue 17 §1): a ResNet-FPN detector's body or FPN
levels from the detector registry with its weight source, trained and used as a type-2 model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency_core.commands import readout as command
from saliency_core.models import gaze
from saliency_core.models.detectors import load_detector
from saliency_core.models.readout import BACKBONES, ReadoutRecipe, build_readout, load_readout
from saliency_core.models.readout.network import centre_bias_tensor

DETECTOR = "Faster R-CNN R50-FPN"


def test_the_detectors_with_a_resnet_fpn_backbone_are_backbones():
    detectors = [name for name in BACKBONES if "R50-FPN" in name]
    assert detectors == [
        "Faster R-CNN R50-FPN",
        "Faster R-CNN R50-FPN v2",
        "Mask R-CNN R50-FPN",
        "RetinaNet R50-FPN",
        "RetinaNet R50-FPN v2",
        "FCOS R50-FPN",
    ]
    assert "SSD300 VGG16" not in BACKBONES and "ResNet-50" in BACKBONES


def test_the_backbone_is_the_detectors_with_its_weight_source(tmp_path):
    """A detector state dict as a ``file`` weight source: the readout's body holds its weights;
    ``layer4`` and ``fpn.0`` (256 channels, resized to layer4's grid) are concatenated."""
    detector = load_detector(DETECTOR, "untrained", seed=3).model
    path = tmp_path / "detector.pt"
    torch.save(detector.state_dict(), path)
    recipe = ReadoutRecipe(
        DETECTOR, "file", str(path), layers=("layer4", "fpn.0"), input_size=64, kind="bi"
    )
    net = build_readout(recipe)
    assert recipe.label == (
        "Readout (BI) on Faster R-CNN R50-FPN backbone [weights file] · trained on "
        "(no training data)"
    )
    body = detector.backbone.body.state_dict()
    for key, value in net.extractor.body.state_dict().items():
        torch.testing.assert_close(value, body[key], rtol=0, atol=0)
    x = torch.zeros(2, 3, 64, 96)
    assert net.features(x).shape == (2, 2048 + 256, 2, 3)
    log_p = net(x, centre_bias_tensor((64, 96), 2))
    assert log_p.shape == (2, 64, 96)
    assert torch.logsumexp(log_p.flatten(1), 1).tolist() == pytest.approx([0.0, 0.0], abs=1e-5)


def test_an_unknown_detector_layer_is_named():
    recipe = ReadoutRecipe("RetinaNet R50-FPN", layers=("layer1",), input_size=64)
    with pytest.raises(ValueError, match=r"layer\(s\) layer1; choose from layer2, layer3, layer4"):
        build_readout(recipe)


def test_a_readout_trained_on_an_untrained_detector_backbone_is_a_type2_model(tmp_path):
    out = tmp_path / "run"
    argv = ["--dataset", "sample", "--out", str(out), "--backbone", DETECTOR]
    argv += ["--weights", "untrained", "--readout", "dc", "--epochs", "1", "--input-size", "64"]
    argv += ["--limit", "4", "--batch-size", "2"]
    assert command.main(argv) == 0
    rgb = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    predicted = gaze.predict_type2(str(out), rgb)
    assert predicted.label == (
        "Readout (DC) on Faster R-CNN R50-FPN backbone [UNTRAINED] · trained on "
        "NUS Scene sample (50 images, real fixations)"
    )
    assert predicted.log_density.shape == (40, 56)
    assert np.exp(predicted.log_density).sum() == pytest.approx(1.0, abs=1e-4)
    assert load_readout(out).recipe.layers == ("layer3", "layer4")
