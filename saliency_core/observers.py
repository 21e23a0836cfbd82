"""Reference rows that make every score readable: the human ceiling and the centre-bias floor.

* Ceiling (:func:`inter_observer_ceiling`): how well people predict each other, as pysaliency's
  gold-standard models measure it: leave one subject out, score that subject's fixations against
  the fixation density of all the others (:func:`saliency_core.fixations.density_map`, the same
  ``sigma`` as the reference density), then average over subjects.
* Floor (:func:`centre_bias_floor`): the image-independent centre-bias prior scored against all
  fixations.

Both give rows in the format of :mod:`saliency_core.agreement` (:data:`COLUMNS` =
``agreement.COLUMNS`` + ``n_subjects``), so they stand beside the maps' rows: the fixation metrics
(NSS, AUC-Judd, AUC-Borji, sAUC, IG) with reference ``"fixations"``, and IoU@top-p% with reference
:data:`DENSITY_REFERENCE`. Points must be in the ``shape`` pixel grid.

Caveat: the leave-one-out density is a plain blurred histogram (no uniform regulariser as in
pysaliency's fitted gold standard), so where a subject fixates outside the others' blur (beyond
4 sigma) IG takes ``log2(eps)`` there and can be strongly negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from saliency_core import metrics
from saliency_core.agreement import COLUMNS as AGREEMENT_COLUMNS
from saliency_core.agreement import FIXATION_METRICS
from saliency_core.fixations import NO_SUBJECTS, density_map, points_by_subject, to_pixel_coords
from saliency_core.gaze.centerbias import CentreBias, centre_bias

OBSERVER_METRICS = (*FIXATION_METRICS, "IoU@top-p%")
COLUMNS = [*AGREEMENT_COLUMNS, "n_subjects"]
SUBJECT_COLUMNS = ["subject", "metric", "value", "reason"]
PEOPLE = "people (leave-one-subject-out)"
"""Map name of the ceiling rows."""
CENTRE_BIAS = "centre bias"
"""Map name prefix of the floor rows (followed by the prior's label)."""
DENSITY_REFERENCE = "human fixation density"
FIXATIONS_REFERENCE = "fixations"
FEW_SUBJECTS = "needs fixations of at least 2 subjects"


def _reference(metric: str) -> str:
    return DENSITY_REFERENCE if metric == "IoU@top-p%" else FIXATIONS_REFERENCE


def _score(
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
    scores = {
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


def leave_one_subject_out(
    table: pd.DataFrame,
    shape: tuple[int, int],
    sigma: float,
    percent: float = 10.0,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    ties: str = metrics.TIES_NO_OVERSHOOT,
    names: tuple[str, ...] = OBSERVER_METRICS,
) -> pd.DataFrame:
    """Each subject's scores against the others' density (long: :data:`SUBJECT_COLUMNS`).

    For subject s with fixations F_s: the map is ``density_map(∪_{t≠s} F_t, shape, sigma)``;
    NSS, AUC-Judd, AUC-Borji, sAUC (negatives from ``other_fixations``, fixations of other
    images) and IG (over ``baseline``, a density up to scale such as the centre bias) are taken
    at F_s, and IoU@top-p% compares that map's top-``percent``% with the top-``percent``% of
    ``density_map(F_s, shape, sigma)``. A metric without its input (sAUC, IG) or undefined is NaN
    with the reason. AUC-Borji and sAUC draw from ``seed`` for every subject alike; ``ties`` is
    the top-p% tie policy (:data:`saliency_core.metrics.TIE_POLICIES`); ``names`` the metrics
    to take (default all).
    Only subjects with a fixation inside the image take part; raises ValueError (via
    :func:`~saliency_core.fixations.points_by_subject`) without a ``subject`` column.
    """
    subjects = {
        subject: points
        for subject, points in points_by_subject(table).items()
        if len(to_pixel_coords(points, shape))
    }
    rows = []
    for subject, points in subjects.items():
        others = [other for name, other in subjects.items() if name != subject]
        others_points = np.concatenate(others) if others else np.empty((0, 2))
        saliency = density_map(others_points, shape, sigma)
        scores = _score(
            saliency, points, shape, sigma, percent, other_fixations, baseline, seed, ties, names
        )
        rows.extend(
            {"subject": subject, "metric": metric, "value": value.value, "reason": value.reason}
            for metric, value in scores.items()
        )
    return pd.DataFrame(rows, columns=SUBJECT_COLUMNS)


def _row(map_name: str, metric: str, value: float, reason: str | None, n: int) -> dict:
    return {
        "map": map_name,
        "reference": _reference(metric),
        "metric": metric,
        "value": value,
        "higher_is_better": metrics.METRICS[metric].higher_is_better,
        "reason": reason,
        "n_subjects": n,
    }


def inter_observer_ceiling(
    table: pd.DataFrame,
    shape: tuple[int, int],
    sigma: float,
    percent: float = 10.0,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    ties: str = metrics.TIES_NO_OVERSHOOT,
    names: tuple[str, ...] = OBSERVER_METRICS,
) -> pd.DataFrame:
    """The "people vs people" rows (:data:`COLUMNS`, map :data:`PEOPLE`): per metric, the mean
    of :func:`leave_one_subject_out` over the subjects where it is defined (``n_subjects`` of
    them). Fewer than 2 subjects with fixations inside the image, or no subject ids: NaN rows with
    :data:`FEW_SUBJECTS`; a metric undefined for every subject: NaN with the first reason.
    """
    try:
        per_subject = leave_one_subject_out(
            table, shape, sigma, percent, other_fixations, baseline, seed, ties, names
        )
    except ValueError as error:
        if str(error) != NO_SUBJECTS:
            raise
        return _nan_rows(f"{FEW_SUBJECTS}: {NO_SUBJECTS}", names)
    if per_subject["subject"].nunique() < 2:
        return _nan_rows(FEW_SUBJECTS, names)
    rows = []
    for metric in names:
        scores = per_subject[per_subject["metric"] == metric]
        defined = scores["value"].dropna()
        if defined.empty:
            reason = f"undefined for every subject: {scores['reason'].iloc[0]}"
            rows.append(_row(PEOPLE, metric, np.nan, reason, 0))
        else:
            rows.append(_row(PEOPLE, metric, float(defined.mean()), None, len(defined)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _nan_rows(reason: str, names: tuple[str, ...] = OBSERVER_METRICS) -> pd.DataFrame:
    return pd.DataFrame(
        [_row(PEOPLE, metric, np.nan, reason, 0) for metric in names], columns=COLUMNS
    )


def centre_bias_floor(
    points: np.ndarray,
    shape: tuple[int, int],
    sigma: float,
    percent: float = 10.0,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    prior: CentreBias | None = None,
    seed: int = 0,
    ties: str = metrics.TIES_NO_OVERSHOOT,
) -> pd.DataFrame:
    """The centre-bias rows (:data:`COLUMNS`, map ``"centre bias (<prior label>)"``).

    The map is ``exp(prior.log_density)`` (default :func:`~saliency_core.gaze.centerbias.
    centre_bias` of ``shape``), scored like one subject in :func:`leave_one_subject_out` but
    against all ``points``: IoU@top-p% vs ``density_map(points, shape, sigma)``. With the centre
    bias itself as ``baseline``, IG is 0 (up to rounding) by definition. ``n_subjects`` is 0
    (not a per-subject mean).
    """
    prior = centre_bias(shape) if prior is None else prior
    if prior.log_density.shape != tuple(shape):
        raise ValueError(f"the prior has shape {prior.log_density.shape}, the image {shape}")
    saliency = np.exp(prior.log_density.astype(np.float64))
    scores = _score(saliency, points, shape, sigma, percent, other_fixations, baseline, seed, ties)
    name = f"{CENTRE_BIAS} ({prior.label})"
    return pd.DataFrame(
        [_row(name, metric, value.value, value.reason, 0) for metric, value in scores.items()],
        columns=COLUMNS,
    )
