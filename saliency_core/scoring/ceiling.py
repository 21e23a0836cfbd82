"""Reference rows that make every score readable: the human ceiling and the centre-bias floor.

* Ceiling (:func:`inter_observer_ceiling`): how well people predict each other, measured as the
  field measures a gold standard (Kümmerer, Wallis & Bethge 2015, "Information-theoretic model
  comparison unifies saliency metrics"; pysaliency's cross-validated gold-standard model). The
  predicting map is a regularised density of other people's fixations,
  ``w_k · KDE(h) + w_c · centre bias + w_u · uniform``, with the kernel bandwidth ``h`` and the
  weights fitted per image by cross-validated (leave-one-subject-out) log-likelihood
  (:func:`fit_gold_standard`). So where a subject looks away from everyone else the map falls back
  on the centre bias and a uniform floor instead of zero, and IG over the centre bias is
  meaningful (the fit can always choose ``w_c = 1``, i.e. IG 0).

  - Fixation metrics (NSS, AUC-Judd, AUC-Borji, sAUC, IG; reference ``"fixations"``): leave one
    subject out — each subject's fixations against the gold-standard density of all the others
    (:func:`leave_one_subject_out`), averaged over subjects.
  - Map-vs-map metrics (IoU@top-p%, reference :data:`DENSITY_REFERENCE`): split half — the
    subjects are split at random into two halves (:data:`SPLITS` seeded splits, the first half
    ``⌊n/2⌋`` subjects), the gold-standard density of one half is compared with the fixation
    density of the other (:func:`saliency_core.data.fixations.density_map`, the reference's
    ``sigma``), averaged over splits (:func:`split_half`). Each side has about half the viewers
    while the maps are scored against all of them, so this ceiling is conservative: it says what
    one group of people predicts of another group of the same size.

  Where the estimate still scores worse than the floor (too few subjects), its row keeps the value
  and says so in ``notice``: :func:`below_floor` ("below the floor with N subjects: not a
  ceiling").
* Floor (:func:`centre_bias_floor`): the image-independent centre-bias prior scored against all
  fixations.

Both give rows in the format of :mod:`saliency_core.scoring.agreement` (:data:`COLUMNS` =
``agreement.COLUMNS`` + ``n_subjects`` + ``notice``), so they stand beside the maps' rows. Points
must be in the ``shape`` pixel grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage, optimize

from saliency_core.data.fixations import (
    NO_SUBJECTS,
    density_map,
    points_by_subject,
    to_pixel_coords,
)
from saliency_core.models.gaze.centerbias import CentreBias, centre_bias
from saliency_core.scoring import metrics
from saliency_core.scoring.agreement import COLUMNS as AGREEMENT_COLUMNS
from saliency_core.scoring.agreement import FIXATION_METRICS
from saliency_core.study import TIES_NO_OVERSHOOT, TOP_PERCENT

OBSERVER_METRICS = (*FIXATION_METRICS, "IoU@top-p%")
COLUMNS = [*AGREEMENT_COLUMNS, "n_subjects", "notice"]
SUBJECT_COLUMNS = ["subject", "metric", "value", "reason"]
SPLIT_COLUMNS = ["split", "metric", "value", "reason"]
PEOPLE = "people (leave-one-subject-out)"
"""Map name of the ceiling rows."""
CENTRE_BIAS = "centre bias"
"""Map name prefix of the floor rows (followed by the prior's label)."""
DENSITY_REFERENCE = "human fixation density"
FIXATIONS_REFERENCE = "fixations"
FEW_SUBJECTS = "needs fixations of at least 2 subjects"
SPLITS = 5
"""Seeded random split-halves averaged for the map-vs-map metrics."""
BANDWIDTHS = 12
"""Log-spaced bandwidths tried before the best one is refined."""
COMPONENTS = ("kernel density", "centre bias", "uniform")


def below_floor(n_subjects: int) -> str:
    """The notice of a ceiling value worse than the floor's."""
    return f"below the floor with {n_subjects} subjects: not a ceiling"


def _reference(metric: str) -> str:
    return DENSITY_REFERENCE if metric == "IoU@top-p%" else FIXATIONS_REFERENCE


# --- the gold standard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldStandard:
    """One image's fitted gold standard: the Gaussian kernel's ``bandwidth`` (pixels), the mixture
    ``weights`` of :data:`COMPONENTS` (sum 1) and the cross-validated ``log_likelihood`` they
    reach, bits per fixation above a uniform density (≥ 0: the weights (0, 0, 1) give 0)."""

    bandwidth: float
    weights: tuple[float, float, float]
    log_likelihood: float

    def density(self, points: np.ndarray, shape: tuple[int, int], prior: np.ndarray) -> np.ndarray:
        """``w_k · density_map(points, shape, bandwidth) + w_c · prior + w_u / (H·W)``, float64
        summing to 1 (``prior``: the centre-bias density, summing to 1)."""
        kernel = density_map(points, shape, self.bandwidth).astype(np.float64)
        w_k, w_c, w_u = self.weights
        return w_k * kernel + w_c * prior + w_u / prior.size


def _mixture_weights(likelihoods: np.ndarray, steps: int = 500, tol: float = 1e-7) -> np.ndarray:
    """Mixture weights maximising ``mean log(likelihoods @ w)`` over the simplex, by EM
    (``likelihoods``: (fixations, components), each component's density at each fixation)."""
    weights = np.full(likelihoods.shape[1], 1.0 / likelihoods.shape[1])
    for _ in range(steps):
        responsibilities = likelihoods * weights / (likelihoods @ weights)[:, None]
        updated = responsibilities.mean(axis=0)
        converged = np.abs(updated - weights).max() < tol
        weights = updated
        if converged:
            break
    return weights


class _HeldOut:
    """Leave-one-subject-out kernel densities at each subject's fixations, exactly as
    :func:`~saliency_core.data.fixations.density_map` of the other subjects' fixations would give
    them (the same sampled Gaussian kernel, truncated at 4 bandwidths, zero padding, normalised to
    sum 1 inside the image), from pairwise pixel offsets: no map is built."""

    def __init__(self, subjects: Sequence[np.ndarray], shape: tuple[int, int]) -> None:
        pixels = [to_pixel_coords(points, shape) for points in subjects]
        labels = np.repeat(np.arange(len(pixels)), [len(p) for p in pixels])
        xy = np.concatenate(pixels).astype(np.int32)
        self.shape = shape
        self.x, self.y = xy[:, 0], xy[:, 1]
        self.dx = np.abs(self.x[:, None] - self.x[None, :])
        self.dy = np.abs(self.y[:, None] - self.y[None, :])
        self.others = labels[:, None] != labels[None, :]

    def at_fixations(self, bandwidth: float) -> np.ndarray:
        """Each fixation's density under the other subjects' kernel density (``bandwidth`` in
        pixels), in subject order."""
        height, width = self.shape
        impulse = np.zeros(max(height, width))
        impulse[0] = 1.0
        weight = ndimage.gaussian_filter1d(impulse, bandwidth, mode="constant")  # w(|offset|)
        mass_x = ndimage.gaussian_filter1d(np.ones(width), bandwidth, mode="constant")
        mass_y = ndimage.gaussian_filter1d(np.ones(height), bandwidth, mode="constant")
        mass = mass_x[self.x] * mass_y[self.y]  # each kernel's mass inside the image
        kernel = np.where(self.others, weight[self.dx] * weight[self.dy], 0.0)
        return kernel.sum(axis=1) / (self.others @ mass)


def fit_gold_standard(
    subjects: Sequence[np.ndarray], shape: tuple[int, int], prior: np.ndarray
) -> GoldStandard:
    """Bandwidth and mixture weights of the gold standard by cross-validated log-likelihood.

    ``subjects``: each subject's (x, y) points (at least 2 with a point inside ``shape``);
    ``prior``: the centre-bias density (sums to 1). Each subject's fixations are scored under
    ``w_k · KDE_others(h) + w_c · prior + w_u / (H·W)`` (KDE: ``density_map`` of all the other
    subjects' fixations with bandwidth ``h``); for each ``h`` the weights maximising the mean
    log-likelihood over all fixations are found by EM, and ``h`` by a search over
    :data:`BANDWIDTHS` log-spaced values from 0.5 pixel to the image's long side, refined
    between the best one's neighbours (``scipy.optimize.minimize_scalar``, bounded).
    """
    held_out = _HeldOut(subjects, shape)
    index = held_out.y * shape[1] + held_out.x
    uniform = np.full(len(index), 1.0 / (shape[0] * shape[1]))
    regularisers = np.column_stack([prior.ravel()[index], uniform])

    def fitted(log_bandwidth: float) -> tuple[float, np.ndarray]:
        kernel = held_out.at_fixations(float(np.exp(log_bandwidth)))
        likelihoods = np.column_stack([kernel, regularisers])
        weights = _mixture_weights(likelihoods)
        return float(np.mean(np.log2(likelihoods @ weights / uniform))), weights

    grid = np.log(np.geomspace(0.5, max(shape), BANDWIDTHS))
    scores = [fitted(value)[0] for value in grid]
    best = int(np.argmax(scores))
    refined = optimize.minimize_scalar(
        lambda value: -fitted(value)[0],
        bounds=(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 0.01},
    )
    log_bandwidth = refined.x if -refined.fun > scores[best] else grid[best]
    log_likelihood, weights = fitted(log_bandwidth)
    return GoldStandard(
        float(np.exp(log_bandwidth)), tuple(float(w) for w in weights), log_likelihood
    )


def _prior(baseline: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """The centre-bias density (sum 1) the gold standard mixes in: ``baseline`` normalised, else
    the default :func:`~saliency_core.models.gaze.centerbias.centre_bias` of ``shape``."""
    if baseline is None:
        return np.exp(centre_bias(shape).log_density.astype(np.float64))
    prior = np.asarray(baseline, dtype=np.float64)
    return prior / prior.sum()


def _subjects(table: pd.DataFrame, shape: tuple[int, int]) -> dict[object, np.ndarray]:
    """Subjects with a fixation inside the image (ValueError without subject ids)."""
    return {
        subject: points
        for subject, points in points_by_subject(table).items()
        if len(to_pixel_coords(points, shape))
    }


# --- scoring -------------------------------------------------------------------------------------


def _fixation_scores(
    saliency: np.ndarray,
    points: np.ndarray,
    other_fixations: np.ndarray | None,
    baseline: np.ndarray | None,
    seed: int,
    names: tuple[str, ...],
) -> dict[str, metrics.MetricValue]:
    """The fixation metrics among ``names`` of ``saliency`` at ``points``."""
    return {
        metric: metrics.compute(
            metric,
            saliency,
            fixations=points,
            other_fixations=other_fixations,
            baseline=baseline,
            rng=seed,
        )
        for metric in FIXATION_METRICS
        if metric in names
    }


def _floor_scores(
    saliency: np.ndarray,
    points: np.ndarray,
    shape: tuple[int, int],
    sigma: float,
    percent: float,
    other_fixations: np.ndarray | None,
    baseline: np.ndarray | None,
    seed: int,
    ties: str,
    names: tuple[str, ...] = OBSERVER_METRICS,
) -> dict[str, metrics.MetricValue]:
    """``names`` (of :data:`OBSERVER_METRICS`) of ``saliency`` at ``points`` (IoU: vs the points'
    density)."""
    scores = _fixation_scores(saliency, points, other_fixations, baseline, seed, names)
    if "IoU@top-p%" not in names:
        return scores
    if len(to_pixel_coords(points, shape)) == 0:
        scores["IoU@top-p%"] = metrics.MetricValue(float("nan"), metrics.NO_FIXATIONS)
    else:
        density = density_map(points, shape, sigma)
        scores["IoU@top-p%"] = metrics.compute(
            "IoU@top-p%", saliency, reference=density, percent=percent, ties=ties
        )
    return scores


def _fit(
    subjects: dict[object, np.ndarray], shape: tuple[int, int], baseline: np.ndarray | None
) -> tuple[GoldStandard, np.ndarray]:
    prior = _prior(baseline, shape)
    return fit_gold_standard(list(subjects.values()), shape, prior), prior


def leave_one_subject_out(
    table: pd.DataFrame,
    shape: tuple[int, int],
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    names: tuple[str, ...] = FIXATION_METRICS,
    fit: GoldStandard | None = None,
) -> pd.DataFrame:
    """Each subject's fixation-metric scores against the others' gold standard (long:
    :data:`SUBJECT_COLUMNS`).

    For subject s with fixations F_s the map is ``fit.density(∪_{t≠s} F_t)``
    (:class:`GoldStandard`; ``fit`` defaults to :func:`fit_gold_standard` of these subjects with
    ``baseline`` as the centre bias); NSS, AUC-Judd, AUC-Borji, sAUC (negatives from
    ``other_fixations``, fixations of other images) and IG (over ``baseline``, a density up to
    scale such as the centre bias) are taken at F_s. A metric without its input (sAUC, IG) or
    undefined is NaN with the reason. AUC-Borji and sAUC draw from ``seed`` for every subject
    alike; ``names`` the metrics to take (of
    :data:`~saliency_core.scoring.agreement.FIXATION_METRICS`). Only subjects with a fixation inside
    the image take part; fewer than 2: no rows. Raises ValueError (via
    :func:`~saliency_core.data.fixations.points_by_subject`) without a ``subject`` column."""
    subjects = _subjects(table, shape)
    if len(subjects) < 2:
        return pd.DataFrame(columns=SUBJECT_COLUMNS)
    fit, prior = (
        (fit, _prior(baseline, shape)) if fit is not None else _fit(subjects, shape, baseline)
    )
    rows = []
    for subject, points in subjects.items():
        others = np.concatenate([p for name, p in subjects.items() if name != subject])
        saliency = fit.density(others, shape, prior)
        scores = _fixation_scores(saliency, points, other_fixations, baseline, seed, names)
        rows.extend(
            {"subject": subject, "metric": metric, "value": value.value, "reason": value.reason}
            for metric, value in scores.items()
        )
    return pd.DataFrame(rows, columns=SUBJECT_COLUMNS)


def split_half(
    table: pd.DataFrame,
    shape: tuple[int, int],
    sigma: float,
    percent: float = TOP_PERCENT,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    ties: str = TIES_NO_OVERSHOOT,
    names: tuple[str, ...] = ("IoU@top-p%",),
    fit: GoldStandard | None = None,
) -> pd.DataFrame:
    """Map-vs-map scores of one half of the subjects against the other (long:
    :data:`SPLIT_COLUMNS`, ``split`` 0 … :data:`SPLITS` − 1).

    Each split permutes the subjects (``numpy.random.default_rng(seed)``); the first ``⌊n/2⌋``
    give the map ``fit.density(their fixations)`` (``fit`` as in :func:`leave_one_subject_out`),
    the rest the reference ``density_map(their fixations, shape, sigma)``; ``names`` (any
    map-vs-map metric of :data:`~saliency_core.scoring.metrics.METRICS`; IoU with ``percent``
    and ``ties``) compare the two. Fewer than 2 subjects with a fixation inside the image: no
    rows.
    """
    subjects = _subjects(table, shape)
    if len(subjects) < 2:
        return pd.DataFrame(columns=SPLIT_COLUMNS)
    fit, prior = (
        (fit, _prior(baseline, shape)) if fit is not None else _fit(subjects, shape, baseline)
    )
    groups = list(subjects.values())
    rng = np.random.default_rng(seed)
    rows = []
    for split in range(SPLITS):
        order = rng.permutation(len(groups))
        half = len(groups) // 2
        saliency = fit.density(np.concatenate([groups[i] for i in order[:half]]), shape, prior)
        reference = density_map(np.concatenate([groups[i] for i in order[half:]]), shape, sigma)
        for metric in names:
            value = metrics.compute(
                metric, saliency, reference=reference, percent=percent, ties=ties
            )
            rows.append(
                {"split": split, "metric": metric, "value": value.value, "reason": value.reason}
            )
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)


def _row(
    map_name: str, metric: str, value: float, reason: str | None, n: int, notice: str | None = None
) -> dict:
    return {
        "map": map_name,
        "reference": _reference(metric),
        "metric": metric,
        "value": value,
        "higher_is_better": metrics.METRICS[metric].higher_is_better,
        "reason": reason,
        "n_subjects": n,
        "notice": notice,
    }


def _worse(value: float, floor: float, higher_is_better: bool) -> bool:
    """``value`` worse than ``floor`` beyond rounding (1e-6 relative); False if either is NaN."""
    gap = floor - value if higher_is_better else value - floor
    return bool(gap > 1e-6 * max(1.0, abs(floor)))


def inter_observer_ceiling(
    table: pd.DataFrame,
    shape: tuple[int, int],
    sigma: float,
    percent: float = TOP_PERCENT,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    ties: str = TIES_NO_OVERSHOOT,
    names: tuple[str, ...] = OBSERVER_METRICS,
) -> pd.DataFrame:
    """The "people vs people" rows (:data:`COLUMNS`, map :data:`PEOPLE`), see the module notes.

    One :func:`fit_gold_standard` per call (``baseline``, normalised, is its centre bias; without
    it the default centre bias); fixation metrics: mean of :func:`leave_one_subject_out` over the
    subjects where defined (``n_subjects`` of them); IoU@top-p%: mean of :func:`split_half` over
    the splits (``n_subjects``: all subjects). Each value worse than the centre-bias floor's
    (:func:`centre_bias_floor` with the same prior) keeps its value with ``notice`` =
    :func:`below_floor`. Fewer than 2 subjects with fixations inside the image, or no subject ids:
    NaN rows with :data:`FEW_SUBJECTS`; a metric undefined everywhere: NaN with the first reason.
    """
    try:
        subjects = _subjects(table, shape)
    except ValueError as error:
        if str(error) != NO_SUBJECTS:
            raise
        return _nan_rows(f"{FEW_SUBJECTS}: {NO_SUBJECTS}", names)
    if len(subjects) < 2:
        return _nan_rows(FEW_SUBJECTS, names)
    fit, prior = _fit(subjects, shape, baseline)
    fixation_names = tuple(m for m in names if m in FIXATION_METRICS)
    map_names = tuple(m for m in names if m not in FIXATION_METRICS)
    scores = pd.concat(
        [
            leave_one_subject_out(
                table, shape, other_fixations, baseline, seed, fixation_names, fit
            ),
            split_half(table, shape, sigma, percent, baseline, seed, ties, map_names, fit),
        ]
    )
    points = np.concatenate(list(subjects.values()))
    floor = _floor_scores(
        prior, points, shape, sigma, percent, other_fixations, baseline, seed, ties, names
    )
    rows = []
    for metric in names:
        values = scores[scores["metric"] == metric]
        defined = values["value"].dropna()
        if defined.empty:
            reason = f"undefined for every subject: {values['reason'].iloc[0]}"
            rows.append(_row(PEOPLE, metric, np.nan, reason, 0))
            continue
        value = float(defined.mean())
        n = len(defined) if metric in FIXATION_METRICS else len(subjects)
        worse = _worse(value, floor[metric].value, metrics.METRICS[metric].higher_is_better)
        rows.append(
            _row(PEOPLE, metric, value, None, n, below_floor(len(subjects)) if worse else None)
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _nan_rows(reason: str, names: tuple[str, ...] = OBSERVER_METRICS) -> pd.DataFrame:
    return pd.DataFrame(
        [_row(PEOPLE, metric, np.nan, reason, 0) for metric in names], columns=COLUMNS
    )


def centre_bias_floor(
    points: np.ndarray,
    shape: tuple[int, int],
    sigma: float,
    percent: float = TOP_PERCENT,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    prior: CentreBias | None = None,
    seed: int = 0,
    ties: str = TIES_NO_OVERSHOOT,
) -> pd.DataFrame:
    """The centre-bias rows (:data:`COLUMNS`, map ``"centre bias (<prior label>)"``).

    The map is ``exp(prior.log_density)`` (default :func:`~saliency_core.models.gaze.centerbias.
    centre_bias` of ``shape``) scored against all ``points``: the fixation metrics at them,
    IoU@top-p% vs ``density_map(points, shape, sigma)``. With the centre bias itself as
    ``baseline``, IG is 0 (up to rounding) by definition. ``n_subjects`` is 0 (not a per-subject
    mean).
    """
    prior = centre_bias(shape) if prior is None else prior
    if prior.log_density.shape != tuple(shape):
        raise ValueError(f"the prior has shape {prior.log_density.shape}, the image {shape}")
    saliency = np.exp(prior.log_density.astype(np.float64))
    scores = _floor_scores(
        saliency, points, shape, sigma, percent, other_fixations, baseline, seed, ties
    )
    name = f"{CENTRE_BIAS} ({prior.label})"
    return pd.DataFrame(
        [_row(name, metric, value.value, value.reason, 0) for metric, value in scores.items()],
        columns=COLUMNS,
    )
