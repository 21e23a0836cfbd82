"""Selective erasing and inpainting: rule, erase mask, fills, OpenCV and Deep Image Prior."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy import ndimage

from saliency_core.augment import (
    COMPARATORS,
    DEFAULT_PRESET,
    FILLS,
    METHODS,
    PRESETS,
    EraseRule,
    EraseSettings,
    augment_sample,
    decide,
    dilate_mask,
    erase,
    erase_mask,
    inpaint,
)
from saliency_core.augment.dip import padded_side

RAMP = np.arange(100, dtype=np.float64).reshape(10, 10) / 99.0
"""A CAM with 100 distinct values 0, 1/99, ..., 1: its top 10% are the last row."""


@dataclass
class _Value:
    value: float
    reason: str | None = None


def _evaluate(name: str, saliency: np.ndarray, *, reference: np.ndarray, percent: float):
    """The protocol's MAE and IoU@top-p% (stand-in for saliency_core.scoring.metrics.compute)."""
    if name == "MAE":
        return _Value(float(np.abs(saliency - reference).mean()))
    if saliency.min() == saliency.max() or reference.min() == reference.max():
        return _Value(math.nan, "constant map")
    a = saliency >= np.percentile(saliency, 100 - percent)
    b = reference >= np.percentile(reference, 100 - percent)
    return _Value(float((a & b).sum() / (a | b).sum()))


def _with_top10_at(positions: list[int]) -> np.ndarray:
    """A 10×10 map in [0, 1] whose top 10% are exactly the 10 flat ``positions``."""
    out = np.empty(100)
    others = np.setdiff1d(np.arange(100), positions)
    out[others] = np.linspace(0.0, 0.5, others.size)
    out[positions] = np.linspace(0.9, 1.0, len(positions))
    return out.reshape(10, 10)


# --- rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "below", "at", "above"),
    [("<=", True, True, False), ("<", True, False, False), (">=", False, True, True),
     (">", False, False, True)],
)  # fmt: skip
def test_comparators_at_and_around_the_threshold(op, below, at, above):
    compare = COMPARATORS[op]
    assert (compare(0.0999, 0.1), compare(0.1, 0.1), compare(0.1001, 0.1)) == (below, at, above)


@pytest.mark.parametrize("op", ["<=", "<", ">=", ">"])
def test_decide_uses_the_rules_comparator(op):
    rule = EraseRule(metric="MAE", comparator=op, threshold=0.05)
    decision = decide(rule, RAMP, RAMP * 0.9, evaluate=_evaluate)  # MAE = 0.1 · mean = 0.05
    assert decision.value == pytest.approx(0.05)
    assert decision.erase is COMPARATORS[op](decision.value, 0.05)


def test_default_preset_is_the_study_code_rule():
    rule = PRESETS[DEFAULT_PRESET].rule
    assert DEFAULT_PRESET == "Study (code): IoU@top-10% ≤ 0.1"
    assert (rule.metric, rule.comparator, rule.threshold, rule.percent, rule.reference) == (
        "IoU@top-p%",
        "<=",
        0.1,
        10.0,
        "deepgaze",
    )
    assert rule.describe() == "IoU@top-10% ≤ 0.1"
    blog = PRESETS["Study (blog text): MAE < 0.1"]
    assert blog.rule.describe() == "MAE < 0.1"
    assert "HIGH agreement" in blog.explanation and "opposite" in blog.explanation
    assert "LOW agreement" in PRESETS[DEFAULT_PRESET].explanation


@pytest.mark.parametrize(
    ("reference_top", "iou", "erase"),
    [
        (list(range(90, 100)), 1.0, False),  # same top 10%
        (list(range(85, 95)), 5 / 15, False),  # 5 shared of 15
        ([99, *range(0, 9)], 1 / 19, True),  # 1 shared of 19
        (list(range(0, 10)), 0.0, True),  # disjoint
    ],
)
def test_study_code_preset_on_hand_made_maps(reference_top, iou, erase):
    reference = _with_top10_at(reference_top)
    decision = decide(PRESETS[DEFAULT_PRESET].rule, RAMP, reference, evaluate=_evaluate)
    assert decision.value == pytest.approx(iou)
    assert decision.erase is erase
    assert decision.reason is None
    assert decision.text.endswith("erase." if erase else "keep.")


