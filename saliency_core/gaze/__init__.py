"""Type-2 saliency: where people look (DeepGaze IIE, centre bias, spectral residual).

Every model returns a :class:`Type2Map` whose log density sums to 1 in probability; pick one by
name from :data:`TYPE2_MODELS` and run it with :func:`predict_type2`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from saliency_core.gaze.baselines import centre_bias_baseline, spectral_residual
from saliency_core.gaze.centerbias import GAUSSIAN_LABEL
from saliency_core.gaze.deepgaze import official_package_available
from saliency_core.gaze.inference import (
    Prediction,
    Type2Request,
    predict_deepgaze,
    predict_official_deepgaze,
)
from saliency_core.gaze.maps import Type2Map, type2_map
from saliency_core.weights import WeightSource

__all__ = ["TYPE2_MODELS", "Type2Map", "Type2Model", "predict_type2"]


@dataclass(frozen=True)
class Type2Model:
    """A registry entry: ``predict(rgb, request)`` and whether it needs weights."""

    name: str
    needs_weights: bool
    description: str
    predict: Callable[[np.ndarray, Type2Request], Prediction]


def _baseline(label: str, compute: Callable[[np.ndarray], np.ndarray]) -> Callable:
    """A weight-free model: ignores the weight source, device and size options."""
    return lambda rgb, _request: Prediction(compute(rgb), label, [])


_ENTRIES = (
    Type2Model(
        "DeepGaze IIE",
        needs_weights=True,
        description="DeepGaze IIE (Linardos et al., ICCV 2021), this package's implementation",
        predict=predict_deepgaze,
    ),
    Type2Model(
        "Centre bias (Gaussian)",
        needs_weights=False,
        description=f"Content-free centre prior: {GAUSSIAN_LABEL}",
        predict=_baseline("Centre bias (Gaussian)", centre_bias_baseline),
    ),
    Type2Model(
        "Spectral residual",
        needs_weights=False,
        description="Spectral residual (Hou & Zhang, CVPR 2007), computed at 64 px width",
        predict=_baseline("Spectral residual", spectral_residual),
    ),
)
_OPTIONAL_ENTRIES = (
    Type2Model(
        "DeepGaze IIE (official package)",
        needs_weights=True,
        description="The official deepgaze_pytorch package's pretrained DeepGaze IIE",
        predict=predict_official_deepgaze,
    ),
)

TYPE2_MODELS: dict[str, Type2Model] = {
    entry.name: entry
    for entry in (*_ENTRIES, *(_OPTIONAL_ENTRIES if official_package_available() else ()))
}
"""Type-2 models by name; the official-package entry is listed only when it is installed."""


def predict_type2(
    name: str,
    rgb: np.ndarray,
    source: WeightSource | str = "untrained",
    weights_path: str | None = None,
    max_side: int = 1024,
    study_input_range: bool = False,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Type2Map:
    """Type-2 map of ``rgb`` (uint8, H×W×3) by the model ``name`` of :data:`TYPE2_MODELS`.

    ``source``/``weights_path`` choose DeepGaze weights; ``max_side`` bounds the inference size
    (the map is resized back); ``study_input_range`` feeds the image as 0..1 (the study's bug);
    ``device`` defaults to ``backend.default_device()``; ``progress(bytes_done, bytes_total)``
    reports a first-use weights download.
    """
    if name not in TYPE2_MODELS:
        raise ValueError(f"Unknown type-2 model {name!r}; choose from {sorted(TYPE2_MODELS)}")
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3):
        raise ValueError("rgb must be a uint8 array of shape (H, W, 3)")
    if rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    request = Type2Request(
        WeightSource(source), weights_path, max_side, study_input_range, device, progress
    )
    prediction = TYPE2_MODELS[name].predict(rgb, request)
    return type2_map(prediction.log_density, prediction.label, prediction.notes)
