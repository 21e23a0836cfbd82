"""Saliency metrics: pure functions over numpy arrays, plus a registry that never fails silently.

Two kinds of comparison:

* map vs map (same (H, W) shape): MAE and top-p% IoU as the study computes them, and the MIT
  benchmark's CC, SIM and KLD;
* map vs fixations: NSS, AUC-Judd, AUC-Borji, shuffled AUC and information gain, as defined by the
  MIT saliency benchmark code (Bylinskii et al., "What do different evaluation metrics tell us
  about saliency models?", TPAMI 2019; ``cvzoya/saliency/code_forMetrics``).

Conventions
-----------
* Maps are 2-D real arrays; two maps compared with each other must have the same shape (no implicit
  resizing: resize first with :func:`saliency_core.data.images.resize_map`), else ``ValueError``.
* Fixations are an (N, 2) array of ``(x, y)`` pixel coordinates in the map's pixel grid: ``x`` is
  the column, ``y`` the row, integer coordinates are pixel centres. Coordinates are rounded to the
  nearest pixel (:func:`to_pixel_coords`); points that fall outside the map are dropped. As in the
  MIT code, the fixations become a binary fixation map: several fixations on one pixel count once.
  Fixations recorded on an image of another size must be rescaled to the map first
  (:func:`saliency_core.data.fixations.rescale_points`).
* Where a metric is undefined for its inputs (a constant map, an empty top-p% mask, no fixation
  inside the image...) the pure functions raise :class:`UndefinedMetricError` with the reason;
  :func:`compute` and :func:`compute_all` turn that into ``MetricValue(nan, reason)``. Programming
  errors (shape mismatch, non-finite values, bad arguments) raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from saliency_core.data.fixations import to_pixel_coords
from saliency_core.study import TIE_POLICIES, TIES_NO_OVERSHOOT, TOP_PERCENT

EPS = 2.220446049250313e-16
"""MATLAB's ``eps`` (float64 machine epsilon), the MIT benchmark's regulariser in KLD and IG."""

CONSTANT_MAP = "constant map: the metric is undefined"
EMPTY_MASK = "empty top-p% mask"
NO_FIXATIONS = "no fixations inside the image"
NO_OTHER_FIXATIONS = "no fixations from other images inside the image"
ALL_PIXELS_FIXATED = "every pixel is fixated: no negatives for the ROC curve"
ZERO_MASS = "map sums to zero: not a density"


class UndefinedMetricError(ArithmeticError):
    """The metric has no value for these inputs; ``reason`` says why (shown to users)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _map(values: np.ndarray, name: str = "map") -> np.ndarray:
    """``values`` as a finite float64 2-D array."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two maps of the same shape, else a ValueError naming both shapes."""
    a, b = _map(a, names[0]), _map(b, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}; "
            "resize one of them first (saliency_core.data.images.resize_map)"
        )
    return a, b


def _check_non_constant(m: np.ndarray) -> None:
    if m.max() == m.min():
        raise UndefinedMetricError(CONSTANT_MAP)


def normalize(m: np.ndarray) -> np.ndarray:
    """Min-max normalisation: ``(m - min m) / (max m - min m)``, float64 in [0, 1].

    Raises :class:`UndefinedMetricError` for a constant map (division by zero).
    """
    m = _map(m)
    low, high = m.min(), m.max()
    if high == low:
        raise UndefinedMetricError(CONSTANT_MAP)
    return (m - low) / (high - low)


def _density(m: np.ndarray) -> np.ndarray:
    """``m / sum m`` for a non-negative map; zero mass raises :class:`UndefinedMetricError`."""
    if m.min() < 0:
        raise ValueError(f"a density must be non-negative, got a minimum of {m.min():g}")
    total = m.sum()
    if total == 0:
        raise UndefinedMetricError(ZERO_MASS)
    return m / total


# --- fixation coordinates ---------------------------------------------------------------------


