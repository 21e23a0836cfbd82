"""Readouts on classifier backbones: heads, files, the fixation likelihood (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saliency_core.models.gaze.centerbias import gaussian_centre_bias
from saliency_core.models.readout import (
    READOUT_KINDS,
    ReadoutRecipe,
    build_readout,
    load_readout,
    predict_readout,
    read_recipe,
    save_readout,
)
from saliency_core.models.readout.network import centre_bias_tensor, to_input
from saliency_core.models.weights import MissingWeightsError
from saliency_core.scoring.likelihood import (
    fixation_indices,
    information_gain,
    nll,
    pixelwise_kld,
)

RGB = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def nets():
    return {
        kind: build_readout(ReadoutRecipe("ResNet-50", kind=kind, input_size=64)).eval()
        for kind in READOUT_KINDS
    }


@pytest.mark.parametrize("kind", list(READOUT_KINDS))
def test_each_kind_gives_a_density_at_the_image_size(nets, kind):
    net = nets[kind]
    x = to_input(RGB, net.recipe)[None]
    assert x.shape == (1, 3, 32, 64)  # long side 70 → 64, short side 50 → 45.7 → 32
    with torch.no_grad():
        log_p = net(x, centre_bias_tensor((32, 64)))
    assert log_p.shape == (1, 32, 64)
    assert log_p.double().exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    maps = predict_readout(net, [RGB, RGB[:33, :41]])
    assert [m.shape for m in maps] == [(50, 70), (33, 41)]
    assert [np.exp(m.astype(np.float64)).sum() for m in maps] == pytest.approx([1, 1], abs=1e-5)


def test_the_label_names_kind_backbone_weights_and_data():
    recipe = ReadoutRecipe("ResNet-50", kind="dc", trained_on="NUS sample")
    assert recipe.label == "Readout (DC) on ResNet-50 [UNTRAINED backbone] · trained on NUS sample"
    assert recipe.layers == ("layer3", "layer4")
    with pytest.raises(ValueError, match="Unknown readout 'xx'; choose from dc, spc, bi, deepgaze"):
        ReadoutRecipe("ResNet-50", kind="xx")


def _perturb(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


@pytest.mark.parametrize("finetuned", [False, True])
def test_a_saved_readout_reloads_with_the_same_log_density(tmp_path, finetuned):
    recipe = ReadoutRecipe("ResNet-50", kind="dc", input_size=64, finetuned=finetuned)
    net = build_readout(recipe)
    _perturb(net.head, 1)
    if finetuned:
        _perturb(net.extractor, 2)
    net.eval()
    save_readout(net, tmp_path / "readout.pt")
    loaded = load_readout(tmp_path)  # the run folder names its readout.pt
    assert read_recipe(tmp_path) == recipe
    saved, again = predict_readout(net, [RGB])[0], predict_readout(loaded, [RGB])[0]
    np.testing.assert_array_equal(saved, again)
    fresh = predict_readout(build_readout(recipe).eval(), [RGB])[0]
    assert np.abs(fresh - saved).max() > 1e-3  # the weights were really saved


def test_a_missing_or_foreign_readout_file_is_named(tmp_path):
    with pytest.raises(MissingWeightsError, match="run folder .* has no readout.pt"):
        load_readout(tmp_path)
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(MissingWeightsError, match="other.pt is not a readout file"):
        load_readout(tmp_path / "other.pt")


# --- the fixation likelihood -----------------------------------------------------------------

P = np.arange(1, 17, dtype=np.float64).reshape(4, 4) / 136.0
"""A 4×4 density: p(row r, column c) = (4r + c + 1) / 136."""


def test_nll_is_the_hand_computed_log_likelihood_on_4x4():
    # (x, y) = (1, 0) → p = 2/136; (3, 2) twice → p = 12/136; (9, 9) is outside: not counted
    points = np.array([[1, 0], [3, 2], [3.2, 1.6], [9, 9]])
    pixel = torch.from_numpy(fixation_indices(points, (4, 4)))
    assert pixel.tolist() == [1, 11, 11]
    image = torch.zeros(3, dtype=torch.int64)
    log_p = torch.from_numpy(np.log(P))[None]
    expected = -(math.log(2 / 136) + 2 * math.log(12 / 136)) / 3  # 2.6485… nats per fixation
    assert nll(log_p, image, pixel).item() == pytest.approx(expected, rel=1e-6)
    uniform = torch.full((1, 4, 4), math.log(1 / 16))
    gain = information_gain(log_p, uniform, image, pixel)
    assert gain == pytest.approx((math.log2(32 / 136) + 2 * math.log2(192 / 136)) / 3, rel=1e-6)


def test_ig_of_the_centre_bias_against_itself_is_zero():
    bias = torch.from_numpy(np.array(gaussian_centre_bias((6, 8))))[None]
    pixel = torch.tensor([0, 5, 27, 47])
    assert information_gain(bias, bias, torch.zeros(4, dtype=torch.int64), pixel) == 0.0


def test_no_fixation_has_no_likelihood():
    with pytest.raises(ValueError, match="no fixations inside the images"):
        none = torch.zeros(0, dtype=torch.int64)
        nll(torch.zeros(1, 4, 4), none, none)


def test_pixelwise_kld_is_zero_at_the_target_and_hand_computed_against_uniform():
    q = torch.from_numpy(P)[None]
    assert pixelwise_kld(q.log(), q).item() == pytest.approx(0.0, abs=1e-7)
    uniform = torch.full((1, 4, 4), math.log(1 / 16))
    expected = float((P * np.log(P * 16)).sum())
    assert pixelwise_kld(uniform, q).item() == pytest.approx(expected, rel=1e-6)
