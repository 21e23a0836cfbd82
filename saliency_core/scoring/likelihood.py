"""Fixation likelihood of a predicted density: the loss DeepGaze trains with, and the
information gain over a baseline it is reported as (Kümmerer, Wallis & Bethge, PNAS 2015).

Pure functions over torch tensors (they are the training loss too). A log density is a
(B, H, W) tensor whose exp sums to 1 over each image; fixations are given as two int64 tensors,
``image`` (which image of the batch) and ``pixel`` (flat index row · W + column, already rounded
and inside the image). Every fixation counts, duplicates included (unlike the MIT metrics'
binary fixation map).

    NLL = −(1/N) Σ_i log p_{b_i}(x_i)                       (nats per fixation)
    IG  = (1/N) Σ_i [log p_{b_i}(x_i) − log c_{b_i}(x_i)] / ln 2   (bits per fixation)

Oyama & Yamanaka's alternative, a pixel-wise loss against the blurred fixation map q (a density
per image, :func:`~saliency_core.data.fixations.density_map`):

    KLD = (1/B) Σ_b Σ_x q_b(x) · (log q_b(x) − log p_b(x))   (nats per image; 0·log 0 = 0)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from saliency_core.data.fixations import to_pixel_coords


def fixation_indices(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flat pixel indices (row · W + column, int64) of the (x, y) points inside ``shape``
    (rounded as :func:`~saliency_core.data.fixations.to_pixel_coords`; duplicates kept)."""
    pixels = to_pixel_coords(points, shape)
    return pixels[:, 1] * shape[1] + pixels[:, 0]


def fixation_log_likelihoods(
    log_density: torch.Tensor, image: torch.Tensor, pixel: torch.Tensor
) -> torch.Tensor:
    """log p_{b_i}(x_i) of each fixation i, as float32 (N,)."""
    return log_density.flatten(1).float()[image, pixel]


def nll(log_density: torch.Tensor, image: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood in nats per fixation (the module docstring's NLL); no fixation:
    ValueError."""
    if pixel.numel() == 0:
        raise ValueError("no fixations inside the images: the log-likelihood is undefined")
    return -fixation_log_likelihoods(log_density, image, pixel).mean()


def information_gain(
    log_density: torch.Tensor,
    baseline: torch.Tensor,
    image: torch.Tensor,
    pixel: torch.Tensor,
) -> float:
    """Information gain of ``log_density`` over ``baseline`` (both log densities of one shape)
    in bits per fixation; 0 when they are the same density."""
    if log_density.shape != baseline.shape:
        raise ValueError(
            f"prediction {tuple(log_density.shape)} and baseline {tuple(baseline.shape)} differ"
        )
    gain = nll(baseline, image, pixel) - nll(log_density, image, pixel)
    return float(gain) / math.log(2)


def pixelwise_kld(log_density: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Oyama-style pixel-wise loss: KL(q ‖ p) of the blurred fixation densities ``target``
    (B, H, W, each summing to 1) from the prediction, in nats per image."""
    if log_density.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(log_density.shape)} and target {tuple(target.shape)} differ"
        )
    q = target.float()
    log_q = torch.where(q > 0, q.clamp_min(torch.finfo(q.dtype).tiny).log(), 0.0)
    return (q * (log_q - log_density.float())).flatten(1).sum(dim=1).mean()
