"""DeepGaze IIE: checkpoint layout, numerics of one readout component, weight sources."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from saliency_core import backend
from saliency_core.gaze import TYPE2_MODELS, centerbias, deepgaze, inference
from saliency_core.gaze.centerbias import gaussian_centre_bias
from saliency_core.gaze.deepgaze import (
    CHECKPOINT_NAME,
    DeepGazeBranch,
    DeepGazeIIE,
    build_deepgaze,
    build_official_deepgaze,
    official_package_available,
)
from saliency_core.weights import MissingWeightsError, WeightSource

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
    monkeypatch.setattr(deepgaze, "CHECKPOINT_URL", path.as_uri())  # a local "server"
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
    monkeypatch.setattr(inference, "MODELS", backend.ModelCache())
    official = build_official_deepgaze()
    assert official.pretrained and not official.training and not official.scale.requires_grad
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    prediction = inference.predict_official_deepgaze(rgb, inference.Type2Request(device="cpu"))
    assert prediction.label == "DeepGaze IIE (official package, pretrained)"
    assert any("Gaussian" in note for note in prediction.notes)
    np.testing.assert_allclose(prediction.log_density, gaussian_centre_bias((HEIGHT, WIDTH)))


class _OutOfMemory(nn.Module):
    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_becomes_a_readable_error(monkeypatch):
    monkeypatch.setattr(inference, "MODELS", backend.ModelCache())
    rgb = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    request = inference.Type2Request(device="cpu", max_side=512)
    with pytest.raises(RuntimeError, match=r"out of memory .* 96×64 px input.*max_side") as caught:
        inference.run_deepgaze(rgb, request, "oom", _OutOfMemory, "test", False)
    assert isinstance(caught.value.__cause__, torch.OutOfMemoryError)
