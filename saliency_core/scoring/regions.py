"""Relative importance of image regions: does the model weight each object as people do?

A :class:`Region` is a boolean (H, W) mask with a name and a category (the detector's class
label, "component" or "rectangle"), built from detector boxes (:func:`from_boxes`), instance
masks (:func:`from_instance_masks`), a mask image's connected components
(:func:`from_mask_components`) or user rectangles (:func:`from_rectangles`).

:func:`region_shares` gives, per (map, region), the map's share of mass, the share of human
fixations and of the fixation density falling in the region, and the model/people ratio;
:func:`rank_correlation` compares the two rankings of the regions (Spearman's rho) and
:func:`class_ratios` averages ratios per category over a dataset.

Overlap: every region is measured on its own, so a pixel inside two boxes counts in both; shares
over overlapping regions can sum to more than 1, and over disjoint ones to less than 1 (the
rest is background).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from saliency_core.data.fixations import density_map, to_pixel_coords
from saliency_core.scoring import metrics

People = Literal["fixations", "density"]
PEOPLE_SHARES: dict[str, str] = {"fixations": "fixation_share", "density": "density_share"}
"""Which people's share the ratio and the ranking use: fixation counts or the density's mass."""
SHARE_COLUMNS = [
    "map",
    "region",
    "category",
    "pixels",
    "area_share",
    "map_share",
    "fixation_share",
    "density_share",
    "ratio",
    "log2_ratio",
    "model_rank",
    "people_rank",
    "reason",
]
RANK_COLUMNS = ["map", "n_regions", "spearman", "p_value", "reason"]
CLASS_COLUMNS = [
    "map",
    "category",
    "n_regions",
    "n_images",
    "n_undefined",
    "mean_ratio",
    "mean_log2_ratio",
    "reason",
]
EMPTY_REGION = "the region covers no pixel"
NO_PEOPLE_SHARE = "people's share is 0 in this region: no ratio"
NO_MODEL_SHARE = "the map has no mass in this region: ratio 0, no log ratio"
FEW_REGIONS = "rank correlation needs at least 2 regions with defined shares"


@dataclass(frozen=True)
class Region:
    """A named image region: ``mask`` bool (H, W); ``category`` groups regions across images."""

    name: str
    category: str
    mask: np.ndarray


def _named(categories: Sequence[str], masks: Sequence[np.ndarray]) -> list[Region]:
    """Regions named "<category> <k>", k counting from 1 within each category in input order."""
    if len(categories) != len(masks):
        raise ValueError(f"{len(masks)} regions but {len(categories)} labels")
    counts: dict[str, int] = {}
    regions = []
    for category, mask in zip(categories, masks, strict=True):
        counts[category] = counts.get(category, 0) + 1
        regions.append(Region(f"{category} {counts[category]}", str(category), mask))
    return regions


def box_mask(box: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """Pixels of a box ``(x1, y1, x2, y2)`` in torchvision's convention, bool (H, W).

    The image spans ``[0, W] × [0, H]`` (pixel (r, c) covers ``[c, c+1) × [r, r+1)``); a pixel
    belongs to the box when its centre ``(c + 0.5, r + 0.5)`` lies in ``[x1, x2) × [y1, y2)``
    (corners in either order; the part outside the image is cut off).
    """
    values = np.asarray(box, dtype=np.float64)
    if values.shape != (4,) or not np.isfinite(values).all():
        raise ValueError(f"a box is 4 finite numbers (x1, y1, x2, y2), got {box!r}")
    (x1, x2), (y1, y2) = sorted(values[[0, 2]]), sorted(values[[1, 3]])
    cols = np.arange(shape[1]) + 0.5
    rows = np.arange(shape[0]) + 0.5
    return ((rows >= y1) & (rows < y2))[:, None] & ((cols >= x1) & (cols < x2))[None, :]


def from_boxes(
    boxes: np.ndarray, categories: Sequence[str], shape: tuple[int, int]
) -> list[Region]:
    """Regions of detector boxes, float (N, 4) ``(x1, y1, x2, y2)`` pixels (:func:`box_mask`),
    with their class labels (e.g. ``Detections.names``)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return _named(categories, [box_mask(box, shape) for box in boxes])


def from_rectangles(
    rectangles: Sequence[Sequence[float]],
    shape: tuple[int, int],
    category: str = "rectangle",
) -> list[Region]:
    """Regions of user-drawn rectangles ``(x1, y1, x2, y2)`` pixels, named "rectangle 1", …"""
    return from_boxes(np.asarray(rectangles, dtype=np.float64), [category] * len(rectangles), shape)


