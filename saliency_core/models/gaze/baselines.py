"""Weight-free type-2 baselines that always work offline: centre bias and spectral residual.

Both return a log density (float32, image size, logsumexp 0).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import uniform_filter

from saliency_core.models.gaze.centerbias import gaussian_centre_bias
from saliency_core.models.gaze.maps import normalise_log_density

SR_WIDTH = 64
"""Spectral residual works on the image resized to this width (px), as in Hou & Zhang."""
SR_AVERAGE = 3
"""Side (frequency bins) of the local average subtracted from the log amplitude spectrum."""
SR_SIGMA = 2.5
"""Gaussian smoothing of the saliency map, in pixels of the 64 px wide map (authors' code)."""
SR_AMPLITUDE_FLOOR = 0.01
"""ε = 0.01 · median|F| is added to |F| before the log: exact spectral zeros (e.g. of synthetic
box patterns) would give log 0; natural images are practically unaffected."""
SR_ROUND_OFF = 1e-9
"""Bins with |F| ≤ SR_ROUND_OFF · max|F| are round-off zeros. An image varying along one axis
only (a gradient, half black/half white) has such zeros in most bins, so its median |F| is 0 and
ε would be 0 (log 0 → NaN); ε is then taken from the median of the other bins."""
SR_FLOOR = 1e-6
"""Saliency below this fraction of the maximum is clipped to it, so the log stays finite."""


def centre_bias_baseline(rgb: np.ndarray) -> np.ndarray:
    """Content-free prior: the Gaussian centre bias of ``centerbias.gaussian_centre_bias``."""
    return gaussian_centre_bias(rgb.shape[:2])


def _amplitude_floor(amplitude: np.ndarray) -> float:
    """ε = SR_AMPLITUDE_FLOOR · median|F|, the median taken over the bins above round-off
    (SR_ROUND_OFF · max|F|) when the plain median lies at round-off level; > 0 unless F = 0."""
    round_off = SR_ROUND_OFF * amplitude.max()
    median = float(np.median(amplitude))
    if median <= round_off:
        median = float(np.median(amplitude[amplitude > round_off]))
    return SR_AMPLITUDE_FLOOR * median


def spectral_residual_saliency(gray: np.ndarray, sigma: float = SR_SIGMA) -> np.ndarray:
    """Spectral residual saliency (Hou & Zhang, CVPR 2007) of a small grey image.

    With F = FFT(I), log amplitude A(f) = log(|F(f)| + ε), phase P(f) = arg F(f) and h the 3×3
    mean filter (replicated borders, as in the authors' reference code):

        R(f) = A(f) − (h ∗ A)(f),    S(x) = g_σ ∗ |IFFT(exp(R(f) + i·P(f)))|²,

    g_σ a Gaussian of ``sigma`` px, ε from ``_amplitude_floor`` (0.01 · median|F|, round-off zeros
    left out of the median when they are the majority). Returns S ≥ 0, same shape as ``gray``;
    ``gray`` must not be constant (F = 0 outside the DC bin is handled; F = 0 everywhere is not).
    """
    spectrum = np.fft.fft2(gray.astype(np.float64))
    amplitude = np.abs(spectrum)
    log_amplitude = np.log(amplitude + _amplitude_floor(amplitude))
    residual = log_amplitude - uniform_filter(log_amplitude, size=SR_AVERAGE, mode="nearest")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    return cv2.GaussianBlur(saliency, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def spectral_residual(rgb: np.ndarray, width: int = SR_WIDTH) -> np.ndarray:
    """Spectral residual log density of an RGB uint8 image (H, W, 3).

    The grey image (luma, 0..1) is resized to ``width`` px wide (aspect kept), S is computed
    there, resized back to H×W (bilinear), clipped below at SR_FLOOR·max S and normalised:
    log p = log S − logsumexp(log S). A constant image has no residual: uniform density.
    """
    height, full_width = rgb.shape[:2]
    small_size = (width, max(1, round(height * width / full_width)))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    small = cv2.resize(gray, small_size, interpolation=cv2.INTER_AREA)
    if np.ptp(small) == 0:
        return normalise_log_density(np.zeros((height, full_width)))
    saliency = spectral_residual_saliency(small)
    saliency = cv2.resize(saliency, (full_width, height), interpolation=cv2.INTER_LINEAR)
    return normalise_log_density(np.log(np.maximum(saliency, SR_FLOOR * saliency.max())))
