"""Readout heads: backbone features (B, C, h, w) → a log density over the input (B, H, W).

Oyama & Yamanaka (2018) compare three up-sampling readouts; DeepGaze IIE uses a fourth:

* ``dc`` — deconvolution: three 4×4 transposed convolutions (stride 2) with ReLU, channels
  C → 128 → 64 → 32, then a 1×1 convolution to one channel (grid × 8);
* ``spc`` — sub-pixel convolution: three layers of a 3×3 convolution to 4·c channels with ReLU
  and PixelShuffle(2), which keeps a quarter of them (c = 128, 64, 32), then 1×1 (grid × 8);
* ``bi`` — bilinear: the 1×1 projection to one channel first, then bilinear up-sampling;
* ``deepgaze`` — DeepGaze IIE's readout: 1×1 convolutions with layer norm and softplus
  (C → 8 → 16 → 1, then 1 → 128 → 16 → 1), a learned Gaussian blur and a learned weight on the
  log centre bias (``layers.Finalizer``).

Every head takes the features and the (B, H, W) log centre bias c at the input's size and ends
the same way: the one-channel map s is resized to H × W (bilinear; DeepGaze: nearest, then
blurred), c is added where the kind uses it (``deepgaze``), and log p = s + c − logsumexp(s + c)
over the pixels, so exp(log p) sums to 1 over each image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from saliency_core.models.gaze.layers import (
    Finalizer,
    fixation_selection_network,
    saliency_network,
)

WIDTHS = (128, 64, 32)
"""Channels after each up-sampling layer of ``dc`` and ``spc`` (Oyama & Yamanaka)."""


def normalise(values: torch.Tensor) -> torch.Tensor:
    """(B, H, W) → log density: values − logsumexp over each image's pixels."""
    return values - values.flatten(1).logsumexp(dim=1)[:, None, None]


class UpsamplingHead(nn.Module):
    """An Oyama readout: ``layers`` (B, C, h, w) → (B, 1, h', w'), resized bilinearly to the
    input's size and normalised (no centre bias: Oyama's readouts learn it)."""

    def __init__(self, layers: nn.Sequential) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, features: torch.Tensor, centre_bias: torch.Tensor) -> torch.Tensor:
        saliency = self.layers(features)
        size = centre_bias.shape[-2:]
        saliency = F.interpolate(saliency.float(), size=size, mode="bilinear", align_corners=False)
        return normalise(saliency[:, 0])


def deconvolution(channels: int, _input_size: int) -> nn.Module:
    """``dc``: 4×4 transposed convolutions (stride 2, padding 1) + ReLU, C → 128 → 64 → 32, 1×1."""
    layers: list[nn.Module] = []
    for width in WIDTHS:
        layers += [nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1), nn.ReLU()]
        channels = width
    return UpsamplingHead(nn.Sequential(*layers, nn.Conv2d(channels, 1, 1)))


def sub_pixel(channels: int, _input_size: int) -> nn.Module:
    """``spc``: 3×3 convolution to 4·c channels + ReLU + PixelShuffle(2) (a quarter of them
    stay: c), c = 128, 64, 32, then 1×1."""
    layers: list[nn.Module] = []
    for width in WIDTHS:
        layers += [nn.Conv2d(channels, 4 * width, 3, padding=1), nn.ReLU(), nn.PixelShuffle(2)]
        channels = width
    return UpsamplingHead(nn.Sequential(*layers, nn.Conv2d(channels, 1, 1)))


def bilinear(channels: int, _input_size: int) -> nn.Module:
    """``bi``: the 1×1 projection to one channel, then bilinear up-sampling."""
    return UpsamplingHead(nn.Sequential(nn.Conv2d(channels, 1, 1)))


class DeepGazeHead(nn.Module):
    """DeepGaze IIE's readout (one component): saliency network, fixation-selection network and
    finalizer (blur, + w · log centre bias, normalised) at the input's size."""

    def __init__(self, channels: int, input_size: int) -> None:
        super().__init__()
        self.saliency = saliency_network(channels)
        self.fixation = fixation_selection_network()
        self.finalizer = Finalizer(sigma=blur_sigma(input_size), factor=1)

    def forward(self, features: torch.Tensor, centre_bias: torch.Tensor) -> torch.Tensor:
        readout = self.fixation(self.saliency(features.float()))
        return self.finalizer(readout, centre_bias.float())


def blur_sigma(input_size: int) -> float:
    """The blur's initial σ (px): DeepGaze IIE's 8 px on its 512 px half-size input, scaled to
    ``input_size`` (at least 1 px)."""
    return max(1.0, 8.0 * input_size / 512)


@dataclass(frozen=True)
class ReadoutKind:
    """A registry entry: its label, builder ``(channels, input_size) -> head`` and whether it
    adds the log centre bias."""

    label: str
    build: Callable[[int, int], nn.Module]
    uses_centre_bias: bool
    description: str


READOUT_KINDS: dict[str, ReadoutKind] = {
    "dc": ReadoutKind("DC", deconvolution, False, "4×4 transposed convolutions (Oyama)"),
    "spc": ReadoutKind("SPC", sub_pixel, False, "sub-pixel convolutions (Oyama)"),
    "bi": ReadoutKind("BI", bilinear, False, "1×1 projection, bilinear up-sampling (Oyama)"),
    "deepgaze": ReadoutKind(
        "DeepGaze", DeepGazeHead, True, "DeepGaze IIE's readout with blur and centre bias"
    ),
}
"""Readout kinds by their command-line name."""
