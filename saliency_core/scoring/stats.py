"""The mean and its percentile-bootstrap confidence interval (``scipy.stats.bootstrap``): one
convention for every table (the dataset summary, the mean time curves)."""

from __future__ import annotations

import numpy as np
from scipy import stats

RESAMPLES = 1000
CONFIDENCE = 0.95


def mean_ci(
    values: np.ndarray,
    rng: np.random.Generator | int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> tuple[float, float, float]:
    """(mean, CI low, CI high) of the finite ``values``, resampled with ``rng`` (a seed or a
    generator). No finite value: all NaN; one: the CI is NaN (nothing to resample); all equal:
    every resample's mean is that value, so the CI is [value, value]."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(finite.mean())
    if finite.size < 2:
        return mean, float("nan"), float("nan")
    if np.ptp(finite) == 0:
        return mean, mean, mean
    result = stats.bootstrap(
        (finite,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(rng),
    )
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)
