"""Bad inputs and faults of issue 9, each replayed: a clear message or a sane result, no NaN."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core.gaze import predict_type2


def _one_axis_images() -> dict[str, np.ndarray]:
    gradient = np.tile(np.linspace(0, 255, 200).astype(np.uint8)[None, :, None], (150, 1, 3))
    halves = np.zeros((150, 200, 3), np.uint8)
    halves[:, 100:] = 255
    stripes = np.zeros((150, 200, 3), np.uint8)
    stripes[75:] = 255
    return {"horizontal gradient": gradient, "half black/white": halves, "top/bottom": stripes}


@pytest.mark.parametrize("name", list(_one_axis_images()))
def test_spectral_residual_is_finite_for_images_varying_along_one_axis(name):
    rgb = _one_axis_images()[name]
    type2 = predict_type2("Spectral residual", rgb)
    assert np.isfinite(type2.log_density).all()
    assert np.exp(type2.log_density.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)
    assert type2.display.min() == 0.0 and type2.display.max() == 1.0


def test_spectral_residual_of_half_black_white_peaks_at_the_edge():
    type2 = predict_type2("Spectral residual", _one_axis_images()["half black/white"])
    row = type2.display[75]
    # The edge at x = 100 (and, the FFT being periodic, the image border) is salient;
    # the flat middle of each half is not.
    assert row[99] > 0.9 and row[0] > 0.9
    assert row[50] < 0.05 and row[150] < 0.05
    np.testing.assert_allclose(type2.display[:, 99], row[99], atol=1e-4)  # constant along y
