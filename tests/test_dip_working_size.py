"""Deep Image Prior at a working size: resize, fit, composite back inside the mask only; the
device's default working size and iteration count."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from torch import nn

from saliency_core.augment import dip, inpaint
from saliency_core.augment.dip import default_iterations
from saliency_core.augment.working_size import (
    composite_back,
    default_max_side,
    downscale,
    working_shape,
)


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    monkeypatch.setenv("SALIENCY_DEVICE", "cpu")


def _image(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_working_shape_bounds_the_longer_side_and_never_enlarges():
    assert working_shape((700, 1000), 512) == (358, 512)  # 700 × 0.512 = 358.4
    assert working_shape((1000, 700), 512) == (512, 358)
    assert working_shape((768, 1024), 512) == (384, 512)
    assert working_shape((300, 200), 512) == (300, 200)
    assert working_shape((10000, 3), 512) == (512, 1)  # 3 × 0.0512 rounds to 0: kept at 1 px
    with pytest.raises(ValueError, match="≥ 1 px"):
        working_shape((10, 10), 0)
    assert (default_max_side("cpu"), default_max_side("cuda"), default_max_side("mps")) == (
        512,
        2048,
        512,
    )


def test_downscaled_mask_covers_every_working_pixel_the_hole_touches():
    image = np.full((8, 8, 3), 200, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[5, 2] = True  # one pixel: a quarter of working pixel (2, 1)
    small_image, small_mask = downscale(image, mask, (4, 4))
    assert small_image.shape == (4, 4, 3) and small_image.dtype == np.uint8
    assert np.argwhere(small_mask).tolist() == [[2, 1]]
    same_image, same_mask = downscale(image, mask, (8, 8))
    assert same_image is image and same_mask is mask


def test_composite_back_changes_only_the_masked_pixels():
    image = _image(70, 100)
    mask = np.zeros((70, 100), bool)
    mask[20:40, 30:55] = True
    filled = np.full((35, 50, 3), 7, np.uint8)
    out = composite_back(filled, image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert (out[mask] == 7).all(), "a constant fill stays constant after bicubic resizing"


def test_dip_on_a_1000x700_image_fits_at_512_and_keeps_outside_pixels(monkeypatch):
    """The network sees the 512×358 working image (padded to 512×384), not 1000×700."""
    seen: list[tuple[int, ...]] = []
    seeded = dip.seeded_network

    def recording(seed: int) -> tuple[nn.Module, object]:
        net, generator = seeded(seed)
        net.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
        return net, generator

    monkeypatch.setattr(dip, "seeded_network", recording)
    image = _image(700, 1000)
    mask = np.zeros((700, 1000), bool)
    mask[300:380, 400:520] = True
    result = inpaint(image, mask, "Deep Image Prior", iterations=2)
    assert seen == [(1, 32, 384, 512)] * 3, "two iterations and the final read-out"
    assert result.working_shape == (358, 512)
    assert result.image.shape == (700, 1000, 3) and result.image.dtype == np.uint8
    np.testing.assert_array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask]), "the hole is filled"
    full = inpaint(image[:64, :64], mask[:64, :64] | _square(64), "Deep Image Prior", iterations=1)
    assert full.working_shape == (64, 64), "a small image is fitted at its own size"


def _square(size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[20:30, 20:30] = True
    return mask


def test_default_iterations_fit_a_minute_on_a_cpu_and_the_papers_count_on_cuda():
    # 60 s / (0.02 s + 2.3 s per padded megapixel × megapixels), to a multiple of 10, in
    # [20, 3000]
    assert default_iterations("cpu", (512, 512)) == 100  # 60 / (0.02 + 2.3 × 0.262) = 96.3
    assert default_iterations("cpu", (384, 512)) == 130  # 60 / (0.02 + 2.3 × 0.197) = 127.1
    assert default_iterations("cpu", (358, 512)) == 130  # padded to 384 × 512
    assert default_iterations("cpu", (256, 256)) == 350  # 60 / (0.02 + 2.3 × 0.0655) = 351.4
    # issue 20 §6: 128 px ran 1,590 iterations (the fixed cost per iteration left out)
    assert default_iterations("cpu", (128, 128)) == 1040  # 60 / (0.02 + 2.3 × 0.0164) = 1040.2
    assert default_iterations("cpu", (96, 128)) == 1240  # 60 / (0.02 + 2.3 × 0.0123) = 1243.4
    assert default_iterations("cpu", (1536, 2048)) == 20  # 8.3 → 10, raised to the minimum
    assert default_iterations("cpu", (24, 32)) == 2040  # padded 64²: 60 / 0.0294 = 2039.6
    assert default_iterations("cuda", (2048, 2048)) == 3000
    assert default_iterations("cuda", (64, 64)) == 3000


def test_dip_without_an_iteration_count_uses_the_devices_default():
    image, mask = _image(48, 64), np.zeros((48, 64), bool)
    mask[10:20, 20:30] = True
    stop = threading.Event()
    totals: list[int] = []

    def progress(iteration, total, loss, preview):
        totals.append(total)
        stop.set()

    result = inpaint(image, mask, "Deep Image Prior", max_side=32, progress=progress, cancel=stop)
    assert result.working_shape == (24, 32)
    assert totals == [default_iterations("cpu", (24, 32))] == [2040]
    assert result.stopped_early and result.iterations_run == 1


def test_a_mask_that_covers_every_working_pixel_is_refused():
    image = _image(64, 64)
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2).astype(bool)
    with pytest.raises(ValueError, match="working size 16×16 the mask covers every pixel"):
        inpaint(image, checkerboard, "Deep Image Prior", iterations=1, max_side=16)
