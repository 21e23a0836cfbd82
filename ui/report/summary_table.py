"""The summary table (one row per map: means, 95% CIs, the best marked) and its n/a notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from saliency_core import pipeline
from saliency_core.evaluate import summary as summaries
from saliency_core.maps.references import REFERENCES
from saliency_core.models import gaze
from saliency_core.models.weights import WeightSource
from saliency_core.scoring import agreement
from saliency_core.settings import Settings
from saliency_core.study import MapKind
from ui import tables

REFERENCE_KINDS = {MapKind.FLOOR: "floor", MapKind.CEILING: "ceiling"}
"""Summary kinds that are reading aids (what a score is read against), never the best map."""
MAP_INFO = ["kind", "detector", "weights", "method", "target"]
"""Columns of the per-image table that say what a map is (with its label, ``map``)."""


def _metric_rank(metric: str) -> tuple[int, str]:
    order = ["IoU@", *agreement.MAP_METRICS, *agreement.FIXATION_METRICS]
    for index, name in enumerate(order):
        if metric == name or (name.endswith("@") and metric.startswith(name)):
            return index, metric
    return len(order), metric


def cell_order(cells: pd.DataFrame) -> list[tuple[str, str]]:
    """(reference_key, metric) pairs: references as they first appear, fixation points last;
    within one, IoU first, then MAE, CC, SIM, KLD, then the fixation metrics."""
    pairs = list(dict.fromkeys(zip(cells["reference_key"], cells["metric"], strict=True)))
    references = list(dict.fromkeys(ref for ref, _ in pairs))
    references.sort(key=lambda ref: ref == pipeline.FIXATION_POINTS)
    return sorted(pairs, key=lambda p: (references.index(p[0]), _metric_rank(p[1])))


def column_name(reference_key: str, metric: str) -> str:
    return f"{metric} vs {reference_key}"


def map_labels(table: pd.DataFrame) -> pd.DataFrame:
    """One row per map: its label (``map``) and what it is (:data:`MAP_INFO`)."""
    return table.drop_duplicates(MAP_INFO)[["map", *MAP_INFO]].reset_index(drop=True)


@dataclass(frozen=True)
class SummaryTable:
    """The wide summary: ``values`` has the row columns (map, kind, n) then one float column of
    means per "metric vs reference"; ``ci`` the matching "[low, high]" texts; ``best`` True
    where a mean is the column's best; ``higher_is_better`` per metric column."""

    values: pd.DataFrame
    ci: pd.DataFrame
    best: pd.DataFrame
    higher_is_better: dict[str, bool]
    metric_columns: list[str]

    def with_ci(self) -> pd.DataFrame:
        """``values`` with each metric column followed by its CI text column."""
        table = self.values.copy()
        for column in reversed(self.metric_columns):
            position = table.columns.get_loc(column) + 1
            table.insert(position, f"{column} 95% CI", self.ci[column])
        return table


ROW_COLUMNS = ["map", "kind", "n images"]