def test_the_two_presets_disagree_on_the_same_maps():
    inverted = 1.0 - RAMP  # top 10% = first row: IoU 0; MAE = Σ|2k − 99| / (99 · 100) = 50/99
    close = RAMP * 0.9  # same order: IoU 1; MAE = 0.1 · mean(RAMP) = 0.05
    code = PRESETS[DEFAULT_PRESET].rule
    blog = PRESETS["Study (blog text): MAE < 0.1"].rule
    assert decide(code, RAMP, inverted, evaluate=_evaluate).erase
    assert decide(blog, RAMP, inverted, evaluate=_evaluate).value == pytest.approx(50 / 99)
    assert not decide(blog, RAMP, inverted, evaluate=_evaluate).erase
    assert not decide(code, RAMP, close, evaluate=_evaluate).erase
    assert decide(blog, RAMP, close, evaluate=_evaluate).value == pytest.approx(0.05)
    assert decide(blog, RAMP, close, evaluate=_evaluate).erase


def test_nan_metric_never_erases_and_keeps_the_reason():
    for op in COMPARATORS:
        rule = EraseRule(comparator=op, threshold=0.5)
        decision = decide(rule, RAMP, np.full((10, 10), 0.3), evaluate=_evaluate)
        assert math.isnan(decision.value)
        assert decision.erase is False
        assert decision.reason == "constant map"
        assert "constant map" in decision.text


def test_rule_rejects_unknown_names():
    with pytest.raises(ValueError, match="comparator"):
        EraseRule(comparator="==")
    with pytest.raises(ValueError, match="metric"):
        EraseRule(metric="NSS")
    with pytest.raises(ValueError, match="reference"):
        EraseRule(reference="eyes")


def test_decide_uses_saliency_core_metrics_by_default():
    decision = decide(PRESETS[DEFAULT_PRESET].rule, RAMP, _with_top10_at([99, *range(9)]))
    assert decision.value == pytest.approx(1 / 19)
    assert decision.erase


# --- erase mask -----------------------------------------------------------------------------


def test_erase_mask_is_exactly_the_top_percent():
    cam = np.arange(100, dtype=np.float64).reshape(10, 10)
    mask = erase_mask(cam, top_percent=2.5)  # 97.5th percentile = 96.525
    assert np.flatnonzero(mask).tolist() == [97, 98, 99]
    np.testing.assert_array_equal(mask, cam >= np.percentile(cam, 97.5))
    assert np.flatnonzero(erase_mask(cam, top_percent=5.0)).tolist() == [95, 96, 97, 98, 99]


def test_erase_mask_includes_ties():
    cam = np.linspace(0.0, 0.5, 100).reshape(10, 10)
    cam.flat[[3, 40, 77, 81, 99]] = 1.0  # five tied maxima: more than the top 2.5%
    assert np.flatnonzero(erase_mask(cam, top_percent=2.5)).tolist() == [3, 40, 77, 81, 99]


def test_erase_mask_refuses_to_erase_everything():
    with pytest.raises(ValueError, match="constant"):
        erase_mask(np.full((8, 8), 0.4))
    mostly_zero = np.zeros((10, 10))
    mostly_zero.flat[[5, 50]] = [0.5, 1.0]  # 98% at the minimum: percentile(97.5) = 0
    with pytest.raises(ValueError, match="lowest value"):
        erase_mask(mostly_zero, top_percent=2.5)
    assert erase_mask(mostly_zero, top_percent=2.0).sum() == 2  # percentile(98) = 0.01


@pytest.mark.parametrize(("kernel", "radius", "count"), [
    ("disk", 1, 5), ("disk", 2, 13), ("disk", 3, 29), ("square", 1, 9), ("square", 2, 25),
])  # fmt: skip
def test_dilation_of_a_single_pixel(kernel, radius, count):
    cam = np.zeros((11, 11))
    cam[5, 5] = 1.0
    mask = erase_mask(cam, top_percent=0.5, dilate_px=radius, kernel=kernel)
    assert mask.sum() == count
    assert mask[5, 5 + radius] and mask[5 - radius, 5] and not mask[5, 5 + radius + 1]


def test_disk_dilation_is_euclidean_distance():
    mask = np.random.default_rng(3).random((40, 40)) > 0.97
    for radius in (1, 2, 4):
        expected = ndimage.distance_transform_edt(~mask) <= radius
        np.testing.assert_array_equal(dilate_mask(mask, radius, "disk"), expected)
        chebyshev = ndimage.distance_transform_cdt(~mask, metric="chessboard") <= radius
        np.testing.assert_array_equal(dilate_mask(mask, radius, "square"), chebyshev)


# --- fills ----------------------------------------------------------------------------------


def _image(height: int = 12, width: int = 10) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _mask(height: int = 12, width: int = 10) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[2:5, 3:7] = True
    mask[9, 0] = True
    return mask


