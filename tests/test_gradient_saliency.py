"""Captum gradient maps: hand-computed gradients of tiny models, and classifier integration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from saliency_core.maps import classifier_methods as Y
from saliency_core.maps import gradient_saliency as G
from saliency_core.models import classifiers as K


def linear_model() -> tuple[nn.Module, torch.Tensor]:
    """f(x) = W · vec(x) on (1, 3, 4, 5) inputs, 2 classes; returns the model and W."""
    torch.manual_seed(0)
    weight = torch.randn(2, 3 * 4 * 5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(60, 2, bias=False))
    model[1].weight.data = weight.clone()
    return model.eval(), weight.reshape(2, 3, 4, 5)


def test_vanilla_gradient_and_smoothgrad_of_a_linear_model_are_its_weights():
    model, weight = linear_model()
    x = torch.rand(1, 3, 4, 5)
    expected = weight[1].abs().amax(dim=0).numpy()  # max over channels of |W_1|
    np.testing.assert_allclose(G.attribute_map("Gradient", model, x, [1]), expected, rtol=1e-6)
    # the gradient is the same at every noisy copy, so SmoothGrad's mean |gradient| equals it
    np.testing.assert_allclose(G.attribute_map("SmoothGrad", model, x, [1]), expected, rtol=1e-5)
    both = (weight[0] + weight[1]).abs().amax(dim=0).numpy()  # Σ of two logits
    np.testing.assert_allclose(G.attribute_map("Gradient", model, x, [0, 1]), both, rtol=1e-6)


def test_integrated_gradients_of_a_linear_model_is_input_times_weight():
    model, weight = linear_model()
    x, baseline = torch.rand(1, 3, 4, 5), torch.full((1, 3, 4, 5), 0.25)
    expected = ((x[0] - baseline[0]) * weight[0]).abs().amax(dim=0).numpy()
    got = G.attribute_map("Integrated Gradients", model, x, [0], baseline=baseline)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_guided_backprop_zeroes_negative_gradients_at_each_relu():
    """f(x) = v · relu(A x): guided gradient = Aᵀ (max(v, 0) ⊙ [A x > 0])."""
    torch.manual_seed(1)
    a, v = torch.randn(6, 3), torch.tensor([1.0, -2.0, 0.5, -0.3, 2.0, 1.5])
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(3, 6, bias=False), nn.ReLU(), nn.Linear(6, 1, bias=False)
    )
    model[1].weight.data, model[3].weight.data = a.clone(), v[None].clone()
    x = torch.randn(1, 3, 1, 1)
    active = (a @ x.flatten() > 0).float()
    guided = a.T @ (v.clamp(min=0) * active)
    plain = a.T @ (v * active)
    assert not torch.allclose(guided, plain)  # the example tells the two apart
    got = G.attribute_map("Guided Backprop", model.eval(), x, [0])
    np.testing.assert_allclose(got, guided.abs().max().reshape(1, 1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        G.attribute_map("Gradient", model, x, [0]), plain.abs().max().reshape(1, 1), rtol=1e-6
    )


def test_guided_backprop_is_refused_for_gelu_networks_with_a_reason():
    reason = Y.method_unsupported("Guided Backprop", K.CLASSIFIERS["ConvNeXt-T"])
    assert reason and "GELU" in reason
    assert Y.method_unsupported("Guided Backprop", K.CLASSIFIERS["ResNet-50"]) is None
    assert set(G.GRADIENT_METHODS) <= set(Y.METHOD_COSTS)
    assert "16 forwards" in Y.METHOD_COSTS["SmoothGrad"]


@pytest.mark.parametrize("method", list(G.GRADIENT_METHODS))
def test_gradient_maps_of_a_classifier_are_type1_maps_with_the_top5(method):
    classifier = K.load_classifier("ResNet-50", input_size=32)
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    result = Y.explain(classifier, rgb, method, top_k=2)
    assert result.saliency.shape == (40, 30) and result.saliency.dtype == np.float32
    assert result.saliency.min() == 0.0 and result.saliency.max() == pytest.approx(1.0)
    assert result.explained == [p.index for p in result.predictions[:2]]
    assert all(p.grad is None for p in classifier.model.parameters())
