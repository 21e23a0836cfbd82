"""Classifier registry and classifier CAMs (untrained models at small inputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.reshape_transforms import (
    swinT_reshape_transform,
    vit_reshape_transform,
)

from saliency_core.maps import classifier_methods as Y
from saliency_core.models import classifiers as K
from saliency_core.models import weights
from saliency_core.models.weights import MissingWeightsError

SMALL = {"ViT-B/16": 32}  # ViT's position embeddings are built for the input side


def small_size(name: str) -> int:
    return SMALL.get(name, 64)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (48, 72, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def resnet() -> K.LoadedClassifier:
    return K.load_classifier("ResNet-50", input_size=64)


def test_registry_holds_the_six_classifiers_with_imagenet_metadata():
    assert list(K.CLASSIFIERS) == [
        "ResNet-50",
        "DenseNet-201",
        "ConvNeXt-T",
        "EfficientNet-B0",
        "ViT-B/16",
        "Swin-T",
    ]
    for spec in K.CLASSIFIERS.values():
        assert len(spec.categories) == 1000 and spec.native_size == 224
        assert spec.checkpoint_name.endswith(".pth")
    assert K.CLASSIFIERS["ResNet-50"].checkpoint_name == "resnet50-11ad3fa6.pth"
    assert K.CLASSIFIERS["ResNet-50"].categories[1] == "goldfish"


@pytest.mark.parametrize("name", list(K.CLASSIFIERS))
def test_each_classifier_builds_untrained_and_yields_top5_and_a_cam(name, rgb):
    classifier = K.load_classifier(name, input_size=small_size(name))
    assert not classifier.trained and "UNTRAINED" in classifier.label
    result = Y.explain_with_cam(classifier, rgb, "GradCAM")
    assert result.saliency.shape == (48, 72) and result.saliency.dtype == np.float32
    assert result.saliency.min() == 0.0 and result.saliency.max() == pytest.approx(1.0)
    probabilities = [p.probability for p in result.predictions]
    assert len(probabilities) == 5 and sum(probabilities) <= 1.0 + 1e-6
    assert probabilities == sorted(probabilities, reverse=True)
    assert result.explained == [result.predictions[0].index]  # top-1 by default


def test_reshape_transforms_equal_the_library_ones_at_224():
    tokens = torch.randn(2, 1 + 14 * 14, 8)
    assert torch.equal(K.vit_tokens_to_grid(tokens), vit_reshape_transform(tokens))
    channels_last = torch.randn(2, 7, 7, 8)
    assert torch.equal(
        K.swin_channels_last_to_grid(channels_last),
        swinT_reshape_transform(channels_last.reshape(2, 49, 8)),
    )
    assert K.vit_tokens_to_grid(torch.randn(1, 5, 3)).shape == (1, 3, 2, 2)


def test_targets_chosen_class_and_top_k(resnet, rgb):
    chosen = Y.explain_with_cam(resnet, rgb, "GradCAM", target_class=7)
    assert chosen.explained == [7]
    top3 = Y.explain_with_cam(resnet, rgb, "HiResCAM", top_k=3)
    assert top3.explained == [p.index for p in top3.predictions[:3]]
    with pytest.raises(ValueError, match="outside 0..999"):
        Y.explain_with_cam(resnet, rgb, "GradCAM", target_class=1000)


def test_class_set_target_sums_the_chosen_logits():
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.0]])
    top2 = Y.ClassSetTarget(top_k=2)
    assert top2(logits[0]).item() == pytest.approx(5.0) and top2.chosen == [1, 3]
    assert Y.ClassSetTarget([0, 2])(logits).tolist() == pytest.approx([-0.5])


def test_top_predictions_are_softmax_probabilities():
    logits = torch.log(torch.tensor([0.1, 0.6, 0.3]))
    predictions = Y.top_predictions(logits, ["a", "b", "c"])
    assert [p.name for p in predictions] == ["b", "c", "a"]
    assert [p.probability for p in predictions] == pytest.approx([0.6, 0.3, 0.1])


def ablate_few_channels(monkeypatch: pytest.MonkeyPatch, ratio: float) -> None:
    """AblationCAM on a ``ratio`` of the channels in one batch (the method's own option)."""
    entry = Y.CLASSIFIER_CAM_METHODS["AblationCAM"]
    kwargs = {**entry.kwargs, "ratio_channels_to_ablate": ratio, "batch_size": 64}
    changed = Y.ClassifierCamMethod(**{**entry.__dict__, "kwargs": kwargs})
    monkeypatch.setitem(Y.CLASSIFIER_CAM_METHODS, "AblationCAM", changed)


@pytest.mark.parametrize("method", [m for m in Y.CLASSIFIER_CAM_METHODS if m != "ScoreCAM"])
def test_every_cam_method_runs_on_a_cnn(method, resnet, rgb, monkeypatch):
    ablate_few_channels(monkeypatch, 0.01)
    result = Y.explain_with_cam(resnet, rgb, method)
    assert result.saliency.shape == (48, 72)
    assert result.saliency.min() >= 0.0 and result.saliency.max() <= 1.0
    assert all(p.grad is None for p in resnet.model.parameters())


def test_vit_ablation_uses_the_transformer_ablation_layer(rgb, monkeypatch):
    ablate_few_channels(monkeypatch, 0.02)
    vit = K.load_classifier("ViT-B/16", input_size=32)
    assert type(vit.spec.ablation_layer()).__name__ == "AblationLayerVit"
    ablation = Y.explain_with_cam(vit, rgb, "AblationCAM")
    assert ablation.saliency.shape == (48, 72) and ablation.saliency.max() == pytest.approx(1.0)
    assert "LayerNorm" in Y.method_unsupported("FullGrad", vit.spec)
    with pytest.raises(ValueError, match="Conv2d"):
        Y.explain_with_cam(vit, rgb, "FullGrad")


def test_score_cam_explains_the_class_of_the_unperturbed_pass(resnet, rgb, monkeypatch):
    narrow = K.TargetLayer("layer1.0.conv1", "64 channels: 4 batches of ScoreCAM")
    spec = K.ClassifierSpec(**{**resnet.spec.__dict__, "targets": {"narrow": narrow}})
    monkeypatch.setattr(resnet, "spec", spec)
    result = Y.explain_with_cam(resnet, rgb, "ScoreCAM")
    assert result.saliency.shape == (48, 72)
    assert result.explained == [result.predictions[0].index]


def test_weight_sources_file_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    built = K.load_classifier("EfficientNet-B0", input_size=32)
    state = {k: v for k, v in built.model.state_dict().items()}
    state["classifier.1.weight"] = torch.randn(3, 1280)
    state["classifier.1.bias"] = torch.zeros(3)
    path = tmp_path / "mine.pth"
    torch.save(state, path)
    loaded = K.load_classifier("EfficientNet-B0", "file", path, input_size=32)
    assert loaded.categories == ["class 0", "class 1", "class 2"] and loaded.trained
    assert torch.equal(loaded.model.classifier[1].weight, state["classifier.1.weight"])
    with pytest.raises(MissingWeightsError, match="does not match"):
        K.load_classifier("ResNet-50", "file", path, input_size=32)

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(weights, "download_checkpoint", offline)
    with pytest.raises(MissingWeightsError, match="efficientnet_b0_rwightman-7f5810bc.pth"):
        K.load_classifier("EfficientNet-B0", "pretrained", input_size=224)


def test_vit_input_side_is_checked():
    with pytest.raises(ValueError, match="multiple of 16"):
        K.load_classifier("ViT-B/16", input_size=40)
    with pytest.raises(ValueError, match="224 px"):
        K.load_classifier("ViT-B/16", "pretrained", input_size=32)
