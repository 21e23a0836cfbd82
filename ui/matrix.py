"""The Explore grid as a matrix: which panel goes where (titles and contents, no pictures).

One row per detector choice (untrained twins are rows of their own): its detections, then one
column per CAM method in the settings' order; one row per classifier, a column per method; the
consensus its own row. The references (type-2 reference maps, fixation density, attention mask)
stand beside every such row in fixed columns, so each map is read next to what it is compared
with; the type-2 maps form one row above. Every row has the same number of columns on screen
and in the exported PNG, so a method's maps stand one above the other and every picture has
the same size (a repeated reference is painted and encoded once: ``ui.panels`` caches by cell).

The agreement view (map vs the chosen reference) follows the same rows and columns
(:func:`agreement_rows`); :func:`threshold_view` gives what a new top-p% changes in it (the IoU
table and the agreement pictures). The page draws the rows, the export (``viz.grid_figure``)
takes the same rows with their pictures.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from saliency_core import pipeline, viz
from saliency_core.maps.cams import Detections
from saliency_core.maps.classifier_maps import classifier_choices
from saliency_core.scoring import agreement
from saliency_core.study import TIES_NO_OVERSHOOT, MapKind

DETECTIONS, MAP, REFERENCE, AGREEMENT, MISSING = (
    "detections",
    "map",
    "reference",
    "agreement",
    "missing",
)
"""Cell kinds: a detector's boxes, a map overlay, a reference overlay, a map's top-p% agreement
with the chosen reference, and a map that was not computed (the Notes say why)."""
MAP_COLORMAP, REFERENCE_COLORMAP = "jet", "inferno"
"""The overlays' colour maps (``viz.overlay``): maps and references."""
REFERENCE_ROW = "Type-2 maps and references"
TYPE2_ROW = "Type-2 maps"
CONSENSUS_ROW = "Consensus"


@dataclass(frozen=True)
class Cell:
    """One panel: its caption, its kind and what it shows (a ``bundle.detections`` key for
    detections, a ``bundle.maps`` label for maps and agreements, a ``bundle.references`` key
    for references, empty for a missing map)."""

    title: str
    kind: str
    key: str = ""


@dataclass(frozen=True)
class Row:
    """A titled row of cells; ``None`` leaves a column empty (columns stay aligned)."""

    title: str
    cells: tuple[Cell | None, ...]


def _row(title: str, cells: Iterable[Cell | None]) -> Row | None:
    """The row without trailing empty cells, or None when nothing is left."""
    kept = list(cells)
    while kept and kept[-1] is None:
        kept.pop()
    return Row(title, tuple(kept)) if kept else None


def shown_detections(
    detections: Detections, score: float, explained: np.ndarray | None = None
) -> tuple[Detections, np.ndarray | None]:
    """The detections drawn in a detections panel and which of them to mark as explained.

    Drawn: those with score ≥ ``score`` plus the explained ones (a chosen detection may score
    lower). The explained ones are marked (indices into the drawn detections) only when they
    are not simply every drawn box, i.e. when a choice or a fallback singled some out.
    """
    keep = detections.scores >= score
    chosen = np.zeros(len(detections), bool)
    if explained is not None and len(explained):
        chosen[np.asarray(explained, np.int64)] = True
    keep |= chosen
    indices = np.flatnonzero(keep)
    drawn = Detections(
        detections.boxes[indices],
        detections.scores[indices],
        detections.labels[indices],
        [detections.names[k] for k in indices],
        None if detections.masks is None else detections.masks[indices],
    )
    marked = np.flatnonzero(chosen[indices])
    if not len(marked) or len(marked) == len(indices):
        return drawn, None
    return drawn, marked