def summary_table(long: pd.DataFrame, labels: pd.DataFrame) -> SummaryTable:
    """The long summary (:func:`saliency_core.evaluate.summary.summarize`) as one row per map.

    ``labels`` (:func:`map_labels`) names each row; "n images" is the most images any of the
    row's cells saw (defined or not). Kinds in :data:`REFERENCE_KINDS` read "floor"/"ceiling".
    """
    if long.empty:
        empty = pd.DataFrame(columns=ROW_COLUMNS)
        return SummaryTable(empty, empty.copy(), empty.copy(), {}, [])
    group = summaries.GROUP
    cells = long.merge(labels, on=group, how="left")
    cells["map"] = cells["map"].fillna(cells["method"])
    rows = cells.drop_duplicates(group)[[*group, "map"]].reset_index(drop=True)
    values = rows[["map", "kind"]].copy()
    values["kind"] = values["kind"].map(lambda kind: REFERENCE_KINDS.get(kind, kind))
    seen = cells.assign(total=cells["n"] + cells["n_undefined"]).groupby(group, sort=False)
    values["n images"] = rows.merge(
        seen["total"].max().rename("n images").reset_index(), on=group, how="left"
    )["n images"].to_numpy()
    ci = pd.DataFrame(index=values.index)
    higher: dict[str, bool] = {}
    columns = []
    for reference_key, metric in cell_order(cells):
        name = column_name(reference_key, metric)
        cell = cells[(cells["reference_key"] == reference_key) & (cells["metric"] == metric)]
        merged = rows.merge(cell, on=group, how="left")
        values[name] = merged["mean"].astype(float).to_numpy()
        ci[name] = [
            f"[{tables.format_value(lo)}, {tables.format_value(hi)}]"
            if np.isfinite(lo) and np.isfinite(hi)
            else tables.NOT_AVAILABLE
            for lo, hi in zip(merged["ci_low"], merged["ci_high"], strict=True)
        ]
        higher[name] = bool(cell["higher_is_better"].iloc[0])
        columns.append(name)
    candidates = ~rows["kind"].isin(list(REFERENCE_KINDS))
    best = best_cells(values[columns], higher, candidates)
    return SummaryTable(values, ci, best, higher, columns)


def best_cells(
    values: pd.DataFrame, higher_is_better: Mapping[str, bool], candidates: pd.Series
) -> pd.DataFrame:
    """True at each column's best finite value among the ``candidates`` rows (ties: all); none
    with fewer than two candidates (nothing to compare)."""
    best = pd.DataFrame(False, index=values.index, columns=values.columns)
    if int(candidates.sum()) < 2:
        return best
    for column in values.columns:
        eligible = values[column].where(candidates.to_numpy())
        if not np.isfinite(eligible.to_numpy(dtype=float)).any():
            continue
        target = eligible.max() if higher_is_better[column] else eligible.min()
        best[column] = (eligible == target).to_numpy()
    return best


def undefined_notes(table: pd.DataFrame, limit: int = 20) -> list[str]:
    """Why values are n/a: "map, metric vs reference: n/a on k image(s) — reason" (the
    ``limit`` most frequent, then how many more)."""
    missing = table[table["value"].isna()]
    if missing.empty:
        return []
    counts = (
        missing.assign(reason=missing["reason"].fillna("no reason recorded"))
        .groupby(["map", "metric", "reference_key", "reason"], sort=False)
        .size()
        .sort_values(ascending=False, kind="stable")
    )
    notes = [
        f"{map_label}, {metric} vs {reference}: n/a on {count} image{'s' * (count != 1)} — "
        f"{reason}"
        for (map_label, metric, reference, reason), count in counts.head(limit).items()
    ]
    if len(counts) > limit:
        notes.append(f"… and {len(counts) - limit} more (see the per-image table's reason column)")
    return notes


def ceiling_notes(table: pd.DataFrame) -> list[str]:
    """Where the human ceiling is no ceiling: "map, metric vs reference: <notice> on k of n
    image(s)" for each notice its rows carry with a value (e.g. "below the floor with 3 subjects:
    not a ceiling", :func:`saliency_core.scoring.ceiling.below_floor`)."""
    ceiling = table[table["kind"] == MapKind.CEILING]
    noticed = ceiling[ceiling["value"].notna() & ceiling["reason"].notna()]
    cells = ceiling.groupby(["map", "metric", "reference_key"], sort=False).size()
    counts = noticed.groupby(["map", "metric", "reference_key", "reason"], sort=False).size()
    notes = []
    for (map_label, metric, reference, reason), count in counts.items():
        total = int(cells[map_label, metric, reference])
        notes.append(
            f"{map_label}, {metric} vs {reference}: {reason} on {count} of {total} "
            f"image{'s' * (total != 1)}"
        )
    return notes