@pytest.mark.parametrize(
    ("fill", "kwargs", "expected"),
    [
        ("black", {}, (0, 0, 0)),
        ("dataset mean", {}, (124, 116, 104)),  # ImageNet mean × 255, rounded
        ("dataset mean", {"mean_color": (10.4, 20.6, 255.0)}, (10, 21, 255)),
    ],
)
def test_constant_fills_and_only_masked_pixels_change(fill, kwargs, expected):
    image, mask = _image(), _mask()
    out = erase(image, mask, fill, **kwargs)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert (out[mask] == expected).all()
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert image is not out and not np.array_equal(out, image)


def test_gaussian_noise_fill_is_seeded_and_clipped():
    image, mask = _image(), _mask()
    out = erase(image, mask, "gaussian noise", rng=np.random.default_rng(5))
    normal = np.random.default_rng(5).standard_normal((mask.sum(), 3))
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    np.testing.assert_array_equal(out[mask], np.clip(np.rint(mean + std * normal), 0, 255))
    np.testing.assert_array_equal(out[~mask], image[~mask])
    np.testing.assert_array_equal(
        erase(image, mask, "gaussian noise"), erase(image, mask, "gaussian noise")
    )
    assert set(FILLS) == {"black", "dataset mean", "gaussian noise"}


# --- OpenCV inpainting ----------------------------------------------------------------------


