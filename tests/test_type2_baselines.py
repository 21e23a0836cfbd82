"""Centre-bias priors, spectral residual and the type-2 registry (``predict_type2``)."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from saliency_core.models.gaze import TYPE2_MODELS, Type2Map, centerbias, predict_type2
from saliency_core.models.gaze.baselines import spectral_residual
from saliency_core.models.gaze.centerbias import (
    TEMPLATE_NAME,
    centre_bias,
    gaussian_centre_bias,
)

HEIGHT, WIDTH = 64, 96


@pytest.fixture
def offline_without_template(tmp_path, monkeypatch):
    """No template in assets/ or the hub folder, and no network."""

    def offline(*_args, **_kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(centerbias, "ASSETS_DIR", tmp_path / "assets")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path


def total_probability(log_density: np.ndarray) -> float:
    return float(np.exp(logsumexp(log_density.astype(np.float64))))


def test_gaussian_centre_bias_peaks_at_the_centre_and_sums_to_one():
    log_density = gaussian_centre_bias((HEIGHT, WIDTH))
    assert log_density.shape == (HEIGHT, WIDTH) and log_density.dtype == np.float32
    assert total_probability(log_density) == pytest.approx(1.0, abs=1e-5)
    row, col = np.unravel_index(log_density.argmax(), log_density.shape)
    assert row in (31, 32) and col in (47, 48)
    np.testing.assert_allclose(log_density, log_density[::-1, ::-1], atol=1e-6)
    # log p = −(u² + v²) / (2σ²), σ = 0.25, u = (x + 0.5) / W − 0.5: about 1/2 nat per σ².
    drop = ((72.5 / WIDTH - 0.5) ** 2 - (48.5 / WIDTH - 0.5) ** 2) / (2 * 0.25**2)
    assert log_density[32, 48] - log_density[32, 72] == pytest.approx(drop, rel=1e-4)


def test_template_is_zoomed_nearest_and_renormalised(tmp_path):
    blocks = np.arange(64, dtype=np.float64).reshape(8, 8) % 7 - 20.0
    template = np.kron(blocks, np.ones((128, 128)))  # 1024×1024, constant 128 px blocks
    path = tmp_path / TEMPLATE_NAME
    np.save(path, template)
    bias = centre_bias((HEIGHT, WIDTH), template=path)
    assert bias.from_template and TEMPLATE_NAME in bias.label
    expected = np.kron(blocks, np.ones((HEIGHT // 8, WIDTH // 8)))
    expected -= logsumexp(expected)
    np.testing.assert_allclose(bias.log_density, expected, atol=1e-5)
    assert total_probability(bias.log_density) == pytest.approx(1.0, abs=1e-5)


def test_template_found_in_the_hub_folder(offline_without_template):
    hub = offline_without_template / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    template = np.zeros((1024, 1024))
    template[:512] = 3.0  # the upper half is e³ times likelier
    np.save(hub / TEMPLATE_NAME, template)
    bias = centre_bias((HEIGHT, WIDTH))
    assert bias.from_template
    upper = total_probability(bias.log_density[: HEIGHT // 2])
    assert upper == pytest.approx(np.exp(3) / (np.exp(3) + 1), abs=1e-4)


def test_template_is_downloaded_into_the_hub_folder_when_asked(tmp_path, monkeypatch):
    calls = []

    def download(url, destination, progress):
        calls.append(url)
        with open(destination, "wb") as file:
            np.save(file, np.zeros((1024, 1024)))

    monkeypatch.setattr(centerbias, "ASSETS_DIR", tmp_path / "assets")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    assert not centre_bias((HEIGHT, WIDTH)).from_template  # no download unless asked
    bias = centre_bias((HEIGHT, WIDTH), download=True, progress=False)
    assert bias.from_template and calls == [centerbias.TEMPLATE_URL]
    assert (tmp_path / "hub" / "checkpoints" / TEMPLATE_NAME).is_file()
    np.testing.assert_allclose(bias.log_density, -np.log(HEIGHT * WIDTH), rtol=1e-6)


def test_missing_template_falls_back_to_a_labelled_gaussian(offline_without_template):
    bias = centre_bias((HEIGHT, WIDTH), download=True)
    assert not bias.from_template and "Gaussian" in bias.label
    np.testing.assert_array_equal(bias.log_density, gaussian_centre_bias((HEIGHT, WIDTH)))
    with pytest.raises(FileNotFoundError):
        centre_bias((HEIGHT, WIDTH), template=offline_without_template / "absent.npy")


def grating(height: int, width: int, vertical: bool) -> np.ndarray:
    """Sinusoidal grating, period 6 px, as uint8 grey values around 127."""
    y, x = np.mgrid[:height, :width]
    phase = 2 * np.pi * (x if vertical else y) / 6
    return np.round(127 + 100 * np.sin(phase)).astype(np.uint8)


def test_spectral_residual_finds_an_odd_patch_in_a_periodic_background():
    gray = grating(HEIGHT, WIDTH, vertical=True)
    gray[20:26, 60:66] = grating(HEIGHT, WIDTH, vertical=False)[20:26, 60:66]
    log_density = spectral_residual(np.repeat(gray[..., None], 3, axis=2))
    assert log_density.shape == (HEIGHT, WIDTH)
    assert total_probability(log_density) == pytest.approx(1.0, abs=1e-5)
    row, col = np.unravel_index(log_density.argmax(), log_density.shape)
    assert 17 <= row <= 28 and 57 <= col <= 68
    assert log_density[20:26, 60:66].mean() > np.percentile(log_density, 95)


def test_spectral_residual_finds_a_patch_on_a_uniform_background():
    rgb = np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)
    rgb[40:46, 20:26] = 200
    log_density = spectral_residual(rgb)
    row, col = np.unravel_index(log_density.argmax(), log_density.shape)
    assert 37 <= row <= 48 and 17 <= col <= 28
    assert log_density[40:46, 20:26].mean() > np.percentile(log_density, 99)


@pytest.fixture
def natural_ish_image() -> np.ndarray:
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 60, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    rgb[10:30, 15:40] = (220, 40, 40)
    return rgb


def check_map(result: Type2Map, shape: tuple[int, int]) -> None:
    assert result.log_density.shape == shape and result.log_density.dtype == np.float32
    assert result.display.shape == shape and result.display.dtype == np.float32
    assert np.isfinite(result.log_density).all() and np.isfinite(result.display).all()
    assert total_probability(result.log_density) == pytest.approx(1.0, abs=1e-4)
    assert result.display.min() >= 0.0 and result.display.max() <= 1.0
    assert result.label and isinstance(result.notes, list)


@pytest.mark.parametrize("name", sorted(TYPE2_MODELS))
def test_every_registered_model_returns_a_normalised_map(
    name, natural_ish_image, offline_without_template
):
    result = predict_type2(name, natural_ish_image, device="cpu")
    check_map(result, (HEIGHT, WIDTH))
    assert result.display.max() == 1.0 and result.display.min() == 0.0
    display = np.exp(result.log_density.astype(np.float64))
    display = (display - display.min()) / (display.max() - display.min())
    np.testing.assert_allclose(result.display, display, atol=1e-5)


@pytest.mark.parametrize("name", sorted(TYPE2_MODELS))
@pytest.mark.parametrize("value", [0, 255])
def test_constant_images_give_finite_maps(name, value, offline_without_template):
    rgb = np.full((HEIGHT, WIDTH, 3), value, dtype=np.uint8)
    check_map(predict_type2(name, rgb, device="cpu"), (HEIGHT, WIDTH))


def test_registry_says_which_models_need_weights():
    assert {"DeepGaze IIE", "Centre bias (Gaussian)", "Spectral residual"} <= set(TYPE2_MODELS)
    assert TYPE2_MODELS["DeepGaze IIE"].needs_weights
    assert not TYPE2_MODELS["Centre bias (Gaussian)"].needs_weights
    assert not TYPE2_MODELS["Spectral residual"].needs_weights


def test_deepgaze_labels_notes_and_study_input_range(natural_ish_image, offline_without_template):
    normal = predict_type2("DeepGaze IIE", natural_ish_image, source="untrained", device="cpu")
    assert normal.label == "DeepGaze IIE (UNTRAINED)" and normal.trained is False
    weight_free = predict_type2("Spectral residual", natural_ish_image)
    assert weight_free.trained is True  # "trained" is a field, never read out of a label
    assert any("Gaussian" in note and "not found" in note for note in normal.notes)
    study = predict_type2("DeepGaze IIE", natural_ish_image, study_input_range=True, device="cpu")
    assert any("0..1" in note for note in study.notes)
    assert not any("0..1" in note for note in normal.notes)
    assert np.abs(study.log_density - normal.log_density).max() > 1e-3
    # Near-black input: the map moves towards the centre bias.
    prior = gaussian_centre_bias((HEIGHT, WIDTH))
    assert np.abs(study.log_density - prior).mean() < np.abs(normal.log_density - prior).mean()


def test_large_images_are_downscaled_for_inference_and_resized_back(offline_without_template):
    rgb = np.zeros((130, 200, 3), dtype=np.uint8)
    rgb[20:60, 120:180] = 255
    result = predict_type2("DeepGaze IIE", rgb, max_side=100, device="cpu")
    check_map(result, (130, 200))
    assert any("downscaled to 100×65 px" in note for note in result.notes)


def test_invalid_requests_are_rejected(natural_ish_image):
    with pytest.raises(ValueError, match="Unknown type-2 model"):
        predict_type2("DeepGaze III", natural_ish_image)
    with pytest.raises(ValueError, match="uint8"):
        predict_type2("Spectral residual", natural_ish_image.astype(np.float32))
    with pytest.raises(ValueError):
        predict_type2("DeepGaze IIE", natural_ish_image, source="imagenet")
