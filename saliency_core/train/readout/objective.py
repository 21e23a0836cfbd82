"""What a readout is trained and scored on: its log density over a batch (from cached backbone
features when the backbone is frozen), the loss and the validation scores.

Loss (``loss``): ``nll`` — the negative log-likelihood of the fixations under the predicted
density (nats per fixation, DeepGaze's), or ``kld`` — Oyama-style pixel-wise KL divergence from
the blurred fixation density (σ = one degree, ``fixations.default_sigma`` of the input). Mixed
precision (bfloat16 autocast) on CUDA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from saliency_core.data.fixations import default_sigma, density_map
from saliency_core.models.readout.network import ReadoutNet, centre_bias_tensor
from saliency_core.scoring.likelihood import nll, pixelwise_kld
from saliency_core.train.readout.data import FixationImage, batches


def autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def cache_features(net: ReadoutNet, images: Sequence[FixationImage], device, batch_size: int):
    """Each image's backbone features, computed once (float16, CPU): a frozen backbone's
    features never change."""
    for batch in batches(images, batch_size):
        x = torch.stack([item.image for item in batch]).to(device)
        with torch.inference_mode(), autocast(device):
            features = net.features(x).to("cpu", torch.float16)
        for item, feature in zip(batch, features, strict=True):
            item.features = feature


def log_density(
    net: ReadoutNet, batch: Sequence[FixationImage], device, module: nn.Module | None = None
) -> torch.Tensor:
    """The (B, h, w) log densities of ``batch``: the head on its cached features, else the whole
    network on its images; ``module`` runs instead of either (the same, wrapped in DDP)."""
    bias = centre_bias_tensor(batch[0].shape, len(batch)).to(device)
    cached = batch[0].features is not None
    with autocast(device):
        if cached:
            x = torch.stack([item.features for item in batch]).to(device).float()
        else:
            x = torch.stack([item.image for item in batch]).to(device)
        return (module or (net.head if cached else net))(x, bias).float()


def _targets(batch: Sequence[FixationImage]) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.cat([torch.full((len(i.pixel),), k) for k, i in enumerate(batch)])
    return image, torch.cat([item.pixel for item in batch])


def _blurred(batch: Sequence[FixationImage]) -> torch.Tensor:
    """The blurred fixation densities of the batch at its input size (the ``kld`` target)."""
    height, width = batch[0].shape
    maps = []
    for item in batch:
        pixel = item.pixel.numpy()
        points = torch.stack([torch.from_numpy(pixel % width), torch.from_numpy(pixel // width)], 1)
        maps.append(
            torch.from_numpy(
                density_map(points.numpy(), (height, width), default_sigma((height, width)))
            )
        )
    return torch.stack(maps)


def batch_loss(log_p: torch.Tensor, batch, loss: str) -> tuple[torch.Tensor, int]:
    """The batch's loss (nats per fixation; ``kld``: per image) and its weight."""
    if loss == "kld":
        return pixelwise_kld(log_p, _blurred(batch).to(log_p.device)), len(batch)
    image, pixel = _targets(batch)
    return nll(log_p, image.to(log_p.device), pixel.to(log_p.device)), len(pixel)


def evaluate_split(net, images, device, batch_size: int, loss: str) -> dict[str, float]:
    """``loss`` (the training loss), ``nll`` (nats/fixation) and ``ig`` (bits/fixation over
    the centre bias) over ``images``; the network is left in eval mode."""
    loss_sum = nll_sum = centre_sum = 0.0
    weight = fixations = 0
    net.eval()
    with torch.no_grad():
        for batch in batches(images, batch_size):
            log_p = log_density(net, batch, device).cpu()
            value, count = batch_loss(log_p, batch, loss)
            image, pixel = _targets(batch)
            bias = centre_bias_tensor(batch[0].shape, len(batch))
            loss_sum += float(value) * count
            nll_sum += float(nll(log_p, image, pixel)) * len(pixel)
            centre_sum += float(nll(bias, image, pixel)) * len(pixel)
            weight += count
            fixations += len(pixel)
    return {
        "loss": loss_sum / weight,
        "nll": nll_sum / fixations,
        "ig": (centre_sum - nll_sum) / fixations / math.log(2),
    }
