"""Relative importance of regions: masks from boxes/masks/components, shares, ratios, ranks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core.data.fixations import default_sigma, read_fixations
from saliency_core.scoring import regions

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample"
SHAPE = (10, 10)
# A: cols 0-4, rows 0-1 (10 px); B: cols 5-9, rows 5-9 (25 px); C: cols 0-1, rows 5-9 (10 px)
BOXES = np.array([[0.0, 0.0, 5.0, 2.0], [5.0, 5.0, 10.0, 10.0], [0.0, 5.0, 2.0, 10.0]])
CATEGORIES = ["person", "dog", "person"]
# one fixation in A, two in B, one on the background, one outside the image (dropped)
FIXATIONS = np.array([[2.0, 1.0], [7.0, 7.0], [8.0, 6.0], [7.0, 1.0], [20.0, 3.0]])


def hand_map() -> np.ndarray:
    """0.2 everywhere, 3 in A, 1 in B: mass 30 (A) + 25 (B) + 65 × 0.2 = 68; C holds 2."""
    saliency = np.full(SHAPE, 0.2)
    saliency[0:2, 0:5] = 3.0
    saliency[5:10, 5:10] = 1.0
    return saliency


def test_box_masks_take_the_pixels_whose_centres_lie_inside():
    mask = regions.box_mask([1.2, 0.0, 3.5, 1.6], (3, 5))
    expected = np.zeros((3, 5), dtype=bool)
    # column centres 1.5 and 2.5 lie in [1.2, 3.5) (3.5 does not); row centres 0.5, 1.5 < 1.6
    expected[0:2, 1:3] = True
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(regions.box_mask([3.5, 1.6, 1.2, 0.0], (3, 5)), mask)
    assert regions.box_mask([0, 0, 99, 99], (3, 5)).all()
    with pytest.raises(ValueError, match="4 finite numbers"):
        regions.box_mask([0, 0, 1], (3, 5))


def test_two_boxes_with_known_mass_give_the_hand_computed_shares_ratio_and_rank():
    two = regions.from_boxes(BOXES[:2], CATEGORIES[:2], SHAPE)
    shares = regions.region_shares(two, {"m": hand_map()}, FIXATIONS, sigma=0.0)
    assert list(shares.columns) == regions.SHARE_COLUMNS
    rows = shares.set_index("region")
    assert list(rows.index) == ["person 1", "dog 1"]
    assert rows["pixels"].tolist() == [10, 25]
    assert rows["map_share"].tolist() == pytest.approx([30 / 68, 25 / 68])
    assert rows["fixation_share"].tolist() == pytest.approx([1 / 4, 2 / 4])
    # sigma 0: the density is the fixation counts, so its shares are the fixation shares
    assert rows["density_share"].tolist() == pytest.approx([1 / 4, 2 / 4])
    assert rows["ratio"].tolist() == pytest.approx([120 / 68, 50 / 68])
    assert rows["log2_ratio"].tolist() == pytest.approx([math.log2(120 / 68), math.log2(50 / 68)])
    assert rows["model_rank"].tolist() == [1, 2] and rows["people_rank"].tolist() == [2, 1]
    assert rows["reason"].isna().all()
    ranks = regions.rank_correlation(shares)
    assert ranks["spearman"].tolist() == pytest.approx([-1.0]) and ranks["n_regions"].tolist() == [
        2
    ]


def test_three_regions_rank_correlation_and_a_region_people_ignore():
    three = regions.from_boxes(BOXES, CATEGORIES, SHAPE)
    assert [r.name for r in three] == ["person 1", "dog 1", "person 2"]
    shares = regions.region_shares(three, {"m": hand_map()}, FIXATIONS, sigma=0.0)
    c = shares.set_index("region").loc["person 2"]
    assert c["map_share"] == pytest.approx(2 / 68) and c["fixation_share"] == 0
    assert np.isnan(c["ratio"]) and c["reason"] == regions.NO_PEOPLE_SHARE
    # model ranks A 1, B 2, C 3; people B 1, A 2, C 3: rho = 1 - 6 (1 + 1 + 0) / (3 (9 - 1))
    rho = regions.rank_correlation(shares)["spearman"].iloc[0]
    assert rho == pytest.approx(0.5)


def test_overlapping_regions_are_measured_independently():
    overlapping = regions.from_rectangles([[0, 0, 10, 10], [0, 0, 5, 2]], SHAPE)
    shares = regions.region_shares(overlapping, {"m": hand_map()}, FIXATIONS, sigma=0.0)
    assert [r.name for r in overlapping] == ["rectangle 1", "rectangle 2"]
    assert shares["map_share"].tolist() == pytest.approx([1.0, 30 / 68])
    assert shares["map_share"].sum() > 1
    assert shares["fixation_share"].tolist() == pytest.approx([1.0, 1 / 4])


def test_undefined_shares_and_ratios_carry_reasons():
    two = regions.from_boxes(BOXES[:2], CATEGORIES[:2], SHAPE)
    zero = regions.region_shares(two, {"zero": np.zeros(SHAPE)}, FIXATIONS, sigma=0.0)
    assert (
        zero["map_share"].isna().all()
        and (zero["reason"] == "map sums to zero: not a density").all()
    )
    assert regions.rank_correlation(zero)["reason"].iloc[0] == regions.FEW_REGIONS
    nobody = regions.region_shares(two, {"m": hand_map()}, np.empty((0, 2)), sigma=1.0)
    assert nobody["ratio"].isna().all()
    assert (nobody["reason"] == "no fixations inside the image").all()
    blank = hand_map()
    blank[0:2, 0:5] = 0.0
    shares = regions.region_shares(two, {"m": blank}, FIXATIONS, sigma=0.0).set_index("region")
    assert shares.loc["person 1", "ratio"] == 0.0 and np.isnan(shares.loc["person 1", "log2_ratio"])
    assert shares.loc["person 1", "reason"] == regions.NO_MODEL_SHARE
    sliver = regions.from_rectangles([[0.1, 0.1, 0.4, 0.4], [0, 0, 5, 2]], SHAPE)
    empty = regions.region_shares(sliver, {"m": hand_map()}, FIXATIONS, 0.0).iloc[0]
    assert empty["pixels"] == 0 and empty["reason"] == regions.EMPTY_REGION
    flat = regions.region_shares(
        regions.from_rectangles([[0, 0, 5, 2], [0, 2, 5, 4]], SHAPE),
        {"flat": np.ones(SHAPE)},
        FIXATIONS,
        0.0,
    )
    assert "all equal" in regions.rank_correlation(flat)["reason"].iloc[0]
    with pytest.raises(ValueError, match="non-negative"):
        regions.region_shares(two, {"neg": -np.ones(SHAPE)}, FIXATIONS, 0.0)


def test_instance_masks_and_mask_components():
    probabilities = np.zeros((2, 1, 4, 4))
    probabilities[0, 0, 0, 0] = 0.9
    probabilities[1, 0, 2:, 2:] = 0.6
    masks = regions.from_instance_masks(probabilities, ["cat", "cat"])
    assert [r.name for r in masks] == ["cat 1", "cat 2"]
    assert [int(r.mask.sum()) for r in masks] == [1, 4]
    image = np.zeros((5, 6), dtype=np.uint8)
    image[0, 0] = 255
    image[1, 1] = 255  # diagonal neighbour: same component (8-connected)
    image[3:5, 3:6] = 255
    image[0, 5] = 255
    components = regions.from_mask_components(image)
    assert [int(r.mask.sum()) for r in components] == [2, 1, 6]
    assert [int(r.mask.sum()) for r in regions.from_mask_components(image, min_pixels=2)] == [2, 6]
    assert components[0].category == "component"


def test_class_ratios_average_per_category_over_images():
    three = regions.from_boxes(BOXES, CATEGORIES, SHAPE)
    first = regions.region_shares(three, {"m": hand_map()}, FIXATIONS, sigma=0.0)
    second = first.copy()
    second["ratio"] = [2.0, 0.5, 1.0]
    second["log2_ratio"] = [1.0, -1.0, 0.0]
    second["reason"] = None
    table = pd.concat([first.assign(image="a"), second.assign(image="b")], ignore_index=True)
    classes = regions.class_ratios(table).set_index("category")
    assert list(regions.class_ratios(table).columns) == regions.CLASS_COLUMNS
    person = classes.loc["person"]
    assert person["mean_ratio"] == pytest.approx((120 / 68 + 2.0 + 1.0) / 3)
    assert (person["n_regions"], person["n_images"], person["n_undefined"]) == (3, 2, 1)
    assert person["mean_log2_ratio"] == pytest.approx((math.log2(120 / 68) + 1.0 + 0.0) / 3)
    assert classes.loc["dog", "mean_ratio"] == pytest.approx((50 / 68 + 0.5) / 2)


def test_sample_004_shares_are_finite_and_in_range():
    points = read_fixations(SAMPLE / "fixations" / "004.csv")
    width, height = Image.open(SAMPLE / "images" / "004.jpg").size
    shape = (height, width)
    rows, cols = np.mgrid[:height, :width]
    saliency = np.exp(-((cols - width / 2) ** 2 + (rows - height / 2) ** 2) / (2 * 40.0**2))
    boxes = np.array([[20.0, 60.0, 130.0, 200.0], [100.0, 100.0, 240.0, 240.0]])
    shares = regions.region_shares(
        regions.from_boxes(boxes, ["a", "b"], shape),
        {"centre": saliency},
        points,
        default_sigma(shape),
        people="density",
    )
    numbers = shares[["map_share", "fixation_share", "density_share", "ratio", "log2_ratio"]]
    assert np.isfinite(numbers.to_numpy(dtype=float)).all()
    assert ((shares[["map_share", "fixation_share", "density_share"]] <= 1).all()).all()
    assert shares["ratio"].tolist() == pytest.approx(
        (shares["map_share"] / shares["density_share"]).tolist()
    )
    assert np.isfinite(regions.rank_correlation(shares, people="density")["spearman"]).all()
