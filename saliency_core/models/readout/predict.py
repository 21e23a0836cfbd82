"""Running a readout on RGB images: images of one inference size share one forward pass, and
each log density is resized back to its image (bilinear on log p) and renormalised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from saliency_core.data.images import resize_map
from saliency_core.models.gaze.maps import normalise_log_density
from saliency_core.models.readout.network import (
    ReadoutNet,
    centre_bias_tensor,
    input_shape,
    to_input,
)


def batches_by_size(shapes: Sequence[tuple[int, int]], recipe) -> dict[tuple[int, int], list[int]]:
    """Indices of ``shapes`` grouped by their inference size (:func:`input_shape`), in order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, shape in enumerate(shapes):
        groups.setdefault(input_shape(shape, recipe), []).append(index)
    return groups


def log_densities(net: ReadoutNet, batch: torch.Tensor) -> torch.Tensor:
    """(B, 3, h, w) normalised inputs → (B, h, w) float32 log densities (no gradients)."""
    bias = centre_bias_tensor(tuple(batch.shape[-2:]), len(batch)).to(batch.device)
    with torch.inference_mode():
        return net(batch, bias).float()


def predict_readout(
    net: ReadoutNet, images: Sequence[np.ndarray], device: torch.device | str = "cpu"
) -> list[np.ndarray]:
    """One float32 log density per uint8 (H, W, 3) image, at the image's size (logsumexp 0)."""
    results: list[np.ndarray | None] = [None] * len(images)
    groups = batches_by_size([rgb.shape[:2] for rgb in images], net.recipe)
    for members in groups.values():
        batch = torch.stack([to_input(images[i], net.recipe) for i in members]).to(device)
        for index, log_p in zip(members, log_densities(net, batch).cpu().numpy(), strict=True):
            results[index] = normalise_log_density(resize_map(log_p, images[index].shape[:2]))
    return results  # type: ignore[return-value]
