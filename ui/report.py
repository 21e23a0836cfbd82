"""The Dataset report: what the report page shows of a results folder, as pure functions.

A results folder (:mod:`saliency_core.evaluate.store`) holds the per-image table (one row per
image × map × reference × metric), the IoU curves and the run's settings. From them:

- :func:`summary_table`: rows = maps (detector × method × weights), columns = "metric vs
  reference" means with their 95% bootstrap CIs, the best value of each column marked (highest
  when higher is better, else lowest; reference rows such as the centre-bias floor are never
  "best", they are what the maps are read against);
- :func:`distribution_figure` and :func:`mean_curve_figure`: plotly charts;
- :func:`rank_images` and :func:`filter_images`: the failure-mode gallery, worst image first;
- :func:`agreement_thumbnail`: one image's map recomputed from the run's settings, drawn as the
  top-p% agreement view; :func:`explore_query`: the Explore page's URL parameters for it.

No Streamlit here: the page (``app_pages/3_Dataset_report.py``) lays these out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from saliency_core import pipeline, viz
from saliency_core.data import roots
from saliency_core.data.datasets import Dataset, open_dataset_folder
from saliency_core.data.images import Sample
from saliency_core.evaluate import summary as summaries
from saliency_core.evaluate.outcome import Outcome
from saliency_core.evaluate.store import (
    CURVE_TABLE,
    MANIFEST,
    PARTS,
    TABLE,
    ResultsError,
    ResultsFolder,
    is_results_folder,
)
from saliency_core.maps.references import REFERENCES
from saliency_core.models import gaze
from saliency_core.models.weights import WeightSource
from saliency_core.scoring import agreement, temporal
from saliency_core.settings import Settings, load_settings, to_query
from saliency_core.study import TOP_PERCENT, MapKind
from ui import matrix, tables

RESULTS_DIR_VARIABLE = "SALIENCY_RESULTS_DIR"
DEFAULT_RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
REFERENCE_KINDS = {MapKind.FLOOR: "floor", MapKind.CEILING: "ceiling"}
"""Summary kinds that are reading aids (what a score is read against), never the best map."""
"""The study's top-p% (its 90th-percentile cut), marked on the IoU curves."""
NA = tables.NOT_AVAILABLE
MAP_INFO = ["kind", "detector", "weights", "method", "target"]
"""Columns of the per-image table that say what a map is (with its label, ``map``)."""


# --- finding results -------------------------------------------------------------------------


def results_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where results folders are looked for: ``$SALIENCY_RESULTS_DIR``, else ``./results``."""
    value = environ.get(RESULTS_DIR_VARIABLE)
    return Path(value).expanduser() if value else DEFAULT_RESULTS_DIR


def find_results_folders(root: Path, depth: int = 2) -> list[Path]:
    """Results folders (with a manifest) at ``root`` and up to ``depth`` levels below it,
    sorted by path; an absent ``root`` has none, and a folder linking out of ``root`` is not
    listed (:func:`open_results_folder` would refuse it)."""
    return sorted(_find(root, root, depth)) if root.is_dir() else []


def _find(folder: Path, root: Path, depth: int) -> list[Path]:
    try:
        _confine_results(folder, root)
    except roots.OutsideRootsError:
        return []
    found = [folder] if is_results_folder(folder) else []
    if depth > 0:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        for child in children:
            found += _find(child, root, depth - 1)
    return found


def _confine_results(path: Path, root: Path) -> Path:
    return roots.confine(path, [root], f"the results folder ${RESULTS_DIR_VARIABLE} ({root})")


def open_results_folder(path: str | Path, root: Path) -> ResultsFolder:
    """The results folder at ``path`` (resolved), which must lie under ``root`` (or any path is
    allowed, :func:`saliency_core.data.roots.any_path_allowed`) and hold a manifest; else a one-line
    :class:`ResultsError` or :class:`saliency_core.data.roots.OutsideRootsError` saying why."""
    resolved = _confine_results(Path(path), root)
    if not is_results_folder(resolved):
        raise ResultsError(
            f"{path} is not a results folder (it has no {MANIFEST}). Pick a listed folder or "
            "start a run below."
        )
    return ResultsFolder(resolved)


def folder_fingerprint(root: Path) -> str:
    """Changes whenever the folder's results change (a run adds parts or rewrites a table):
    names, sizes and modification times of the manifest, tables and parts (not the tags, which
    change nothing computed)."""
    paths = [root / MANIFEST, root / f"{TABLE}.parquet", root / CURVE_TABLE]
    parts = root / PARTS
    if parts.is_dir():
        paths += sorted(parts.glob("*.parquet"))
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(stamps)


def run_settings(folder: ResultsFolder) -> Settings:
    """The run's settings: the manifest's copy, else ``settings.toml``."""
    stored = folder.manifest().get("settings")
    if stored is not None:
        return Settings.from_dict(stored)
    return load_settings(folder.root / "settings.toml")


@dataclass(frozen=True)
class RunDataset:
    """The run's dataset, and whether the app lists it (only then can Explore open it)."""

    dataset: Dataset | None
    listed: bool
    root: str
    missing: str = ""
    """Why there is no dataset (values only, no pictures); empty when there is one."""


