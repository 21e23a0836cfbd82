"""Gradient saliency of classifiers through Captum, as type-1 maps.

Each method attributes the explained score s(x) (the sum of the chosen classes' logits) to the
input pixels; the attribution a (3, H, W) becomes a type-1 map like any CAM:
m = max_c |a_c| (absolute value, maximum over the colour channels), then min-max scaled to
[0, 1] by the caller. Captum runs its own passes; the cost column counts them (F = forward,
B = backward through the whole network):

- vanilla gradient (Simonyan et al., 2014), ``captum.attr.Saliency``: a = ∂s/∂x; 1 F + 1 B;
- SmoothGrad (Smilkov et al., 2017), ``NoiseTunnel(Saliency)``: a = mean over n noisy copies
  x + N(0, σ²) of |∂s/∂x|, σ = 15 % of the input's range; n F + n B;
- Integrated Gradients (Sundararajan et al., 2017): a = (x − x₀) · mean over α of ∂s/∂x at
  x₀ + α (x − x₀), x₀ a black image, Gauss–Legendre steps; n F + n B;
- Guided Backprop (Springenberg et al., 2015), ``captum.attr.GuidedBackprop``: the gradient
  with negative gradients stopped at every ``nn.ReLU`` module; 1 F + 1 B. Defined for ReLU
  networks only (elsewhere it would equal the vanilla gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import GuidedBackprop, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15
"""σ of SmoothGrad's noise as a fraction of (max − min) of the input (the paper's 10–20 %)."""
IG_STEPS = 32


class ClassSetScore(nn.Module):
    """s(x) = Σ_k model(x)[:, k] over ``classes``, shape (B, 1) (so Captum's target is 0)."""

    def __init__(self, model: nn.Module, classes: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.classes = list(classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)[:, self.classes].sum(dim=1, keepdim=True)


def channel_max_abs(attribution: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) attribution → (H, W) float32 map m = max_c |a_c|."""
    return attribution.detach().abs().amax(dim=1)[0].float().cpu().numpy()


def vanilla_gradient(
    score: ClassSetScore, inputs: torch.Tensor, baseline: torch.Tensor
) -> np.ndarray:
    return channel_max_abs(Saliency(score).attribute(inputs, target=0, abs=True))


def smoothgrad(score: ClassSetScore, inputs: torch.Tensor, baseline: torch.Tensor) -> np.ndarray:
    sigma = SMOOTHGRAD_NOISE * float(inputs.max() - inputs.min())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same noise for the same image: reproducible maps
        attribution = NoiseTunnel(Saliency(score)).attribute(
            inputs,
            nt_type="smoothgrad",
            nt_samples=SMOOTHGRAD_SAMPLES,
            nt_samples_batch_size=4,
            stdevs=sigma,
            target=0,
            abs=True,
        )
    return channel_max_abs(attribution)


def integrated_gradients(
    score: ClassSetScore, inputs: torch.Tensor, baseline: torch.Tensor
) -> np.ndarray:
    attribution = IntegratedGradients(score).attribute(
        inputs, baselines=baseline, target=0, n_steps=IG_STEPS, internal_batch_size=8
    )
    return channel_max_abs(attribution)


def guided_backprop(
    score: ClassSetScore, inputs: torch.Tensor, baseline: torch.Tensor
) -> np.ndarray:
    return channel_max_abs(GuidedBackprop(score).attribute(inputs, target=0))


@dataclass(frozen=True)
class GradientMethod:
    """One Captum method: how to run it, what it costs, and where it applies."""

    name: str
    attribute: Callable[[ClassSetScore, torch.Tensor, torch.Tensor], np.ndarray]
    cost: str
    forwards: float
    """:attr:`cost` in forward passes of the model (a backward ≈ one forward)."""
    description: str
    needs_relu: bool = False
    expensive: bool = False

    def unsupported(self, relu_network: bool, model_name: str) -> str | None:
        if self.needs_relu and not relu_network:
            return (
                f"{self.name} changes the backward of ReLU modules only; {model_name} uses "
                "other activations (GELU/SiLU), so it would return the vanilla gradient."
            )
        return None


GRADIENT_METHODS: dict[str, GradientMethod] = {
    method.name: method
    for method in (
        GradientMethod(
            "Gradient",
            vanilla_gradient,
            "1 forward + 1 backward",
            2.0,
            "Vanilla gradient |∂s/∂x| (Simonyan et al., 2014).",
        ),
        GradientMethod(
            "SmoothGrad",
            smoothgrad,
            f"{SMOOTHGRAD_SAMPLES} forwards + {SMOOTHGRAD_SAMPLES} backwards",
            2.0 * SMOOTHGRAD_SAMPLES,
            f"Mean |gradient| over {SMOOTHGRAD_SAMPLES} noisy copies, σ = "
            f"{SMOOTHGRAD_NOISE:.0%} of the input range (Smilkov et al., 2017).",
            expensive=True,
        ),
        GradientMethod(
            "Integrated Gradients",
            integrated_gradients,
            f"{IG_STEPS} forwards + {IG_STEPS} backwards",
            2.0 * IG_STEPS,
            f"Path integral of gradients from a black image, {IG_STEPS} steps "
            "(Sundararajan et al., 2017).",
            expensive=True,
        ),
        GradientMethod(
            "Guided Backprop",
            guided_backprop,
            "1 forward + 1 backward",
            2.0,
            "Gradient with negative gradients zeroed at each ReLU (Springenberg et al., 2015).",
            needs_relu=True,
        ),
    )
}


def attribute_map(
    method: str,
    model: nn.Module,
    inputs: torch.Tensor,
    classes: Sequence[int],
    baseline: torch.Tensor | None = None,
) -> np.ndarray:
    """Type-1 map (H, W) float32, unscaled: ``method``'s attribution of Σ logits[classes] to
    ``inputs`` (1, C, H, W), as max_c |a_c|. ``baseline`` (Integrated Gradients) defaults to 0."""
    entry = GRADIENT_METHODS[method]
    baseline = torch.zeros_like(inputs) if baseline is None else baseline
    inputs = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        return entry.attribute(ClassSetScore(model, classes), inputs, baseline)
