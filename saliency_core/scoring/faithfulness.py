"""Faithfulness of type-1 maps: pytorch-grad-cam's ROAD metrics (Rong et al., 2022).

ROAD (Remove And Debias) replaces a share of the pixels by noisy linear imputation (each
removed pixel the weighted mean of its 8 neighbours, 1/6 for edge and 1/12 for corner
neighbours, solved jointly, plus N(0, noise²)) and measures the change of the model's score:

- most relevant first (MoRF) at percentile p: the pixels with map ≥ the p-th percentile (the
  top 100 − p %) are removed; a faithful map makes the score DROP (negative change);
- least relevant first (LeRF) at percentile p: the pixels with map ≤ the (100 − p)-th
  percentile (the bottom 100 − p %) are removed; a faithful map keeps the score (change ≈ 0).

The score is the explained class's softmax probability (pytorch-grad-cam's
``ClassifierOutputSoftmaxTarget``); change = score(perturbed) − score(original).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from pytorch_grad_cam.metrics.perturbation_confidence import (
    PerturbationConfidenceMetric,
    RemoveLeastRelevantFirst,
    RemoveMostRelevantFirst,
)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

from saliency_core.data.images import resize_map
from saliency_core.models.classifiers import LoadedClassifier, to_classifier_tensor

ROAD_PERCENTILES = (20, 50, 80)
ROAD_NOISE = 0.01
"""The library's imputation noise (σ, in the model's input units)."""

ORDERS = {
    "most relevant first": RemoveMostRelevantFirst,
    "least relevant first": RemoveLeastRelevantFirst,
}


def road_table(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    maps: dict[str, np.ndarray],
    target: Callable[[torch.Tensor], torch.Tensor],
    percentiles: Sequence[float] = ROAD_PERCENTILES,
    noise: float = ROAD_NOISE,
    seed: int = 0,
) -> pd.DataFrame:
    """ROAD score changes of each map (h, w at the input's size) for ``inputs`` (1, C, h, w).

    Columns: map, order, percentile, removed (% of pixels), change. ``noise`` = 0.01 equals
    pytorch-grad-cam's ``ROADMostRelevantFirst`` / ``ROADLeastRelevantFirst``; the noise is
    seeded, so a table is reproducible.
    """
    rows = []
    for name, saliency in maps.items():
        if saliency.shape != tuple(inputs.shape[-2:]):
            raise ValueError(
                f"Map {name!r} is {saliency.shape}, the input {tuple(inputs.shape[-2:])}."
            )
        cams = np.nan_to_num(saliency).astype(np.float32)[None]
        for order, removal in ORDERS.items():
            for percentile in percentiles:
                metric = PerturbationConfidenceMetric(
                    removal(percentile, NoisyLinearImputer(noise=noise))
                )
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    change = float(metric(inputs, cams, [target], model)[0])
                rows.append((name, order, percentile, 100 - percentile, change))
    return pd.DataFrame(rows, columns=["map", "order", "percentile", "removed", "change"])


def classifier_road(
    classifier: LoadedClassifier,
    rgb: np.ndarray,
    maps: dict[str, np.ndarray],
    target_class: int | None = None,
    percentiles: Sequence[float] = ROAD_PERCENTILES,
) -> pd.DataFrame:
    """:func:`road_table` for type-1 maps at the image's size (resized to the classifier's
    input), explaining ``target_class`` (default: the top-1 class of the unperturbed image).
    Cost per (map, order, percentile): one sparse solve and two forwards."""
    tensor = to_classifier_tensor(rgb, classifier)
    if target_class is None:
        with torch.no_grad():
            target_class = int(classifier.model(tensor)[0].argmax())
    side = (classifier.input_size, classifier.input_size)
    resized = {name: resize_map(values, side) for name, values in maps.items()}
    target = ClassifierOutputSoftmaxTarget(target_class)
    table = road_table(classifier.model, tensor, resized, target, percentiles)
    return table.assign(target_class=target_class)