def detections_title(bundle: pipeline.Bundle, label: str, score: float) -> str:
    """The detections panel's caption: how many boxes ≥ the score, and what is explained —
    including the fallback (no box ≥ the threshold: the best one is explained and drawn)."""
    detections = bundle.detections[label]
    title = f"detections ≥ {score:.2f}: {int((detections.scores >= score).sum())}"
    explained = bundle.explained.get(label)
    if explained is None or not len(explained):
        return title
    settings = bundle.settings
    if settings.explain_detection is not None:
        k = int(explained[0])
        return title + f" · explained: {detections.names[k]} {detections.scores[k]:.2f}"
    below = [int(k) for k in explained if detections.scores[k] < settings.score_threshold]
    if below:
        which = "box" if settings.explain_class is None else f"{settings.explain_class} box"
        return title + (
            f" — the best {which} (score {detections.scores[below[0]]:.2f}) drawn as fallback"
        )
    if settings.explain_class is not None:
        title += f" · explained: {settings.explain_class} ({len(explained)})"
    return title


def overview_rows(bundle: pipeline.Bundle, score: float | None = None) -> list[Row]:
    """The overview's rows: the type-2 maps, then one per detector choice and one per
    classifier choice, then the consensus, each model row with the references beside it in
    fixed columns. Without a model row, one row holds the type-2 maps and the references."""
    score = bundle.settings.score_threshold if score is None else score
    models: list[Row | None] = []
    type1 = [entry for entry in bundle.maps.values() if entry.kind == MapKind.TYPE1]
    for choice in pipeline.detector_choices(bundle.settings)[0]:
        if choice.label not in bundle.detections:
            continue
        cells: list[Cell | None] = [
            Cell(detections_title(bundle, choice.label, score), DETECTIONS, choice.label)
        ]
        for method in bundle.settings.cams:
            entry = next(
                (e for e in type1 if e.model_label == choice.label and e.method == method), None
            )
            if entry is None:
                cells.append(Cell(f"{method}: not computed (see Notes)", MISSING))
            else:
                cells.append(Cell(f"{method} @ {entry.target}", MAP, entry.label))
        models.append(_row(choice.label, cells))
    models += _classifier_rows(bundle)
    consensus = [
        Cell(e.label, MAP, e.label) for e in bundle.maps.values() if e.kind == MapKind.CONSENSUS
    ]
    models.append(_row(CONSENSUS_ROW, consensus))
    rows = [row for row in models if row is not None]
    type2 = [Cell(e.label, MAP, e.label) for e in bundle.maps.values() if e.kind == MapKind.TYPE2]
    references = [
        Cell(ref.label, REFERENCE, key)
        for key, ref in bundle.references.items()
        if rows or ref.label not in bundle.maps
    ]
    if not rows:
        return [row for row in [_row(REFERENCE_ROW, type2 + references)] if row is not None]
    span = max(len(row.cells) for row in rows)
    beside = [
        Row(row.title, (*row.cells, *[None] * (span - len(row.cells)), *references)) for row in rows
    ]
    top = _row(TYPE2_ROW, type2)
    return ([top] if top is not None else []) + beside


def _classifier_rows(bundle: pipeline.Bundle) -> list[Row | None]:
    """One row per classifier choice, titled with its top-5 predictions (class and softmax
    probability): one column per classifier method."""
    maps = [entry for entry in bundle.maps.values() if entry.kind == MapKind.CLASSIFIER]
    rows = []
    for choice in classifier_choices(bundle.settings)[0]:
        cells: list[Cell | None] = []
        for method in bundle.settings.classifier_methods:
            entry = next(
                (e for e in maps if e.detector == choice.name and e.method == method), None
            )
            if entry is None:
                cells.append(Cell(f"{method}: not computed (see Notes)", MISSING))
            else:
                cells.append(Cell(f"{method} @ {entry.target}", MAP, entry.label))
        predictions = bundle.predictions.get(choice.label, [])
        top = ", ".join(f"{p.name} {p.probability:.2f}" for p in predictions)
        rows.append(_row(f"{choice.label} · top-5: {top}" if top else choice.label, cells))
    return rows


CONSTANT_MAP = "constant map"
"""Added to an agreement panel's title when its map is constant (its top-p% singles nothing
out: no pixel under the default tie rule, every pixel under the study's)."""