def run_dataset(manifest: Mapping, available: Mapping[str, Dataset]) -> RunDataset:
    """The listed dataset whose folder the run read, else the folder itself if it still exists
    under a dataset root (not listed: add it with ``SALIENCY_DATA_DIR``), else None and why."""
    root = str(manifest.get("dataset", ""))
    if not root:
        return RunDataset(None, False, root, "The run's manifest names no dataset folder.")
    for dataset in available.values():
        if str(dataset.root.resolve()) == root:
            return RunDataset(dataset, True, root)
    try:
        path = open_dataset_folder(root)
    except roots.OutsideRootsError as error:
        return RunDataset(None, False, root, f"The run's dataset folder {error}")
    if (path / "images").is_dir():
        return RunDataset(Dataset(path.name, path), False, root)
    return RunDataset(None, False, root, f"The run's dataset folder {root} is gone.")


def run_outcome(manifest: Mapping, scored: int, errors: pd.DataFrame) -> Outcome | None:
    """What a finished run did (None while it runs): ``scored`` images have rows, ``errors``
    (image, reason) were skipped, of the manifest's images."""
    status = manifest.get("status")
    if status in (None, "running"):
        return None
    reasons = dict(zip(errors["image"].astype(str), errors["reason"].astype(str), strict=True))
    images = manifest.get("images")
    images = int(images) if isinstance(images, int) else scored + len(reasons)
    return Outcome(images, scored, reasons, stopped=status == "stopped")


def output_folder(results_root: Path, name: str) -> Path:
    """``results_root/name`` for a run started from the page; ``name`` is one folder name, and
    the folder (a symbolic link followed) must lie under ``results_root``."""
    name = name.strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"output folder name {name!r}: give one folder name, no slashes")
    _confine_results(results_root / name, results_root)
    return results_root / name


# --- the summary table -----------------------------------------------------------------------


format_value = tables.format_value
"""A metric value for display: "0.238", or "n/a" when undefined (no "-0.000")."""


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
            f"[{format_value(lo)}, {format_value(hi)}]"
            if np.isfinite(lo) and np.isfinite(hi)
            else NA
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
            f"{NA}: {_columns_text(columns, by_reference)} — {reason}"
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


# --- charts ----------------------------------------------------------------------------------


def metric_choices(table: pd.DataFrame) -> dict[str, list[str]]:
    """Reference key -> its metrics, in the summary's column order."""
    choices: dict[str, list[str]] = {}
    for reference_key, metric in cell_order(table.drop_duplicates(["reference_key", "metric"])):
        choices.setdefault(reference_key, []).append(metric)
    return choices


def _map_order(table: pd.DataFrame) -> list[str]:
    """Map labels: compared maps first (summary kind order), reference rows last."""
    labels = map_labels(table)
    order = labels["kind"].map(summaries.KIND_ORDER).fillna(len(summaries.KIND_ORDER))
    return labels.assign(_order=order).sort_values(["_order", "map"], kind="stable")["map"].tolist()


