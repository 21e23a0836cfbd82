"""DeepGaze IIE: checkpoint layout, numerics of one readout component, weight sources."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import urllib.error
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from saliency_core.models import cache as model_cache
from saliency_core.models.gaze import (
    TYPE2_MODELS,
    centerbias,
    deepgaze,
    inference,
    load_type2,
    predict_type2,
    predict_type2s,
)
from saliency_core.models.gaze.centerbias import gaussian_centre_bias
from saliency_core.models.gaze.deepgaze import (
    CHECKPOINT_NAME,
    DeepGazeBranch,
    DeepGazeIIE,
    build_deepgaze,
    build_official_deepgaze,
    official_package_available,
)
from saliency_core.models.weights import MissingWeightsError, WeightSource

DATA = Path(__file__).parent / "data"
HEIGHT, WIDTH = 64, 96


@pytest.fixture(scope="module")
def model() -> DeepGazeIIE:
    return build_deepgaze(WeightSource.UNTRAINED)


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(2, 3, HEIGHT, WIDTH, generator=generator) * 255
    bias = torch.tensor(gaussian_centre_bias((HEIGHT, WIDTH)))
    return image, torch.stack([bias, bias])


def predict(model: nn.Module, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(image, centerbias)


def test_untrained_output_is_normalised_log_density(model, inputs):
    image, bias = inputs
    out = predict(model, image, bias)
    assert out.shape == (2, 1, HEIGHT, WIDTH)
    assert not model.training
    assert not any(parameter.requires_grad for parameter in model.parameters())
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.logsumexp(dim=(2, 3)), torch.zeros(2, 1), atol=1e-5, rtol=0)
    assert out[0].std() > 1e-3, "the image content must shape the map"
    # Batched samples are computed independently (per-sample norms, no cross-talk): another first
    # image leaves the second's map unchanged. (Same batch size both times: oneDNN may pick
    # another convolution algorithm for another batch size, whose rounding differs by ~1e-2.)
    other = torch.stack([255 - image[0], image[1]])
    again = predict(model, other, bias)
    assert not torch.allclose(again[0], out[0], atol=1e-3)
    torch.testing.assert_close(again[1], out[1], atol=1e-5, rtol=1e-5)


def test_state_dict_matches_the_official_checkpoint_layout(model):
    spec = json.loads((DATA / "state_dict_spec.json").read_text())
    ours = [
        [key, list(value.shape), str(value.dtype).removeprefix("torch.")]
        for key, value in model.state_dict().items()
    ]
    assert len(ours) == len(spec) == 5461
    assert [row[0] for row in ours] == [row[0] for row in spec]
    assert ours == spec


def test_readout_component_reproduces_reference():
    reference = torch.load(DATA / "readout_finalizer_reference.pt", weights_only=True)
    branch = DeepGazeBranch(channels=2048, components=1)
    branch.load_state_dict(reference["state_dict"], strict=True)
    with torch.inference_mode():
        out = branch.readout(reference["features"], reference["centerbias"])
    assert out.shape == reference["output"].shape == (1, 128, 192)
    torch.testing.assert_close(out, reference["output"], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def perturbed_checkpoint(model, inputs, tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """The untrained model with changed finalizers saved as a checkpoint, and its output."""
    finalizers = [f for branch in model.models for f in branch.finalizers]
    saved = [(f.gauss.sigma.clone(), f.center_bias_weight.clone()) for f in finalizers]
    path = tmp_path_factory.mktemp("hub") / "checkpoints" / CHECKPOINT_NAME
    path.parent.mkdir()
    try:
        with torch.no_grad():
            for finalizer in finalizers:
                finalizer.gauss.sigma.fill_(3.0)
                finalizer.center_bias_weight.fill_(0.25)
        torch.save(model.state_dict(), path)
        expected = predict(model, *inputs)
    finally:
        with torch.no_grad():
            for finalizer, (sigma, weight) in zip(finalizers, saved, strict=True):
                finalizer.gauss.sigma.copy_(sigma)
                finalizer.center_bias_weight.copy_(weight)
    assert not torch.allclose(expected, predict(model, *inputs), atol=1e-3)
    return path, expected


def test_file_source_round_trips_strictly(perturbed_checkpoint, inputs):
    path, expected = perturbed_checkpoint
    loaded = build_deepgaze(WeightSource.FILE, path)
    assert not loaded.training
    assert float(loaded.models[3].finalizers[29].gauss.sigma) == 3.0
    assert torch.equal(predict(loaded, *inputs), expected)


def test_pretrained_loads_a_cached_checkpoint_offline(perturbed_checkpoint, inputs, monkeypatch):
    path, expected = perturbed_checkpoint
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(path.parent.parent))
    monkeypatch.setattr("urllib.request.urlopen", _offline)
    loaded = build_deepgaze(WeightSource.PRETRAINED)
    assert torch.equal(predict(loaded, *inputs), expected)


def test_pretrained_downloads_into_the_hub_cache_with_progress(
    perturbed_checkpoint, inputs, tmp_path, monkeypatch
):
    path, expected = perturbed_checkpoint
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    local = replace(deepgaze.CHECKPOINT, url=path.as_uri())  # a local "server"
    monkeypatch.setattr(deepgaze, "CHECKPOINT", local)
    seen: list[tuple[int, int]] = []
    loaded = build_deepgaze(WeightSource.PRETRAINED, progress=lambda d, t: seen.append((d, t)))
    assert (tmp_path / "hub" / "checkpoints" / CHECKPOINT_NAME).is_file()
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert torch.equal(predict(loaded, *inputs), expected)


def _offline(*_args, **_kwargs):
    raise urllib.error.URLError("no network")


def test_pretrained_offline_without_cache_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr("urllib.request.urlopen", _offline)
    with pytest.raises(MissingWeightsError) as caught:
        build_deepgaze(WeightSource.PRETRAINED)
    message = str(caught.value)
    assert CHECKPOINT_NAME in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "'file'" in message and "'untrained'" in message


def test_file_source_rejects_wrong_or_missing_files(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"models.0.unknown": torch.zeros(3)}, wrong)
    with pytest.raises(MissingWeightsError, match=r"5461 missing keys.*1 unexpected keys"):
        build_deepgaze(WeightSource.FILE, wrong)
    with pytest.raises(MissingWeightsError, match="not found"):
        build_deepgaze(WeightSource.FILE, tmp_path / "absent.pth")
    with pytest.raises(MissingWeightsError, match="needs the path"):
        build_deepgaze(WeightSource.FILE, None)


def test_official_package_is_detected_and_skipped_cleanly():
    installed = importlib.util.find_spec("deepgaze_pytorch") is not None
    assert official_package_available() is installed
    assert ("DeepGaze IIE (official package)" in TYPE2_MODELS) is installed


class _CentreBiasOnly(nn.Module):
    """Stands in for the official model: returns the centre bias as the prediction."""

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        return centerbias[:, None] * self.scale


def test_official_package_entry_runs_through_the_same_wrapper(tmp_path, monkeypatch):
    monkeypatch.setattr(centerbias, "ASSETS_DIR", tmp_path)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    fake = types.ModuleType("deepgaze_pytorch")
    fake.DeepGazeIIE = _CentreBiasOnly
    monkeypatch.setitem(sys.modules, "deepgaze_pytorch", fake)
    monkeypatch.setattr(inference, "MODELS", model_cache.ModelCache())
    official = build_official_deepgaze()
    assert official.pretrained and not official.training and not official.scale.requires_grad
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    request = inference.Type2Request(device="cpu")
    [prediction] = inference.run_deepgaze([rgb], request, inference.official_variant(request))
    assert prediction.label == "DeepGaze IIE (official package, pretrained)"
    assert any("Gaussian" in note for note in prediction.notes)
    np.testing.assert_allclose(prediction.log_density, gaussian_centre_bias((HEIGHT, WIDTH)))


class _OutOfMemory(nn.Module):
    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_becomes_a_readable_error(monkeypatch):
    monkeypatch.setattr(inference, "MODELS", model_cache.ModelCache())
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    request = inference.Type2Request(device="cpu", max_side=512)
    variant = inference.Variant("oom", _OutOfMemory, "test", False)
    with pytest.raises(
        RuntimeError, match=r"out of memory .* a 96×64 px input.*max_side"
    ) as caught:
        inference.run_deepgaze([rgb], request, variant)
    assert isinstance(caught.value.__cause__, torch.OutOfMemoryError)
    with pytest.raises(RuntimeError, match=r"2 images of 96×64 px input.*batch size"):
        inference.run_deepgaze([rgb, rgb], request, variant)


class _Brightness(nn.Module):
    """Log density = 5 × grey level (0..1) + centre bias: every image gets its own map."""

    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        return (image.mean(dim=1) / 255 * 5 + centerbias)[:, None]


def _counting_forwards(monkeypatch) -> list[int]:
    forwards: list[int] = []
    run = inference._run
    monkeypatch.setattr(
        inference, "_run", lambda m, image, bias: forwards.append(len(image)) or run(m, image, bias)
    )
    return forwards


def _three_images() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    sizes = [(HEIGHT, WIDTH), (80, 64), (HEIGHT, WIDTH)]
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in sizes]


def test_a_batch_runs_one_forward_per_size_and_keeps_each_image_its_map(monkeypatch):
    monkeypatch.setattr(inference, "MODELS", model_cache.ModelCache())
    forwards = _counting_forwards(monkeypatch)
    images = [*_three_images(), np.zeros((40, 50, 3), dtype=np.uint8)]  # upscaled to 64 px
    request = inference.Type2Request(device="cpu", study_input_range=True)
    variant = inference.Variant("brightness", _Brightness, "toy", False)
    batch = inference.run_deepgaze(images, request, variant)
    assert forwards == [2, 1, 1]  # the two 96×64 images share a pass
    for rgb, got in zip(images, batch, strict=True):
        [alone] = inference.run_deepgaze([rgb], request, variant)
        assert got.log_density.shape == rgb.shape[:2]
        assert got.notes == alone.notes and inference.STUDY_INPUT_NOTE in got.notes
        np.testing.assert_allclose(got.log_density, alone.log_density, atol=1e-6)
    assert batch[3].notes[0].startswith("upscaled to 80×64 px for inference")
    assert np.abs(batch[0].log_density - batch[2].log_density).max() > 0.01


def test_deepgaze_in_a_batch_matches_one_image_at_a_time(monkeypatch):
    monkeypatch.setattr(inference, "MODELS", model_cache.ModelCache())
    forwards = _counting_forwards(monkeypatch)
    images = _three_images()
    batch = predict_type2s("DeepGaze IIE", images, device="cpu")
    assert forwards == [2, 1]
    for rgb, got in zip(images, batch, strict=True):
        alone = predict_type2("DeepGaze IIE", rgb, device="cpu")
        assert (got.label, got.notes) == (alone.label, alone.notes)
        # Convolutions pick other kernels for 2 images than for 1 (float32 rounding, ~1e-6 in
        # the features); the untrained readout amplifies that to ~5e-3 in log density.
        np.testing.assert_allclose(got.log_density, alone.log_density, atol=0.01)


def test_load_type2_builds_the_network_once_before_any_image(monkeypatch):
    cache = model_cache.ModelCache()
    monkeypatch.setattr(inference, "MODELS", cache)
    builds = []
    monkeypatch.setattr(
        inference, "build_deepgaze", lambda *args: builds.append(args) or _CentreBiasOnly(False)
    )
    load_type2("Spectral residual")  # weight-free: nothing to build
    assert len(cache) == 0
    load_type2("DeepGaze IIE", "untrained", device="cpu")
    assert len(cache) == 1 and len(builds) == 1
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    predict_type2("DeepGaze IIE", rgb, device="cpu")
    assert len(builds) == 1