ABSENT_REASONS = {
    MapKind.CEILING: "the people ceiling (each subject against the others) is scored only with the "
    "fixation metrics and the top-p% IoU against the fixation density",
}
"""Why a kind of row has no value at all in some columns (none of its images was scored there)."""
UNTRAINED_GAZE_NOTE = (
    "without trained weights its map is its centre bias, i.e. the floor (CC ≈ 1.000 with the "
    "floor row): a sanity check, not a prediction of where people look"
)


def _undefined_weights(method: str, weights: str) -> bool:
    """A type-2 model that needs weights, run without them."""
    model = gaze.TYPE2_MODELS.get(method)
    return model is not None and model.needs_weights and weights == "untrained"


def _absent_reason(row: pd.Series, reference_key: str) -> str:
    """Why ``row`` has no value against ``reference_key`` when no image was scored there."""
    reference = REFERENCES.get(reference_key)
    if reference is not None and reference.type2_model == row["method"]:
        return "the map is this reference"
    return ABSENT_REASONS.get(row["kind"], "not computed for this map")


def _cell_reason(reasons: pd.Series) -> str:
    """The most frequent reason of a cell's undefined per-image values."""
    known = reasons.dropna().astype(str)
    return known.mode().iloc[0] if len(known) else "no reason recorded"


def _columns_text(columns: list[str], by_reference: Mapping[str, list[str]]) -> str:
    """ "MAE, CC vs mask" or "every metric vs mask"; references joined by "; "."""
    parts = []
    for reference, names in by_reference.items():
        mine = [name for name in names if name in columns]
        if not mine:
            continue
        metrics = [name.split(" vs ")[0] for name in mine]
        listed = "every metric" if len(mine) == len(names) > 1 else ", ".join(metrics)
        parts.append(f"{listed} vs {reference}")
    return "; ".join(parts)


def row_notes(view: SummaryTable, table: pd.DataFrame) -> list[str]:
    """One text per summary row: what to know about the map (a type-2 model without its
    weights) and why each of its n/a cells is undefined (the per-image reasons, else why the
    row has no value there), e.g. "n/a: every metric vs mask — the people ceiling is …";
    parts joined by " · "."""
    by_reference: dict[str, list[str]] = {}
    for name in view.metric_columns:
        by_reference.setdefault(name.split(" vs ", 1)[1], []).append(name)
    labels = map_labels(table).set_index("map")
    notes = []
    for _, row in view.values.iterrows():
        info = labels.loc[row["map"]] if row["map"] in labels.index else row
        parts = []
        if _undefined_weights(str(info.get("method", "")), str(info.get("weights", ""))):
            parts.append(f"{row['map']}: {UNTRAINED_GAZE_NOTE}")
        reasons: dict[str, list[str]] = {}
        rows = table[table["map"] == row["map"]]
        for column in view.metric_columns:
            if np.isfinite(row[column]):
                continue
            metric, reference_key = column.split(" vs ", 1)
            cell = rows[(rows["reference_key"] == reference_key) & (rows["metric"] == metric)]
            reason = (
                _cell_reason(cell["reason"]) if len(cell) else _absent_reason(info, reference_key)
            )
            reasons.setdefault(reason, []).append(column)
        parts += [
            f"{tables.NOT_AVAILABLE}: {_columns_text(columns, by_reference)} — {reason}"
            for reason, columns in reasons.items()
        ]
        notes.append(" · ".join(parts))
    return notes


def reference_notes(settings: Settings) -> list[str]:
    """What to know about the run's references: a type-2 model's reference without its
    weights is the floor in disguise."""
    if settings.type2_weights is not WeightSource.UNTRAINED:
        return []
    return [
        f"The {key} reference ({model}): {UNTRAINED_GAZE_NOTE}."
        for key in settings.references
        if (model := REFERENCES[key].type2_model) and gaze.TYPE2_MODELS[model].needs_weights
    ]