def _gradient(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return np.stack([40 + 2 * x, 40 + 2 * y, 50 + x + y], axis=-1).astype(np.uint8)


def _hole(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[28:34, 30:36] = True
    return mask


@pytest.mark.parametrize("method", ["Telea", "Navier-Stokes"])
def test_opencv_methods_fill_a_hole_in_a_gradient(method):
    truth, mask = _gradient(), _hole()
    erased = erase(truth, mask)
    result = inpaint(erased, mask, method, radius=3)
    np.testing.assert_array_equal(result.image[~mask], erased[~mask])
    error = np.abs(result.image.astype(int) - truth)[mask]
    assert error.max() <= 6  # the black hole was off by up to 169
    assert (result.stopped_early, result.iterations_run, result.history) == (False, 1, ())


def test_inpaint_validates_its_inputs():
    image, mask = _gradient(16), _hole(16)
    with pytest.raises(ValueError, match="no parameter"):
        inpaint(image, mask, "Telea", iterations=3)
    with pytest.raises(ValueError, match="Unknown inpainting method"):
        inpaint(image, mask, "Photoshop")
    with pytest.raises(ValueError, match="whole image"):
        inpaint(image, np.ones((16, 16), dtype=bool), "Telea")
    empty = inpaint(image, np.zeros((16, 16), dtype=bool), "Deep Image Prior")
    np.testing.assert_array_equal(empty.image, image)
    assert METHODS["Telea"].defaults == {"radius": 3.0}
    assert set(METHODS["Deep Image Prior"].defaults) == {
        "iterations", "max_side", "learning_rate", "seed", "reg_noise_std", "progress_every"
    }  # fmt: skip


# --- Deep Image Prior -----------------------------------------------------------------------


def test_dip_fits_known_pixels_reports_progress_and_keeps_them_exact():
    truth, mask = _gradient(), _hole()
    erased = erase(truth, mask)
    calls: list[tuple[int, int, float, np.ndarray]] = []
    result = inpaint(
        erased,
        mask,
        "Deep Image Prior",
        iterations=30,
        progress_every=10,
        progress=lambda *args: calls.append(args),
    )
    assert result.iterations_run == 30 and not result.stopped_early
    assert len(result.history) == 30
    assert np.mean(result.history[-5:]) < 0.5 * np.mean(result.history[:5])
    assert [(i, n) for i, n, _, _ in calls] == [(i, 30) for i in range(1, 31)], "every iteration"
    with_preview = [(i, loss) for i, _, loss, preview in calls if preview is not None]
    assert with_preview == [
        (i, pytest.approx(result.history[i - 1])) for i in (1, 10, 20, 30)
    ], "a preview after the first iteration, then every 10th"
    assert calls[14][2] == pytest.approx(result.history[9]), "the latest computed loss between"
    preview = calls[-1][3]
    assert preview.dtype == np.uint8 and preview.shape == (64, 64, 3)
    np.testing.assert_array_equal(preview[~mask], erased[~mask])
    np.testing.assert_array_equal(result.image[~mask], erased[~mask])
    assert result.image.dtype == np.uint8 and result.image.shape == (64, 64, 3)


def test_dip_cancel_from_progress_stops_early():
    truth, mask = _gradient(), _hole()
    stop = threading.Event()

    def progress(iteration, total, loss, preview):
        if iteration >= 10:
            stop.set()

    result = inpaint(
        erase(truth, mask),
        mask,
        "Deep Image Prior",
        iterations=30,
        progress_every=5,
        progress=progress,
        cancel=stop,
    )
    assert result.stopped_early is True
    assert result.iterations_run == 10 < 30
    assert len(result.history) == 10


def test_dip_odd_sizes_are_padded_and_cropped_back_and_seeded():
    image = _image(37, 50)
    mask = np.zeros((37, 50), dtype=bool)
    mask[10:14, 20:26] = True
    first = inpaint(image, mask, "Deep Image Prior", iterations=3, seed=4)
    again = inpaint(image, mask, "Deep Image Prior", iterations=3, seed=4)
    assert first.image.shape == (37, 50, 3)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.image[~mask], image[~mask])
    assert (padded_side(37), padded_side(50), padded_side(64), padded_side(65)) == (64, 64, 64, 96)


def test_dip_runs_concurrently_without_touching_the_global_rng():
    image, mask = _gradient(), _hole()
    state = torch.random.get_rng_state()
    results: dict[int, np.ndarray] = {}

    def run(slot: int) -> None:
        results[slot] = inpaint(image, mask, "Deep Image Prior", iterations=3, seed=1).image

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_array_equal(results[0], results[1])
    assert torch.equal(torch.random.get_rng_state(), state)


# --- whole sample: boxes ride along ---------------------------------------------------------


def test_augment_sample_erases_inpaints_and_passes_boxes_through():
    truth = _gradient()
    boxes = np.array([[3, 4, 20, 30], [10, 12, 60, 63]], dtype=np.int32)
    before = boxes.copy()
    cam = np.random.default_rng(2).random((64, 64))
    reference = 1.0 - cam  # disjoint top 10%: IoU 0 → erase under the study's rule
    sample = augment_sample(
        truth, cam, reference, boxes,
        erasing=EraseSettings(top_percent=2.5, fill="black"),
        inpaint_method="Telea", evaluate=_evaluate,
    )  # fmt: skip
    assert sample.decision.erase and sample.decision.value == 0.0
    np.testing.assert_array_equal(sample.mask, erase_mask(cam, 2.5))
    assert sample.boxes is boxes
    np.testing.assert_array_equal(sample.boxes, before)
    assert sample.boxes.dtype == np.int32
    np.testing.assert_array_equal(sample.image[~sample.mask], truth[~sample.mask])
    assert sample.inpainting is not None and sample.inpainting.iterations_run == 1
    assert np.abs(sample.image.astype(int) - truth)[sample.mask].max() <= 20


def test_augment_sample_keeps_the_image_when_the_rule_says_so():
    image = _gradient(16)
    cam = np.random.default_rng(2).random((16, 16))
    boxes = [(1.5, 2.0, 9.0, 10.0)]
    sample = augment_sample(image, cam, cam, boxes, evaluate=_evaluate)  # IoU 1 → keep
    assert not sample.decision.erase
    assert sample.image is image and not sample.mask.any()
    assert sample.boxes is boxes and boxes == [(1.5, 2.0, 9.0, 10.0)]
    assert sample.inpainting is None


def test_augment_sample_previews_erasing_a_kept_image():
    """The Augment page's preview: a kept image is erased all the same (the decision still
    says keep), and the erased image before inpainting comes back next to the inpainted one."""
    image = _gradient(16)
    cam = np.random.default_rng(2).random((16, 16))
    erasing = EraseSettings(top_percent=10.0, fill="black")
    sample = augment_sample(
        image, cam, cam, rule=PRESETS[DEFAULT_PRESET].rule, erasing=erasing,
        inpaint_method="Telea", evaluate=_evaluate, erase_kept=True,
    )  # fmt: skip
    assert not sample.decision.erase and sample.decision.value == 1.0
    mask = erase_mask(cam, 10.0)
    np.testing.assert_array_equal(sample.mask, mask)
    assert sample.mask.sum() == 26  # the top 10% of 256 pixels, ties excluded
    assert (sample.erased[mask] == 0).all()
    np.testing.assert_array_equal(sample.erased[~mask], image[~mask])
    np.testing.assert_array_equal(sample.image[~mask], image[~mask])
    assert sample.inpainting is not None and sample.image is sample.inpainting.image


def test_augment_sample_without_a_reference_erases_without_a_decision():
    image = _gradient(16)
    cam = np.random.default_rng(2).random((16, 16))
    sample = augment_sample(image, cam, None, erasing=EraseSettings(top_percent=2.5))
    assert sample.decision is None and sample.inpainting is None
    np.testing.assert_array_equal(sample.mask, erase_mask(cam, 2.5))
    assert sample.image is sample.erased and (sample.erased[sample.mask] == 0).all()
    with pytest.raises(ValueError, match=r"The CAM \(8, 16\) and reference None must match"):
        augment_sample(image, cam[:8], None)
