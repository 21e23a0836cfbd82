"""Type-2 maps: normalised log densities of where people look, plus a display version."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Type2Map:
    """One type-2 prediction for an image.

    ``log_density``: float32 (H, W), logsumexp 0 (sums to 1 in probability);
    ``display``: float32 (H, W) in [0, 1], exp(log_density) min-max normalised (constant → 0);
    ``label``: model and weight source, e.g. "DeepGaze IIE (UNTRAINED)";
    ``notes``: what was done on the way (fallbacks, downscaling, the study's input range);
    ``trained``: False for a network without trained weights (weight-free models are True).
    """

    log_density: np.ndarray
    display: np.ndarray
    label: str
    notes: list[str] = field(default_factory=list)
    trained: bool = True


def _shift_and_exp(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(log p − max, exp(log p − max), log Σ exp(log p − max)) in float32, sum in float64."""
    shifted = np.asarray(values, dtype=np.float32) - np.float32(np.max(values))
    density = np.exp(shifted)
    return shifted, density, float(np.log(density.sum(dtype=np.float64)))


def normalise_log_density(values: np.ndarray) -> np.ndarray:
    """log p − logsumexp(log p) over all pixels, as float32."""
    shifted, _, log_total = _shift_and_exp(values)
    return shifted - np.float32(log_total)


def min_max(values: np.ndarray) -> np.ndarray:
    low, high = values.min(), values.max()
    if high - low <= 0:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def type2_map(
    log_density: np.ndarray, label: str, notes: list[str], trained: bool = True
) -> Type2Map:
    """Normalise ``log_density`` and bundle it with its display map (one exp pass for both;
    the min-max scaling makes the display independent of the normalising constant)."""
    shifted, density, log_total = _shift_and_exp(log_density)
    return Type2Map(shifted - np.float32(log_total), min_max(density), label, list(notes), trained)
