"""Type-2 maps: normalised log densities of where people look, plus a display version."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp


@dataclass
class Type2Map:
    """One type-2 prediction for an image.

    ``log_density``: float32 (H, W), logsumexp 0 (sums to 1 in probability);
    ``display``: float32 (H, W) in [0, 1], exp(log_density) min-max normalised (constant → 0);
    ``label``: model and weight source, e.g. "DeepGaze IIE (UNTRAINED)";
    ``notes``: what was done on the way (fallbacks, downscaling, the study's input range).
    """

    log_density: np.ndarray
    display: np.ndarray
    label: str
    notes: list[str] = field(default_factory=list)


def normalise_log_density(values: np.ndarray) -> np.ndarray:
    """log p − logsumexp(log p) over all pixels (computed in float64), as float32."""
    values = np.asarray(values, dtype=np.float64)
    return (values - logsumexp(values)).astype(np.float32)


def display_map(log_density: np.ndarray) -> np.ndarray:
    """p = exp(log p) scaled to [0, 1] by (p − min) / (max − min); zeros when p is constant."""
    density = np.exp(log_density.astype(np.float64) - log_density.max())
    low, high = density.min(), density.max()
    if high - low <= 0:
        return np.zeros(log_density.shape, dtype=np.float32)
    return ((density - low) / (high - low)).astype(np.float32)


def type2_map(log_density: np.ndarray, label: str, notes: list[str]) -> Type2Map:
    """Normalise ``log_density`` and bundle it with its display map."""
    log_density = normalise_log_density(log_density)
    return Type2Map(log_density, display_map(log_density), label, list(notes))
