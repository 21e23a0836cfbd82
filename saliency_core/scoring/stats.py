"""The mean and its percentile-bootstrap confidence interval (``scipy.stats.bootstrap``): one
convention for every table (the dataset summary, the mean time curves); and the correlation of
one value per group (a backbone's ImageNet accuracy) with the group's mean over seeds and images,
with a hierarchical percentile bootstrap (seeds, then images within each seed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

RESAMPLES = 1000
CONFIDENCE = 0.95


Interval = tuple[float, float, float]
"""(mean, CI low, CI high)."""


def _finite_or_known(values: np.ndarray) -> tuple[np.ndarray, Interval | None]:
    """The finite ``values``, and the interval when it needs no estimate: none finite → all
    NaN; one → (value, NaN, NaN); all equal → (value, value, value)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return finite, (float("nan"), float("nan"), float("nan"))
    mean = float(finite.mean())
    if finite.size < 2:
        return finite, (mean, float("nan"), float("nan"))
    if np.ptp(finite) == 0:
        return finite, (mean, mean, mean)
    return finite, None


def mean_ci(
    values: np.ndarray,
    rng: np.random.Generator | int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> tuple[float, float, float]:
    """(mean, CI low, CI high) of the finite ``values``, resampled with ``rng`` (a seed or a
    generator). No finite value: all NaN; one: the CI is NaN (nothing to resample); all equal:
    every resample's mean is that value, so the CI is [value, value]."""
    finite, known = _finite_or_known(values)
    if known is not None:
        return known
    mean = float(finite.mean())
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
    finite, known = _finite_or_known(values)
    if known is not None:
        return known
    mean = float(finite.mean())
    half = stats.t.ppf(0.5 + confidence / 2, finite.size - 1) * stats.sem(finite)
    return mean, float(mean - half), float(mean + half)


MIN_POINTS = 3
"""A correlation needs at least this many points (two points always correlate ±1)."""


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r = Σ (x − x̄)(y − ȳ) / √(Σ (x − x̄)² · Σ (y − ȳ)²) (``scipy.stats.pearsonr``);
    NaN with fewer than :data:`MIN_POINTS` points or a constant side."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: Pearson's r of the ranks, ties given their mean rank
    (``scipy.stats.spearmanr``); NaN as :func:`pearson`."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


CORRELATIONS = {"Pearson": pearson, "Spearman": spearman}


def group_mean(seeds: Sequence[np.ndarray]) -> float:
    """A group's value: the mean over its seeds of each seed's mean over its finite values."""
    means = [np.nanmean(values) for values in seeds if np.isfinite(values).any()]
    return float(np.mean(means)) if means else float("nan")


def _resampled_mean(seeds: Sequence[np.ndarray], rng: np.random.Generator) -> float:
    if not seeds:
        return float("nan")
    picked = [seeds[i] for i in rng.integers(0, len(seeds), len(seeds))]
    return group_mean([values[rng.integers(0, len(values), len(values))] for values in picked])


def correlation_cis(
    x: Sequence[float],
    groups: Sequence[Sequence[np.ndarray]],
    rng: np.random.Generator | int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, tuple[float, float, float]]:
    """{"Pearson" | "Spearman": (value, CI low, CI high)} of ``x`` (one value per group) against
    each group's :func:`group_mean` (``groups[i]``: one array of per-image values per seed).
    Each of ``resamples`` draws seeds with replacement within every group, then images with
    replacement within every drawn seed; the CI is the percentile interval of the defined
    resampled correlations (NaN when none is defined)."""
    rng = np.random.default_rng(rng)
    groups = [[np.asarray(v, dtype=np.float64) for v in seeds if len(v)] for seeds in groups]
    y = [group_mean(seeds) for seeds in groups]
    drawn = np.array([[_resampled_mean(seeds, rng) for seeds in groups] for _ in range(resamples)])
    tail = 100 * (1 - confidence) / 2
    result = {}
    for name, correlate in CORRELATIONS.items():
        values = np.array([correlate(x, row) for row in drawn]) if len(drawn) else np.array([])
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if values.size else (np.nan,) * 2
        result[name] = (correlate(x, y), float(low), float(high))
    return result