def from_instance_masks(
    masks: np.ndarray, categories: Sequence[str], threshold: float = 0.5
) -> list[Region]:
    """Regions of instance masks: bool or probabilities, (N, H, W) or Mask R-CNN's (N, 1, H, W);
    a pixel is inside when its value is > ``threshold`` (torchvision's usual 0.5)."""
    array = np.asarray(masks)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"instance masks must be (N, H, W) or (N, 1, H, W), got {masks.shape}")
    inside = array if array.dtype == bool else array > threshold
    return _named(categories, list(inside))


def from_mask_components(
    mask: np.ndarray, category: str = "component", min_pixels: int = 1
) -> list[Region]:
    """Connected components of a mask's non-zero pixels (8-connected, ``scipy.ndimage.label``),
    in label order, keeping those of at least ``min_pixels`` pixels."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"the mask must be 2-D (H, W), got shape {array.shape}")
    labels, count = ndimage.label(array != 0, structure=np.ones((3, 3), dtype=bool))
    components = [labels == k for k in range(1, count + 1)]
    kept = [component for component in components if component.sum() >= min_pixels]
    return _named([category] * len(kept), kept)


def _stack(regions: Sequence[Region], shape: tuple[int, int]) -> np.ndarray:
    """The regions' masks as float64 (R, H·W) rows."""
    for region in regions:
        if np.shape(region.mask) != tuple(shape):
            raise ValueError(
                f"region {region.name!r} has shape {np.shape(region.mask)}, the maps {shape}"
            )
    return np.array([np.asarray(r.mask, dtype=np.float64).ravel() for r in regions]).reshape(
        len(regions), -1
    )


