"""Agreement between saliency maps and references, as tidy tables.

Splits the work by what a new top-p% changes: :func:`map_metrics` and
:func:`fixation_metrics` do not depend on p (computed once per set of maps), while
:func:`iou_table` and :func:`iou_curves` use :class:`RankedMap`, which sorts each map once so
that a new p costs one comparison per pixel instead of a percentile search (:func:`top_masks`
and :func:`masks_iou_table` let a caller keep the masks, e.g. to draw them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from saliency_core.scoring import metrics
from saliency_core.study import TIES_NO_OVERSHOOT

MAP_METRICS = ("MAE", "CC", "SIM", "KLD")
"""Threshold-free map-vs-map metrics reported next to IoU@top-p%."""
FIXATION_METRICS = ("NSS", "AUC-Judd", "AUC-Borji", "sAUC", "IG")
COLUMNS = ["map", "reference", "metric", "value", "higher_is_better", "reason"]


class RankedMap:
    """A map with its values sorted once: top-p% masks identical to ``metrics.top_percent_mask``
    under either tie policy (``TIES_NO_OVERSHOOT``, the default, or ``TIES_INCLUDE``).

    ``np.percentile(m, q)`` (linear method) is ``s[k] + f · (s[k+1] − s[k])`` with ``s`` the sorted
    values, ``k = ⌊q/100 · (n−1)⌋`` and ``f`` the fractional part; with ``s`` kept, a threshold
    and the pixel counts above it cost O(log n) and a mask one comparison per pixel.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.sorted = np.sort(self.values, axis=None)
        self.constant = bool(self.sorted[-1] == self.sorted[0])

    def threshold(self, percent: float) -> float:
        position = (100.0 - percent) / 100.0 * (self.sorted.size - 1)
        low = int(np.floor(position))
        high = min(low + 1, self.sorted.size - 1)
        fraction = position - low
        return float(self.sorted[low] + fraction * (self.sorted[high] - self.sorted[low]))

    def _cut(self, percent: float, ties: str) -> tuple[float, bool]:
        """(threshold t, strict): the mask is ``values > t`` when strict, else ``values >= t``."""
        threshold = self.threshold(percent)
        at_least = self.sorted.size - int(np.searchsorted(self.sorted, threshold, "left"))
        above = self.sorted.size - int(np.searchsorted(self.sorted, threshold, "right"))
        return threshold, metrics.strict_cut(at_least, above, percent, self.sorted.size, ties)

    def mask(self, percent: float, ties: str = TIES_NO_OVERSHOOT) -> np.ndarray:
        if percent <= 0:
            metrics.strict_cut(0, 0, percent, self.sorted.size, ties)  # validates ``ties``
            return np.zeros(self.values.shape, dtype=bool)
        threshold, strict = self._cut(percent, ties)
        return self.values > threshold if strict else self.values >= threshold

    def selected_share(self, percent: float, ties: str = TIES_NO_OVERSHOOT) -> float:
        """Share of the pixels (0..1) that ``mask(percent, ties)`` selects."""
        if percent <= 0:
            return 0.0
        threshold, strict = self._cut(percent, ties)
        side = "right" if strict else "left"
        return 1.0 - int(np.searchsorted(self.sorted, threshold, side)) / self.sorted.size

    def flag(self, percent: float) -> str | None:
        """``metrics.FEW_ABOVE_MINIMUM`` when fewer than ``percent``% of the pixels lie above the
        map's minimum (the top-p% is then not well defined), else None."""
        if percent <= 0:
            return None
        above = self.sorted.size - int(np.searchsorted(self.sorted, self.sorted[0], "right"))
        return metrics.few_above_minimum(above, percent, self.sorted.size)

    def selection(
        self, percent: float, ties: str = TIES_NO_OVERSHOOT
    ) -> metrics.TopPercentSelection:
        """Mask, selected share and flag, as ``metrics.top_percent_selection``."""
        return metrics.TopPercentSelection(
            self.mask(percent, ties), self.selected_share(percent, ties), self.flag(percent)
        )


def ranked_iou(
    a: RankedMap, b: RankedMap, percent: float, ties: str = TIES_NO_OVERSHOOT
) -> metrics.MetricValue:
    """``metrics.top_percent_iou`` on ranked maps (NaN with the same reasons)."""
    return _masks_iou(a, b, a.mask(percent, ties), b.mask(percent, ties))


def _masks_iou(
    a: RankedMap, b: RankedMap, mask_a: np.ndarray, mask_b: np.ndarray
) -> metrics.MetricValue:
    """IoU of two top-p% masks already taken from ``a`` and ``b``."""
    if a.values.shape != b.values.shape:
        raise ValueError(f"map shapes differ: {a.values.shape} vs {b.values.shape}")
    if a.constant or b.constant:
        return metrics.MetricValue(float("nan"), metrics.CONSTANT_MAP)
    union = np.count_nonzero(mask_a | mask_b)
    if union == 0:
        return metrics.MetricValue(float("nan"), metrics.EMPTY_MASK)
    return metrics.MetricValue(np.count_nonzero(mask_a & mask_b) / union)