def _fixated(points: np.ndarray, shape: tuple[int, int], reason: str = NO_FIXATIONS) -> np.ndarray:
    """Sorted unique flat indices (row * W + column) of the fixated pixels; none -> undefined."""
    pixels = to_pixel_coords(points, shape)
    if len(pixels) == 0:
        raise UndefinedMetricError(reason)
    return np.unique(pixels[:, 1] * shape[1] + pixels[:, 0])


# --- map vs map ----------------------------------------------------------------------------------


def mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute error of the two min-max normalised maps (the study's MAE).

    ``MAE = mean_i |â_i - b̂_i|`` with ``â = (a - min a) / (max a - min a)`` and likewise ``b̂``: both
    maps in [0, 1] at the same size, so MAE is in [0, 1]; lower is better. Constant map: undefined.
    """
    a, b = _pair(a, b, ("saliency", "reference"))
    return float(np.abs(normalize(a) - normalize(b)).mean())


FEW_ABOVE_MINIMUM = (
    "fewer than p% of the map's pixels lie above its minimum: its top-p% is not well defined"
)
"""Flag of a map whose pixels above its minimum are fewer than the requested share."""


@dataclass(frozen=True)
class TopPercentSelection:
    """A top-p% mask, the share of pixels it actually holds (0..1) and its flag (None or
    FEW_ABOVE_MINIMUM)."""

    mask: np.ndarray
    share: float
    flag: str | None


def _pixel_limit(percent: float, size: int) -> int:
    """⌈p% · n⌉ pixels, the most a top-p% mask may hold without overshooting by ties
    (rounded to 1e-9 first, so that float noise in p/100 · n never adds a pixel)."""
    return int(np.ceil(round(percent / 100.0 * size, 9)))


def strict_cut(at_least: int, above: int, percent: float, size: int, ties: str) -> bool:
    """Whether the mask is ``m > t`` instead of ``m >= t``: under TIES_NO_OVERSHOOT, when the
    ``at_least`` = |{m >= t}| pixels exceed the pixel limit (only ties can make them do so) and
    either some (``above`` = |{m > t}| > 0) lie strictly above the tied value or the tie is the
    whole map (``at_least = size``, a constant map: the strict mask is then empty)."""
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {TIE_POLICIES}, got {ties!r}")
    overshoot = at_least > _pixel_limit(percent, size)
    return ties == TIES_NO_OVERSHOOT and overshoot and (above > 0 or at_least == size)


def few_above_minimum(above_minimum: int, percent: float, size: int) -> str | None:
    """FEW_ABOVE_MINIMUM when fewer than p% · n pixels lie above the map's minimum."""
    return FEW_ABOVE_MINIMUM if above_minimum < round(percent / 100.0 * size, 9) else None


def top_percent_selection(
    m: np.ndarray, percent: float, ties: str = TIES_NO_OVERSHOOT
) -> TopPercentSelection:
    """The ``percent``% most salient pixels with the share selected and a flag.

    Threshold t = ``np.percentile(m, 100 − percent)`` (linear interpolation, as the study).
    ``ties`` = TIES_INCLUDE: mask = m ≥ t (the study's rule). TIES_NO_OVERSHOOT (default): the
    same unless the mask would hold more than ⌈p% · n⌉ pixels, which only ties at t cause; then
    mask = m > t (if that is not empty: ties at the maximum of a non-constant map are kept
    whole; a constant map selects nothing). Without ties both policies agree. ``percent = 100``
    selects every pixel, ``percent = 0`` none. Flag
    FEW_ABOVE_MINIMUM when fewer than p% of the pixels lie above the minimum (a constant map
    included). Outside [0, 100] or an unknown policy: ValueError.
    """
    m = _map(m)
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be in [0, 100], got {percent}")
    flag = few_above_minimum(int(np.count_nonzero(m > m.min())), percent, m.size)
    if percent == 0:
        strict_cut(0, 0, percent, m.size, ties)  # validates ``ties``
        return TopPercentSelection(np.zeros(m.shape, dtype=bool), 0.0, None)
    threshold = np.percentile(m, 100 - percent)
    mask = m >= threshold
    above = int(np.count_nonzero(m > threshold))
    if strict_cut(int(np.count_nonzero(mask)), above, percent, m.size, ties):
        mask = m > threshold
    return TopPercentSelection(mask, np.count_nonzero(mask) / m.size, flag)


def top_percent_mask(m: np.ndarray, percent: float, ties: str = TIES_NO_OVERSHOOT) -> np.ndarray:
    """Boolean mask of the ``percent``% most salient pixels (see :func:`top_percent_selection`;
    ``ties=TIES_INCLUDE`` is the study's ``m >= np.percentile(m, 100 − percent)``)."""
    return top_percent_selection(m, percent, ties).mask


def top_percent_iou(
    a: np.ndarray, b: np.ndarray, percent: float = TOP_PERCENT, ties: str = TIES_NO_OVERSHOOT
) -> float:
    """IoU of the two top-``percent``% masks: ``|A ∩ B| / |A ∪ B|`` in [0, 1]; higher is better.

    ``ties``: the tie policy of :func:`top_percent_selection` (TIES_INCLUDE: the study's).

    The study's default is 10% (its ``percentile(map, 90)`` threshold). Undefined for a constant
    map (its mask singles nothing out: no pixel, or every one under TIES_INCLUDE) and for two
    empty masks (``percent = 0``).
    """
    a, b = _pair(a, b, ("saliency", "reference"))
    _check_non_constant(a)
    _check_non_constant(b)
    mask_a, mask_b = top_percent_mask(a, percent, ties), top_percent_mask(b, percent, ties)
    union = np.count_nonzero(mask_a | mask_b)
    if union == 0:
        raise UndefinedMetricError(EMPTY_MASK)
    return np.count_nonzero(mask_a & mask_b) / union


def cc(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's linear correlation coefficient of the two maps (MIT ``CC.m``).

    ``CC = Σ (a - ā)(b - b̄) / sqrt(Σ (a - ā)² Σ (b - b̄)²)`` in [-1, 1]; symmetric; invariant to
    positive affine changes of either map. Constant map: undefined.
    """
    a, b = _pair(a, b, ("saliency", "reference"))
    _check_non_constant(a)
    _check_non_constant(b)
    da, db = a - a.mean(), b - b.mean()
    value = (da * db).sum() / np.sqrt((da * da).sum() * (db * db).sum())
    return float(np.clip(value, -1.0, 1.0))


def sim(a: np.ndarray, b: np.ndarray) -> float:
    """Similarity (histogram intersection) of the two maps as distributions (MIT ``similarity.m``).

    Each map is min-max normalised, then divided by its sum: ``SIM = Σ_i min(â_i, b̂_i)`` in [0, 1]
    (1: identical distributions); symmetric. Constant map: undefined.
    """
    a, b = _pair(a, b, ("saliency", "reference"))
    pa, pb = normalize(a), normalize(b)
    return float(np.minimum(pa / pa.sum(), pb / pb.sum()).sum())


def kld(p: np.ndarray, q: np.ndarray) -> float:
    """KL divergence of the ground truth ``q`` from the prediction ``p`` (MIT ``KLdiv.m``).

    Both maps are non-negative and divided by their sums (no min-max): ``KLD = Σ_i q̂_i ·
    ln(ε + q̂_i / (p̂_i + ε))`` in nats, ``ε`` = :data:`EPS`; ≥ 0 (up to ε), 0 for identical
    densities; lower is better; not symmetric. A map that sums to zero is undefined (the MIT code
    would return a huge value); negative values raise ValueError.
    """
    p, q = _pair(p, q, ("saliency", "reference"))
    p_hat, q_hat = _density(p), _density(q)
    return float((q_hat * np.log(EPS + q_hat / (p_hat + EPS))).sum())


# --- map vs fixations ----------------------------------------------------------------------------


def nss(s: np.ndarray, fixations: np.ndarray) -> float:
    """Normalised scanpath saliency (MIT ``NSS.m``).

    ``NSS = mean_{i fixated} (s_i - mean s) / std s``, ``std`` the sample standard deviation
    (``ddof = 1``, MATLAB's ``std``), over the fixated pixels; in standard deviations, 0 is chance,
    higher is better. Constant map or no fixation inside: undefined.
    """
    s = _map(s, "saliency")
    _check_non_constant(s)
    fixated = _fixated(fixations, s.shape)
    return float(((s.ravel()[fixated] - s.mean()) / s.std(ddof=1)).mean())


def auc_judd(s: np.ndarray, fixations: np.ndarray) -> float:
    """AUC-Judd: area under the ROC curve of fixated vs all other pixels (MIT ``AUC_Judd.m``).

    Thresholds are the saliency values ``t_k`` at the N fixated pixels; with ``n(t) = #{i : s_i ≥
    t}`` and ``f(t) = #{i fixated : s_i ≥ t}`` the curve runs through (0, 0), the points
    ``FPR = (n(t_k) - f(t_k)) / (P - N)``, ``TPR = f(t_k) / N`` for t_k descending, and (1, 1)
    (P pixels), integrated with the trapezoidal rule. Deterministic: the MIT code's default random
    jitter (1e-7, to break ties) is not applied; pixels tied at a threshold enter the curve
    together (``TPR = f(t_k) / N`` rather than ``k / N``). Without ties at the fixated values this
    is exactly the MIT value. In [0, 1]: 0.5 is chance, 1 a perfect map. Constant map, no
    fixation inside, or every pixel fixated: undefined.
    """
    s = _map(s, "saliency")
    _check_non_constant(s)
    fixated = _fixated(fixations, s.shape)
    n_pixels, n_fixated = s.size, len(fixated)
    if n_fixated == n_pixels:
        raise UndefinedMetricError(ALL_PIXELS_FIXATED)
    values = s.ravel()
    ascending = np.sort(values[fixated])
    thresholds = ascending[::-1]
    # #{v >= t} = count - (number of sorted values < t)
    above_all = n_pixels - np.searchsorted(np.sort(values), thresholds, side="left")
    above_fixated = n_fixated - np.searchsorted(ascending, thresholds, side="left")
    tpr = np.concatenate(([0.0], above_fixated / n_fixated, [1.0]))
    fpr = np.concatenate(([0.0], (above_all - above_fixated) / (n_pixels - n_fixated), [1.0]))
    return float(np.trapezoid(tpr, fpr))


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _split_auc(positives: np.ndarray, negatives: np.ndarray, step: float) -> float:
    """Mean over splits of the fixed-step ROC area (MIT ``AUC_Borji.m`` / ``AUC_shuffled.m``).

    ``positives``: (N,) normalised saliency at fixations; ``negatives``: (splits, M). Thresholds
    ``0, step, 2·step, ... ≤ 1`` (those above a split's maximum add only (0, 0) points, so one grid
    serves every split, as the MIT per-split grid up to the maximum does); curve from (0, 0) through
    ``(mean(neg ≥ t), mean(pos ≥ t))`` for t descending to (1, 1), trapezoidal rule.
    """
    thresholds = np.arange(int(np.floor(1.0 / step + 1e-9)), -1, -1) * step
    tpr = (positives[:, None] >= thresholds).mean(axis=0)
    fpr = (negatives[:, :, None] >= thresholds).mean(axis=1)
    n_splits = len(negatives)
    tpr = np.concatenate(([0.0], tpr, [1.0]))
    fpr = np.hstack([np.zeros((n_splits, 1)), fpr, np.ones((n_splits, 1))])
    return float(np.trapezoid(np.broadcast_to(tpr, fpr.shape), fpr, axis=1).mean())


def auc_borji(
    s: np.ndarray,
    fixations: np.ndarray,
    n_splits: int = 100,
    rng: np.random.Generator | int | None = None,
    step: float = 0.1,
) -> float:
    """AUC-Borji: fixated pixels vs uniformly random pixels (MIT ``AUC_Borji.m``).

    ``s`` is min-max normalised; for each of ``n_splits`` splits, N pixels (N = fixated pixels) are
    drawn uniformly with replacement as negatives; the ROC uses thresholds every ``step`` (see
    :func:`_split_auc`) and the score is the mean AUC over splits, in [0, 1], 0.5 chance. Random:
    pass ``rng`` (a seed or Generator) for reproducible values. Vectorised over splits.
    Constant map or no fixation inside: undefined.
    """
    s = normalize(_map(s, "saliency"))
    fixated = _fixated(fixations, s.shape)
    values = s.ravel()
    negatives = values[_rng(rng).integers(0, values.size, size=(n_splits, len(fixated)))]
    return _split_auc(values[fixated], negatives, step)


def sauc(
    s: np.ndarray,
    fixations: np.ndarray,
    other_fixations: np.ndarray,
    n_splits: int = 100,
    rng: np.random.Generator | int | None = None,
    step: float = 0.1,
) -> float:
    """Shuffled AUC: fixated pixels vs pixels fixated on other images (MIT ``AUC_shuffled.m``).

    As :func:`auc_borji`, but each split's negatives are ``min(N, M)`` distinct pixels drawn without
    replacement from the M unique pixels of ``other_fixations`` (fixations of other images, in this
    map's pixel grid; the MIT code takes the union over ~10 images). Discounts centre bias: a pure
    centre-bias map scores about 0.5. Undefined for a constant map, no fixation inside, or no other
    fixation inside.
    """
    s = normalize(_map(s, "saliency"))
    fixated = _fixated(fixations, s.shape)
    others = _fixated(other_fixations, s.shape, NO_OTHER_FIXATIONS)
    n_negatives = min(len(fixated), len(others))
    keys = _rng(rng).random((n_splits, len(others)))
    picks = np.argpartition(keys, n_negatives - 1, axis=1)[:, :n_negatives]
    values = s.ravel()
    return _split_auc(values[fixated], values[others[picks]], step)


def info_gain(s: np.ndarray, fixations: np.ndarray, baseline: np.ndarray) -> float:
    """Information gain of ``s`` over ``baseline``, bits per fixation (MIT ``InfoGain.m``).

    ``s`` and ``baseline`` are saliency maps read as densities up to scale (not log-densities: pass
    ``np.exp(log_density)``, e.g. a centre-bias density). Each is min-max normalised then divided by
    its sum (``ŝ``, ``b̂``); ``IG = mean_{i fixated} [log2(ε + ŝ_i) - log2(ε + b̂_i)]``, ``ε`` =
    :data:`EPS`. 0: no better than the baseline; higher is better. Undefined for a constant map
    (including a uniform baseline, which min-max normalisation cannot represent) or no fixation.
    """
    s, baseline = _pair(s, baseline, ("saliency", "baseline"))
    s_hat, b_hat = normalize(s), normalize(baseline)
    s_hat, b_hat = s_hat / s_hat.sum(), b_hat / b_hat.sum()
    fixated = _fixated(fixations, s.shape)
    gain = np.log2(EPS + s_hat.ravel()[fixated]) - np.log2(EPS + b_hat.ravel()[fixated])
    return float(gain.mean())


# --- registry ------------------------------------------------------------------------------------

Needs = Literal["map", "fixations", "fixations+others", "fixations+baseline"]

_INPUTS: dict[str, tuple[str, ...]] = {
    "map": ("reference",),
    "fixations": ("fixations",),
    "fixations+others": ("fixations", "other_fixations"),
    "fixations+baseline": ("fixations", "baseline"),
}
"""Keyword inputs of :func:`compute` passed positionally, after the saliency map, per ``needs``."""

_INPUT_LABELS = {
    "reference": "a reference map",
    "fixations": "fixations",
    "other_fixations": "fixations from other images",
    "baseline": "a baseline map",
}


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``fn(saliency, *inputs of needs, **{option: value})``."""

    name: str
    fn: Callable[..., float]
    needs: Needs
    higher_is_better: bool
    description: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricValue:
    """A metric's value; ``reason`` says why whenever ``value`` is NaN (and is None otherwise)."""

    value: float
    reason: str | None = None

    def __post_init__(self) -> None:
        if np.isnan(self.value) != (self.reason is not None):
            raise ValueError("MetricValue: reason must be given exactly when value is NaN")


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("MAE", mae, "map", False, "Mean |difference| of the two min-max normalised maps."),
        Metric(
            "IoU@top-p%",
            top_percent_iou,
            "map",
            True,
            "Intersection over union of the two maps' top-p% pixels (study: p = 10).",
            ("percent", "ties"),
        ),
        Metric("CC", cc, "map", True, "Pearson correlation of the two maps."),
        Metric("SIM", sim, "map", True, "Histogram intersection of the maps as distributions."),
        Metric("KLD", kld, "map", False, "KL divergence of the reference density from the map's."),
        Metric("NSS", nss, "fixations", True, "Mean standardised saliency at fixated pixels."),
        Metric("AUC-Judd", auc_judd, "fixations", True, "ROC area: fixated vs other pixels."),
        Metric(
            "AUC-Borji",
            auc_borji,
            "fixations",
            True,
            "ROC area: fixated vs uniformly random pixels (mean over random splits).",
            ("rng",),
        ),
        Metric(
            "sAUC",
            sauc,
            "fixations+others",
            True,
            "Shuffled ROC area: fixated pixels vs fixations of other images (centre-bias free).",
            ("rng",),
        ),
        Metric(
            "IG",
            info_gain,
            "fixations+baseline",
            True,
            "Information gain over a baseline density at fixations, bits per fixation.",
        ),
    )
}


def compute(
    name: str,
    saliency: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    fixations: np.ndarray | None = None,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    percent: float = TOP_PERCENT,
    ties: str = TIES_NO_OVERSHOOT,
    rng: np.random.Generator | int | None = None,
) -> MetricValue:
    """Metric ``name`` of ``saliency``; NaN with a reason when undefined or an input is missing.

    Shape mismatches, non-finite maps and bad arguments still raise ``ValueError``.
    """
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    metric = METRICS[name]
    given = {
        "reference": reference,
        "fixations": fixations,
        "other_fixations": other_fixations,
        "baseline": baseline,
    }
    missing = [_INPUT_LABELS[key] for key in _INPUTS[metric.needs] if given[key] is None]
    if missing:
        return MetricValue(float("nan"), f"{name} needs {' and '.join(missing)}: none given")
    options = {"percent": percent, "ties": ties, "rng": rng}
    try:
        value = metric.fn(
            saliency,
            *(given[key] for key in _INPUTS[metric.needs]),
            **{option: options[option] for option in metric.options},
        )
    except UndefinedMetricError as undefined:
        return MetricValue(float("nan"), undefined.reason)
    return MetricValue(float(value))


def compute_all(
    saliency: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    fixations: np.ndarray | None = None,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    percent: float = TOP_PERCENT,
    ties: str = TIES_NO_OVERSHOOT,
    rng: np.random.Generator | int | None = None,
) -> dict[str, MetricValue]:
    """Every registered metric whose inputs are given, in registry order (see :func:`compute`).

    An integer ``rng`` seeds AUC-Borji and sAUC alike; a Generator is shared (drawn in turn).
    The maps are validated and converted to float64 once, not once per metric.
    """
    saliency = _map(saliency, "saliency")
    given = {
        "reference": None if reference is None else _map(reference, "reference"),
        "fixations": fixations,
        "other_fixations": other_fixations,
        "baseline": None if baseline is None else _map(baseline, "baseline"),
    }
    return {
        name: compute(name, saliency, **given, percent=percent, ties=ties, rng=rng)
        for name, metric in METRICS.items()
        if all(given[key] is not None for key in _INPUTS[metric.needs])
    }
