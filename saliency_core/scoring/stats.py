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


def mean_t_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, CI low, CI high) of the finite ``values`` by Student's t: mean ± t(1 - α/2, n - 1)
    · s / √n, s the sample standard deviation (ddof 1). For a few independent repeats (seeds):
    with 3 values a percentile bootstrap has only 10 distinct resample means and never reaches
    past the extremes. No finite value: all NaN; one: the CI is NaN; all equal: [value, value]."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(finite.mean())
    if finite.size < 2:
        return mean, float("nan"), float("nan")
    if np.ptp(finite) == 0:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, finite.size - 1) * stats.sem(finite)
    return mean, float(mean - half), float(mean + half)