def direction(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def distribution_figure(
    table: pd.DataFrame, reference_key: str, metric: str, style: str = "box"
) -> go.Figure:
    """Per-image values of ``metric`` against ``reference_key``: one box (or violin) per map,
    hover naming the image. Undefined values are left out and counted in the trace name."""
    rows = table[(table["reference_key"] == reference_key) & (table["metric"] == metric)]
    figure = go.Figure()
    trace = {"box": go.Box, "violin": go.Violin}[style]
    kinds = dict(zip(rows["map"], rows["kind"], strict=False))
    for label in [m for m in _map_order(table) if m in kinds]:
        values = rows[rows["map"] == label]
        defined = values[values["value"].notna()]
        undefined = len(values) - len(defined)
        name = label + (f" ({NA}: {undefined})" if undefined else "")
        extra = {"boxpoints": "all", "jitter": 0.3} if style == "box" else {"points": "all"}
        if style == "violin":
            extra["box_visible"] = True
        if kinds[label] in REFERENCE_KINDS:
            extra["marker_color"] = "grey"
        figure.add_trace(
            trace(
                y=defined["value"].to_numpy(dtype=float),
                name=name,
                text=defined["image"].to_numpy(),
                hovertemplate="%{text}: %{y:.3f}<extra></extra>",
                **extra,
            )
        )
    better = direction(bool(rows["higher_is_better"].iloc[0])) if len(rows) else ""
    reference = rows["reference"].iloc[0] if len(rows) else reference_key
    figure.update_layout(
        title=f"{metric} vs. {reference} per image ({better})",
        yaxis_title=metric,
        showlegend=False,
        margin={"l": 40, "r": 10, "t": 50, "b": 10},
        height=460,
    )
    return figure


def mean_curves(curves: pd.DataFrame, reference_key: str) -> pd.DataFrame:
    """Mean IoU over images at each top-p% per map against ``reference_key``: columns map,
    percent, iou (mean of the defined values; NaN where none is), n (images with a value)."""
    rows = curves[curves["reference_key"] == reference_key]
    grouped = rows.groupby(["map", "percent"], sort=False)["iou"]
    means = pd.concat([grouped.mean().rename("iou"), grouped.count().rename("n")], axis=1)
    return means.reset_index()


def mean_curve_figure(
    curves: pd.DataFrame, reference_key: str, marked: float = TOP_PERCENT
) -> go.Figure:
    """Mean IoU-vs-top-p% curve per map, the study's top-p% (``marked``) as a dotted line."""
    means = mean_curves(curves, reference_key)
    rows = curves[curves["reference_key"] == reference_key]
    reference = rows["reference"].iloc[0] if len(rows) else reference_key
    images = rows["image"].nunique()
    figure = viz.iou_curve_figure(means, reference, marked)
    figure.add_annotation(
        x=marked, y=1, yref="y", text=f"study: top {marked:g}%", showarrow=False, yshift=8
    )
    figure.update_layout(
        title=f"Mean IoU of the top-p% pixels vs. {reference} ({images} images)",
        yaxis_title="mean IoU",
    )
    return figure


# --- the failure-mode gallery ----------------------------------------------------------------


def rank_images(table: pd.DataFrame, map_label: str, reference_key: str, metric: str):
    """The images for one (map, reference, metric), worst first: lowest value first when higher
    is better, else highest; undefined values last; ties by image id. Columns rank (1-based),
    image, value, reason."""
    rows = table[
        (table["map"] == map_label)
        & (table["reference_key"] == reference_key)
        & (table["metric"] == metric)
    ]
    columns = ["rank", "image", "value", "reason"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    higher = bool(rows["higher_is_better"].iloc[0])
    ranked = (
        rows.assign(_undefined=rows["value"].isna(), _key=rows["value"] * (1 if higher else -1))
        .sort_values(["_undefined", "_key", "image"], kind="stable")
        .reset_index(drop=True)
    )
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked[columns]


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated free text as tags: trimmed, empty ones dropped, first spelling kept."""
    tags: dict[str, str] = {}
    for part in str(text).split(","):
        tag = " ".join(part.split())
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return tuple(tags.values())


def tag_lists(tags: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Image -> its tags, from a tags table (columns image, tags)."""
    return {str(row.image): parse_tags(row.tags) for row in tags.itertuples(index=False)}


def all_tags(tags: Mapping[str, Iterable[str]]) -> list[str]:
    """Every tag in use, sorted case-insensitively."""
    return sorted({tag for image_tags in tags.values() for tag in image_tags}, key=str.casefold)


def filter_images(
    ranked: pd.DataFrame,
    value_range: tuple[float, float] | None = None,
    include_undefined: bool = True,
    tags: Mapping[str, Iterable[str]] | None = None,
    wanted: Iterable[str] = (),
) -> pd.DataFrame:
    """The ranked images with a value in ``value_range`` (inclusive; undefined ones kept when
    ``include_undefined``) and, when ``wanted`` is not empty, at least one of those tags."""
    values = ranked["value"].astype(float)
    undefined = values.isna()
    keep = ~undefined if value_range is None else values.between(*value_range)
    keep = keep | (undefined & include_undefined)
    wanted = {tag.casefold() for tag in wanted}
    if wanted:
        tags = tags or {}
        has = ranked["image"].map(
            lambda image: bool(wanted & {tag.casefold() for tag in tags.get(image, ())})
        )
        keep &= has.astype(bool)
    return ranked[keep.to_numpy()].reset_index(drop=True)


def slider_step(low: float, high: float, steps: int = 100) -> float:
    """A step for a slider over [low, high]: (high − low) / ``steps`` rounded down to 1, 2 or 5
    × 10^k (0.0048 / 100 → 0.00002), so one key press moves a small part of the range."""
    span = (high - low) / steps
    if not np.isfinite(span) or span <= 0:
        return 0.01
    power = 10.0 ** np.floor(np.log10(span))
    mantissa = max(m for m in (1, 2, 5) if m * power <= span * (1 + 1e-9))
    return float(f"{mantissa * power:.1e}")


def slider_format(step: float) -> str:
    """A printf format showing the decimals ``step`` needs (at least 3)."""
    return f"%.{max(3, int(-np.floor(np.log10(step))))}f"


def page_count(items: int, per_page: int) -> int:
    return max(1, -(-items // per_page))


def page_of(frame: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of the 1-based ``page`` (clamped to the pages there are)."""
    page = min(max(page, 1), page_count(len(frame), per_page))
    return frame.iloc[(page - 1) * per_page : page * per_page]


@dataclass(frozen=True)
class MapIdentity:
    """What a map of the per-image table is (:data:`MAP_INFO` and its label)."""

    label: str
    kind: str
    detector: str = ""
    weights: str = ""
    method: str = ""
    target: str = ""

    @classmethod
    def of(cls, table: pd.DataFrame, label: str) -> MapIdentity:
        row = table[table["map"] == label].iloc[0]
        return cls(label, *(str(row[column]) for column in MAP_INFO))


def map_settings(settings: Settings, identity: MapIdentity, reference_key: str) -> Settings:
    """The run's settings narrowed to one map and one reference (what a thumbnail needs).

    A type-1 map keeps its detector and method (untrained when it is the untrained twin), a
    classifier map its classifier and method, a type-2 map its model, a consensus every CAM;
    the floor needs no model. The fixation metrics' "fixation points" are no reference map.
    """
    references = (reference_key,) if reference_key in REFERENCES else ()
    narrowed = settings.with_changes(references=references, type2=(), consensus=False)
    if identity.kind == MapKind.CONSENSUS:
        return narrowed.with_changes(consensus=True)
    narrowed = narrowed.with_changes(classifiers=())
    if identity.kind == MapKind.CLASSIFIER:
        return narrowed.with_changes(
            detectors=(),
            classifiers=(identity.detector,),
            classifier_methods=(identity.method,),
        )
    if identity.kind == MapKind.TYPE1:
        twin = identity.weights == "untrained" and settings.weights is not WeightSource.UNTRAINED
        return narrowed.with_changes(
            detectors=(identity.detector,),
            cams=(identity.method,),
            untrained_twins=False,
            weights=WeightSource.UNTRAINED if twin else settings.weights,
        )
    if identity.kind == MapKind.TYPE2:
        return narrowed.with_changes(detectors=(), type2=(identity.method,))
    return narrowed.with_changes(detectors=())


@dataclass(frozen=True)
class Thumbnail:
    """A gallery picture (uint8 RGB) and what it shows."""

    picture: np.ndarray
    caption: str


def _find_map(bundle: pipeline.Bundle, identity: MapIdentity) -> pipeline.MapEntry | None:
    if identity.label in bundle.maps:
        return bundle.maps[identity.label]
    for entry in bundle.maps.values():
        if (entry.kind, entry.detector, entry.method) == (
            identity.kind,
            identity.detector,
            identity.method,
        ):
            return entry
    return None


def shrink(picture: np.ndarray, side: int) -> np.ndarray:
    """``picture`` with its long side at most ``side`` px."""
    scale = side / max(picture.shape[:2])
    if scale >= 1:
        return picture
    size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def agreement_thumbnail(
    sample: Sample,
    settings: Settings,
    identity: MapIdentity,
    reference_key: str,
    percent: float,
    functions: pipeline.MapFunctions = pipeline.UNCACHED_MAPS,
    side: int = 320,
) -> Thumbnail:
    """The map recomputed under the run's ``settings`` (only it and its reference), drawn as
    the top-``percent``% agreement view against the reference (yellow both, red map only,
    blue reference only); against the fixation points, the map's overlay with the points."""
    sample = pipeline.prepare_sample(sample, settings)
    narrowed = map_settings(settings, identity, reference_key)
    bundle = pipeline.compute_bundle(sample, narrowed, functions)
    if identity.kind == MapKind.FLOOR:
        pipeline.add_floor(bundle)
    entry = _find_map(bundle, identity)
    if entry is None:
        reasons = "; ".join(bundle.skipped) or "it was not computed"
        raise ValueError(f"{identity.label} could not be recomputed: {reasons}")
    reference = bundle.references.get(reference_key)
    if reference is not None:
        ranked_map = agreement.RankedMap(entry.values)
        ranked_reference = agreement.RankedMap(reference.values)
        view = matrix.threshold_view(
            viz.AgreementPainter(sample.image),
            {entry.label: ranked_map},
            {reference.label: ranked_reference},
            reference.label,
            percent,
        )
        caption = f"top {percent:g}% vs. {reference.label}"
        return Thumbnail(shrink(view.pictures[entry.label], side), caption)
    picture = viz.overlay(sample.image, entry.values)
    if sample.fixations is not None and len(sample.fixations):
        picture = viz.draw_fixations(picture, sample.fixations)
        return Thumbnail(shrink(picture, side), "the map with the fixation points")
    why = "; ".join(bundle.skipped) or f"no {reference_key} reference"
    return Thumbnail(shrink(picture, side), f"the map only ({why})")


def explore_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """The run's settings as Explore can show them, and what differs from the run's view.

    Explore builds a type-2 reference (e.g. "deepgaze") only from a chosen type-2 model, so each
    model that a reference of the run needs joins the type-2 models (Explore then shows its map
    too, which the run did not score: said in the notes).
    """
    needed = (REFERENCES[key].type2_model for key in settings.references)
    added = [model for model in dict.fromkeys(needed) if model and model not in settings.type2]
    notes = [
        f"Explore also shows {model}'s map: it builds the {key} reference from it."
        for model in added
        for key in settings.references
        if REFERENCES[key].type2_model == model
    ]
    return settings.with_changes(type2=(*settings.type2, *added)), notes


def explore_query(dataset_name: str, stem: str, settings: Settings) -> dict[str, str]:
    """The Explore page's URL parameters for one image under the run's settings (as
    :func:`explore_settings` carries them)."""
    shown, _ = explore_settings(settings)
    return {"dataset": dataset_name, "image": stem, **to_query(shown)}


def time_tables(per_image: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean curves with bootstrap CIs, peak-time counts) of a run's onset-window table
    (``temporal.parquet``: :func:`temporal.window_metrics` rows with an ``image`` column)."""
    curves = temporal.mean_curves(per_image, seed=seed)
    peaks = [temporal.peak_windows(rows) for _, rows in per_image.groupby("image", sort=False)]
    return curves, temporal.peak_time_counts(pd.concat(peaks, ignore_index=True))
