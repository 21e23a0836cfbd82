"""A gallery picture: one map recomputed under the run's settings, drawn as agreement."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from saliency_core import pipeline, viz
from saliency_core.data.images import Sample
from saliency_core.maps.references import REFERENCES
from saliency_core.models.weights import WeightSource
from saliency_core.scoring import agreement
from saliency_core.settings import Settings
from saliency_core.study import MapKind
from ui import matrix
from ui.report.summary_table import MAP_INFO


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
        return Thumbnail(shrink(view.picture(entry.label), side), caption)
    picture = viz.overlay(sample.image, entry.values)
    if sample.fixations is not None and len(sample.fixations):
        picture = viz.draw_fixations(picture, sample.fixations)
        return Thumbnail(shrink(picture, side), "the map with the fixation points")
    why = "; ".join(bundle.skipped) or f"no {reference_key} reference"
    return Thumbnail(shrink(picture, side), f"the map only ({why})")
