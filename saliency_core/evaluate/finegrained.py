"""Per-image finer-grained tables of the dataset engine (and Explore's finer-grained section):
agreement over time, per region and against people's own ceiling.

:func:`temporal_table` scores every map of a bundle against each onset window of the sample's
fixations (:func:`saliency_core.scoring.temporal.window_metrics`); :func:`region_table` gives the
region shares (:func:`saliency_core.scoring.regions.region_shares`) of each detector's type-1 maps
over that detector's regions at the settings' score threshold: its instance masks when its
detections carry them (Mask R-CNN), else its boxes (column ``region_kind``). Both carry an ``image``
column; an image without onsets, fixations or detections simply has no rows (never guessed values;
the run says so in its notices)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from saliency_core.maps.cams import Detections
from saliency_core.maps.references import fixation_sigma
from saliency_core.pipeline import Bundle, ceiling_table
from saliency_core.scoring import agreement, ceiling, regions, temporal
from saliency_core.study import TOP_PERCENT, MapKind

WINDOW_S = 0.5
"""Default onset-window width in seconds."""
TEMPORAL_COLUMNS = ["image", *temporal.COLUMNS]
REGION_COLUMNS = ["image", "detector", "region_kind", *regions.SHARE_COLUMNS]
BOX, INSTANCE_MASK = "box", "instance mask"
SPLITS = {
    "onset": temporal.split_by_onset,
    "ordinal": lambda table, _width: temporal.split_by_ordinal(table),
}
"""How the fixations are split into windows: ``split(table, width_s)`` (the width is in
seconds of onset; the k-th fixation per subject ignores it)."""
PEOPLE_COLUMNS = ["map", "metric", "value", "reason"]


def temporal_table(
    bundle: Bundle, width_s: float = WINDOW_S, percent: float = TOP_PERCENT
) -> pd.DataFrame:
    """:func:`temporal.window_metrics` of every map over ``width_s``-second onset windows
    (:data:`TEMPORAL_COLUMNS`); empty when the sample has no fixations or none with an onset
    (fixations without one are in no window: :func:`temporal.split_by_onset`)."""
    sample = bundle.sample
    table = sample.fixation_table()
    if table is None or not temporal.has_onsets(table):
        return pd.DataFrame(columns=TEMPORAL_COLUMNS)
    rows = window_table(bundle, "onset", width_s, percent)
    rows.insert(0, "image", sample.id)
    return rows[TEMPORAL_COLUMNS]


def window_table(
    bundle: Bundle, split: str = "onset", width_s: float = WINDOW_S, percent: float = TOP_PERCENT
) -> pd.DataFrame:
    """:func:`temporal.window_metrics` of every map over the sample's fixations split by
    ``split`` (:data:`SPLITS`); ValueError when they cannot be split that way (no subject ids
    for ordinals)."""
    sample = bundle.sample
    windows = SPLITS[split](sample.fixation_table(), width_s)
    sigma = fixation_sigma(sample, bundle.settings.sigma)
    return temporal.window_metrics(bundle.values, windows, sigma, percent)


def detector_regions(
    detections: Detections, shape: tuple[int, int]
) -> tuple[str, list[regions.Region]]:
    """(kind, regions) of detections: their instance masks (:data:`INSTANCE_MASK`) when they
    carry masks, else their boxes (:data:`BOX`), named by class label."""
    kinds = region_kinds(detections, shape)
    kind = INSTANCE_MASK if INSTANCE_MASK in kinds else BOX
    return kind, kinds[kind]()


def region_kinds(
    detections: Detections, shape: tuple[int, int]
) -> dict[str, Callable[[], list[regions.Region]]]:
    """Kind → builder of the detections' regions: their boxes (:data:`BOX`) and, when they
    carry masks (Mask R-CNN), their instance masks (:data:`INSTANCE_MASK`)."""
    kinds = {BOX: lambda: regions.from_boxes(detections.boxes, detections.names, shape)}
    if detections.masks is not None:
        kinds[INSTANCE_MASK] = lambda: regions.from_instance_masks(
            detections.masks, detections.names
        )
    return kinds


def region_table(bundle: Bundle) -> pd.DataFrame:
    """Per detector (its label in ``bundle.detections``): :func:`regions.region_shares` of its
    type-1 maps over its detections scored ≥ ``settings.score_threshold``
    (:data:`REGION_COLUMNS`). The regions are the instance masks when the detections carry
    them (Mask R-CNN: a mask follows the object's outline, a box also holds background), else
    the boxes; ``region_kind`` says which. Empty without fixations or detections."""
    sample = bundle.sample
    if sample.fixations is None or not len(sample.fixations):
        return pd.DataFrame(columns=REGION_COLUMNS)
    sigma = fixation_sigma(sample, bundle.settings.sigma)
    frames = []
    for label, detections in bundle.detections.items():
        kept = detections.above(bundle.settings.score_threshold)
        maps = {
            name: entry.values
            for name, entry in bundle.maps.items()
            if entry.kind == MapKind.TYPE1 and entry.model_label == label
        }
        if not len(kept) or not maps:
            continue
        kind, found = detector_regions(kept, sample.shape)
        shares = regions.region_shares(found, maps, sample.fixations, sigma)
        frames.append(shares.assign(image=sample.id, detector=label, region_kind=kind))
    if not frames:
        return pd.DataFrame(columns=REGION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[REGION_COLUMNS]


def people_table(bundle: Bundle, percent: float = TOP_PERCENT) -> pd.DataFrame:
    """Long rows (:data:`PEOPLE_COLUMNS`): people vs people (the leave-one-subject-out
    ceiling, :func:`pipeline.ceiling_table`), every map against the fixations, and the
    centre-bias floor (:func:`ceiling.centre_bias_floor`)."""
    sample = bundle.sample
    other = sample.other_fixations_px()
    sigma = fixation_sigma(sample, bundle.settings.sigma)
    people = ceiling_table(bundle, percent)
    maps = agreement.fixation_metrics(bundle.values, sample.fixations, other, bundle.baseline)
    floor = ceiling.centre_bias_floor(
        sample.fixations,
        sample.shape,
        sigma,
        percent,
        other,
        bundle.baseline,
        ties=bundle.settings.ties,
    )
    frames = [people[PEOPLE_COLUMNS], maps[PEOPLE_COLUMNS], floor[PEOPLE_COLUMNS]]
    return pd.concat(frames, ignore_index=True)