def _row(map_name: str, reference: str, metric: str, value: metrics.MetricValue) -> dict:
    return {
        "map": map_name,
        "reference": reference,
        "metric": metric,
        "value": value.value,
        "higher_is_better": metrics.METRICS[metric].higher_is_better,
        "reason": value.reason,
    }


def map_metrics(
    maps: Mapping[str, np.ndarray],
    references: Mapping[str, np.ndarray],
    names: Iterable[str] = MAP_METRICS,
) -> pd.DataFrame:
    """MAE, CC, SIM and KLD (or the subset ``names``) of every map against every reference map
    (long format)."""
    names = list(names)
    rows = [
        _row(name, ref_name, metric, metrics.compute(metric, values, reference=reference))
        for name, values in maps.items()
        for ref_name, reference in references.items()
        if name != ref_name
        for metric in names
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def fixation_metrics(
    maps: Mapping[str, np.ndarray],
    fixations: np.ndarray,
    other_fixations: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    seed: int = 0,
    names: Iterable[str] = FIXATION_METRICS,
) -> pd.DataFrame:
    """NSS, AUC-Judd, AUC-Borji, sAUC and IG (or the subset ``names``) of every map against
    recorded fixations.

    AUC-Borji and sAUC draw their random splits from ``seed``, so a table is reproducible.
    """
    names = list(names)
    rows = []
    for name, values in maps.items():
        for metric in names:
            value = metrics.compute(
                metric,
                values,
                fixations=fixations,
                other_fixations=other_fixations,
                baseline=baseline,
                rng=seed,
            )
            rows.append(_row(name, "fixations", metric, value))
    return pd.DataFrame(rows, columns=COLUMNS)


def iou_table(
    maps: Mapping[str, RankedMap],
    references: Mapping[str, RankedMap],
    percent: float,
    ties: str = TIES_NO_OVERSHOOT,
) -> pd.DataFrame:
    """IoU of the top-``percent``% pixels of every map against every reference."""
    return masks_iou_table(maps, references, top_masks({**maps, **references}, percent, ties))


def top_masks(
    ranked: Mapping[str, RankedMap], percent: float, ties: str = TIES_NO_OVERSHOOT
) -> dict[str, np.ndarray]:
    """Each map's top-``percent``% mask, taken once."""
    return {name: values.mask(percent, ties) for name, values in ranked.items()}


def masks_iou_table(
    maps: Mapping[str, RankedMap],
    references: Mapping[str, RankedMap],
    masks: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """:func:`iou_table` from the top-p% ``masks`` already taken (:func:`top_masks`) of every
    map and reference."""
    rows = [
        _row(
            name,
            ref_name,
            "IoU@top-p%",
            _masks_iou(ranked, reference, masks[name], masks[ref_name]),
        )
        for name, ranked in maps.items()
        for ref_name, reference in references.items()
        if name != ref_name
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def iou_curves(
    maps: Mapping[str, RankedMap],
    reference: RankedMap,
    percents: Iterable[float] = range(1, 51),
    reference_name: str | None = None,
    ties: str = TIES_NO_OVERSHOOT,
) -> pd.DataFrame:
    """IoU against ``reference`` for each p in ``percents``: columns map, percent, iou.

    The map called ``reference_name`` (the reference itself) is left out.
    """
    percents = list(percents)
    rows = [
        {"map": name, "percent": p, "iou": ranked_iou(ranked, reference, p, ties).value}
        for name, ranked in maps.items()
        if name != reference_name
        for p in percents
    ]
    return pd.DataFrame(rows, columns=["map", "percent", "iou"])


def consensus(maps: Iterable[np.ndarray], sigma: float = 0.0) -> np.ndarray:
    """Mean of the maps, optionally Gaussian-smoothed (sigma in pixels), min-max scaled to [0, 1].

    The "synthetic ground truth" of several type-1 maps; a constant result stays all zeros.
    """
    stack = [np.asarray(m, dtype=np.float32) for m in maps]
    if not stack:
        raise ValueError("consensus needs at least one map")
    mean = np.mean(stack, axis=0)
    if sigma > 0:
        mean = gaussian_filter(mean, sigma)
    spread = float(mean.max() - mean.min())
    return ((mean - mean.min()) / spread if spread > 0 else np.zeros_like(mean)).astype(np.float32)


@dataclass(frozen=True)
class Summary:
    """Wide view of a long metrics table: one row per (reference, map), one column per metric."""

    table: pd.DataFrame
    notes: list[str]


def widen(long: pd.DataFrame) -> Summary:
    """Pivot to (reference, map) × metric and list every NaN with its reason (none are silent)."""
    if long.empty:
        return Summary(pd.DataFrame(), [])
    wide = (
        long.set_index(["reference", "map", "metric"])["value"]
        .unstack("metric", sort=False)
        .astype(float)
    )
    nan_rows = long[long["value"].isna()]
    notes = [
        f"{row.map} vs {row.reference}, {row.metric}: {row.reason}"
        for row in nan_rows.itertuples(index=False)
    ]
    return Summary(wide, notes)