def _map_shares(values: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Each region's share of ``values / sum values``; NaN with the reason for zero mass."""
    saliency = np.asarray(values, dtype=np.float64)
    if not np.isfinite(saliency).all():
        raise ValueError("the map contains NaN or infinite values")
    if saliency.min() < 0:
        raise ValueError(
            f"region shares need a non-negative map, got a minimum of {saliency.min()}"
        )
    total = saliency.sum()
    if total == 0:
        return np.full(len(masks), np.nan), metrics.ZERO_MASS
    return masks @ saliency.ravel() / total, None


def region_shares(
    regions: Sequence[Region],
    maps: Mapping[str, np.ndarray],
    fixations: np.ndarray,
    sigma: float,
    people: People = "fixations",
) -> pd.DataFrame:
    """Per (map, region): model and people shares, their ratio and ranks (:data:`SHARE_COLUMNS`).

    * ``map_share`` = Σ_region m / Σ_image m (the map must be non-negative; zero mass: NaN);
    * ``fixation_share`` = fixations in the region / fixations inside the image (counted with
      repeats, pixels as :func:`~saliency_core.data.fixations.to_pixel_coords` rounds them);
    * ``density_share`` = mass of ``density_map(fixations, shape, sigma)`` in the region;
    * ``ratio`` = map_share / people share (``people``: fixation or density share), > 1 when the
      model over-weights the region; ``log2_ratio`` its base-2 log (0: as people; +1: twice);
    * ``model_rank`` / ``people_rank``: 1 = largest share among the image's regions (ties get
      the average rank);
    * ``area_share`` = pixels / image pixels (what a uniform map would give).

    NaNs carry reasons: zero map mass, no fixation inside the image, people's share 0, a region
    with no pixel; a map share of 0 gives ratio 0 with no log ratio. Regions are measured
    independently (overlapping shares can sum to more than 1; see the module's note).
    """
    if people not in PEOPLE_SHARES:
        raise ValueError(f"people must be one of {', '.join(PEOPLE_SHARES)}, got {people!r}")
    if not maps or not regions:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    shape = np.shape(next(iter(maps.values())))
    masks = _stack(regions, shape)
    pixels = masks.sum(axis=1)
    fixated = to_pixel_coords(fixations, shape)
    if len(fixated):
        counts = np.bincount(fixated[:, 1] * shape[1] + fixated[:, 0], minlength=masks.shape[1])
        fixation_share = masks @ counts / len(fixated)
        density_share = masks @ density_map(fixations, shape, sigma).ravel().astype(np.float64)
        people_reason = None
    else:
        fixation_share = density_share = np.full(len(regions), np.nan)
        people_reason = metrics.NO_FIXATIONS
    people_share = {"fixations": fixation_share, "density": density_share}[people]
    people_rank = pd.Series(people_share).rank(ascending=False, method="average").to_numpy()
    rows = []
    for name, values in maps.items():
        if np.shape(values) != shape:
            raise ValueError(f"map {name!r} has shape {np.shape(values)}, expected {shape}")
        map_share, map_reason = _map_shares(values, masks)
        model_rank = pd.Series(map_share).rank(ascending=False, method="average").to_numpy()
        for k, region in enumerate(regions):
            ratio, log_ratio, reasons = _ratio(map_share[k], people_share[k], pixels[k])
            rows.append(
                {
                    "map": name,
                    "region": region.name,
                    "category": region.category,
                    "pixels": int(pixels[k]),
                    "area_share": pixels[k] / masks.shape[1],
                    "map_share": map_share[k],
                    "fixation_share": fixation_share[k],
                    "density_share": density_share[k],
                    "ratio": ratio,
                    "log2_ratio": log_ratio,
                    "model_rank": model_rank[k],
                    "people_rank": people_rank[k],
                    "reason": "; ".join(r for r in (map_reason, people_reason, *reasons) if r)
                    or None,
                }
            )
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def _ratio(model: float, people: float, pixels: float) -> tuple[float, float, tuple[str, ...]]:
    """(ratio, log2 ratio, reasons) of one region's shares (NaN shares carry their own reason)."""
    if np.isnan(model) or np.isnan(people):
        return np.nan, np.nan, ()
    if pixels == 0:
        return np.nan, np.nan, (EMPTY_REGION,)
    if people == 0:
        return np.nan, np.nan, (NO_PEOPLE_SHARE,)
    if model == 0:
        return 0.0, np.nan, (NO_MODEL_SHARE,)
    return model / people, float(np.log2(model / people)), ()


def rank_correlation(shares: pd.DataFrame, people: People = "fixations") -> pd.DataFrame:
    """Spearman's rho between the model's and people's shares of one image's regions, per map
    (``scipy.stats.spearmanr``; ties get average ranks): :data:`RANK_COLUMNS`.

    Regions with an undefined share are left out; NaN with a reason for fewer than 2 regions or
    when either side's shares are all equal (no ranking). ``p_value`` is spearmanr's two-sided
    p-value (rough with few regions).
    """
    column = PEOPLE_SHARES[people]
    rows = []
    for name, group in shares.groupby("map", sort=False):
        defined = group.dropna(subset=["map_share", column])
        model, human = defined["map_share"].to_numpy(), defined[column].to_numpy()
        row = {"map": name, "n_regions": len(defined), "spearman": np.nan, "p_value": np.nan}
        if len(defined) < 2:
            row["reason"] = FEW_REGIONS
        elif np.all(model == model[0]):
            row["reason"] = "the map's shares are all equal: no ranking"
        elif np.all(human == human[0]):
            row["reason"] = "people's shares are all equal: no ranking"
        else:
            result = stats.spearmanr(model, human)
            row |= {"spearman": float(result.statistic), "p_value": float(result.pvalue)}
            row["reason"] = None
        rows.append(row)
    return pd.DataFrame(rows, columns=RANK_COLUMNS)


def class_ratios(per_image: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: per (map, category), the mean model/people ratio (:data:`CLASS_COLUMNS`).

    ``per_image`` stacks :func:`region_shares` tables with an ``image`` column. ``mean_ratio``
    averages the defined ratios (``n_regions`` regions from ``n_images`` images; ``n_undefined``
    were NaN); ``mean_log2_ratio`` averages the finite log ratios (2 ** it is the geometric mean;
    ratios of 0 have no log and are left out of it). Which categories does each map over-weight
    (> 1, > 0 in log) or under-weight relative to people?
    """
    rows = []
    for (name, category), group in per_image.groupby(["map", "category"], sort=True):
        defined = group.dropna(subset=["ratio"])
        logs = group["log2_ratio"].dropna()
        rows.append(
            {
                "map": name,
                "category": category,
                "n_regions": len(defined),
                "n_images": int(defined["image"].nunique()),
                "n_undefined": int(len(group) - len(defined)),
                "mean_ratio": float(defined["ratio"].mean()) if len(defined) else np.nan,
                "mean_log2_ratio": float(logs.mean()) if len(logs) else np.nan,
                "reason": None if len(logs) else "no region of this category has a log ratio",
            }
        )
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)
