"""Readout layers of DeepGaze IIE: layer norm, bias, learned Gaussian blur, finalizer.

Parameter names follow the released checkpoint (``deepgaze2e.pth``) so that it loads strictly.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-12
BLUR_TRUNCATE = 3.0
"""The blur kernel spans ±ceil(3σ): size 2·ceil(3σ) + 1 taps."""


class SpatialLayerNorm(nn.Module):
    """Layer norm over (C, H, W) jointly, then a per-channel affine map.

    y[c] = (x[c] − mean(x)) / sqrt(var(x) + eps) · weight[c] + bias[c], with mean and (biased)
    variance taken per sample over all channels and positions.
    """

    def __init__(self, channels: int, eps: float = LAYER_NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalised = F.layer_norm(x, x.shape[1:], eps=self.eps)
        return normalised * self.weight[:, None, None] + self.bias[:, None, None]

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class Bias(nn.Module):
    """Adds a learned per-channel offset: y[c] = x[c] + bias[c]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias[:, None, None]


class GaussianBlur(nn.Module):
    """Separable Gaussian blur with a learned sigma (pixels) and replicate padding.

    Kernel k[i] ∝ exp(−i² / (2σ²)) for i = −r..r, r = ceil(3σ), normalised to sum 1; applied along
    H, then W, on every channel separately.
    """

    def __init__(self, sigma: float = 8.0) -> None:
        super().__init__()
        self.sigma = nn.Parameter(torch.tensor(sigma, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sigma = self.sigma.to(x.dtype)
        radius = int(torch.ceil(BLUR_TRUNCATE * sigma).item())
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        kernel = kernel / kernel.sum()
        batch, channels, height, width = x.shape
        x = x.reshape(batch * channels, 1, height, width)
        x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
        return x.reshape(batch, channels, height, width)


class Finalizer(nn.Module):
    """Turns a readout map into a normalised log density on the image grid.

    With c the centre bias (log density, B×H×W) downscaled by ``factor`` (nearest):
    out = resize_H×W(blur(resize(readout)) + center_bias_weight · c), then out − logsumexp(out).
    """

    def __init__(self, sigma: float = 8.0, center_bias_weight: float = 1.0, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.center_bias_weight = nn.Parameter(torch.tensor([center_bias_weight]))
        self.gauss = GaussianBlur(sigma)

    def forward(self, readout: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        small_bias = F.interpolate(
            centerbias[:, None], scale_factor=1 / self.factor, recompute_scale_factor=False
        )
        out = F.interpolate(readout, size=small_bias.shape[-2:])
        out = self.gauss(out) + self.center_bias_weight * small_bias
        out = F.interpolate(out, size=centerbias.shape[-2:])[:, 0]
        return out - out.logsumexp(dim=(1, 2), keepdim=True)


def saliency_network(channels: int) -> nn.Sequential:
    """Features (C channels) → one non-negative saliency channel, through 8 and 16 channels."""
    return nn.Sequential(
        OrderedDict(
            layernorm0=SpatialLayerNorm(channels),
            conv0=nn.Conv2d(channels, 8, 1, bias=False),
            bias0=Bias(8),
            softplus0=nn.Softplus(),
            layernorm1=SpatialLayerNorm(8),
            conv1=nn.Conv2d(8, 16, 1, bias=False),
            bias1=Bias(16),
            softplus1=nn.Softplus(),
            layernorm2=SpatialLayerNorm(16),
            conv2=nn.Conv2d(16, 1, 1, bias=False),
            bias2=Bias(1),
            softplus3=nn.Softplus(),  # sic: the checkpoint's name (no parameters)
        )
    )


def fixation_selection_network() -> nn.Sequential:
    """Saliency channel → readout map (1 channel), through 128 and 16 channels.

    The first norm and conv keep the checkpoint's multi-input names (``layernorm_part0``,
    ``conv_part0``); DeepGaze IIE feeds them the saliency channel only (no scanpath input).
    """
    first_norm = nn.Sequential(OrderedDict(layernorm_part0=SpatialLayerNorm(1)))
    first_conv = nn.Sequential(OrderedDict(conv_part0=nn.Conv2d(1, 128, 1, bias=False)))
    return nn.Sequential(
        OrderedDict(
            layernorm0=first_norm,
            conv0=first_conv,
            bias0=Bias(128),
            softplus0=nn.Softplus(),
            layernorm1=SpatialLayerNorm(128),
            conv1=nn.Conv2d(128, 16, 1, bias=False),
            bias1=Bias(16),
            softplus1=nn.Softplus(),
            conv2=nn.Conv2d(16, 1, 1, bias=False),
        )
    )