AGREEMENT_SUFFIX = " · top {percent:g}% vs {reference}"
"""Ends an agreement row's title (the live slider rewrites it as p moves)."""


def agreement_rows(
    rows: Iterable[Row], reference: str, percent: float, constant: Collection[str] = ()
) -> list[Row]:
    """The same rows with each map cell as its top-``percent``% agreement with ``reference``
    (a reference label); detections, reference and missing cells become empty columns, and the
    reference compared with itself is left out. The ``constant`` maps' titles end in
    ":data:`CONSTANT_MAP`"."""
    result = []
    for row in rows:
        cells = [
            Cell(_agreement_title(cell, constant), AGREEMENT, cell.key)
            if cell is not None and cell.kind == MAP and cell.key != reference
            else None
            for cell in row.cells
        ]
        kept = _row(
            row.title + AGREEMENT_SUFFIX.format(percent=percent, reference=reference), cells
        )
        if kept is not None:
            result.append(kept)
    return result


def _agreement_title(cell: Cell, constant: Collection[str]) -> str:
    return f"{cell.title} · {CONSTANT_MAP}" if cell.key in constant else cell.title


@dataclass(frozen=True)
class ThresholdView:
    """What a new top-p% changes: the IoU table, and each map's agreement picture against the
    shown reference, painted only when asked for (:meth:`picture`: the live slider draws them in
    the browser, so a run paints none unless the page or an export shows them)."""

    iou: pd.DataFrame
    masks: Mapping[str, np.ndarray]
    """Every map's and reference's top-p% mask (each taken once for the IoU and the pictures)."""
    paint: viz.AgreementPainter
    shown_reference: str
    constant: frozenset[str] = frozenset()
    """The constant maps: their top-p% singles nothing out (their panels say so)."""

    def picture(self, name: str) -> np.ndarray:
        """Map ``name``'s agreement picture (yellow: both, red: the map only, blue: the
        reference only) against the shown reference, as uint8 RGB."""
        return self.paint(self.masks[name], self.masks[self.shown_reference])


def threshold_view(
    paint: viz.AgreementPainter,
    maps: Mapping[str, agreement.RankedMap],
    references: Mapping[str, agreement.RankedMap],
    shown_reference: str,
    percent: float,
    ties: str = TIES_NO_OVERSHOOT,
) -> ThresholdView:
    """IoU of every map against every reference at ``percent``, and what paints the agreement
    pictures (``paint``, the image's :class:`~saliency_core.viz.AgreementPainter`, built once
    per image) against ``shown_reference``; each top-p% mask is taken once for both."""
    masks = agreement.top_masks({**maps, **references}, percent, ties)
    constant = frozenset(name for name, values in maps.items() if values.constant)
    iou = agreement.masks_iou_table(maps, references, masks)
    return ThresholdView(iou, masks, paint, shown_reference, constant)


def width(rows: Iterable[Row]) -> int:
    """The number of columns every row is drawn with (the longest row's; at least 2)."""
    return max([2, *(len(row.cells) for row in rows)])


def paint(
    bundle: pipeline.Bundle, cell: Cell, score: float, show_fixations: bool = True
) -> np.ndarray:
    """The picture of an overview cell (detections, map or reference) as uint8 RGB at the
    image's size; agreement pictures come from :func:`threshold_view`."""
    image = bundle.sample.image
    if cell.kind == DETECTIONS:
        drawn, marked = shown_detections(
            bundle.detections[cell.key], score, bundle.explained.get(cell.key)
        )
        return viz.draw_detections(image, drawn, explained=marked)
    if cell.kind == MAP:
        return viz.overlay(image, bundle.maps[cell.key].values, colormap=MAP_COLORMAP)
    if cell.kind == REFERENCE:
        picture = viz.overlay(
            image, bundle.references[cell.key].values, colormap=REFERENCE_COLORMAP
        )
        if show_fixations and bundle.sample.fixations is not None:
            picture = viz.draw_fixations(picture, bundle.sample.fixations)
        return picture
    raise ValueError(f"A {cell.kind} cell has no overview picture.")
