"""ROAD on a toy model against a hand computation; the classifier wrapper's table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from saliency_core.models.classifiers import load_classifier
from saliency_core.scoring import faithfulness as F

EDGE, CORNER = 1 / 6, 1 / 12  # ROAD's neighbour weights


def imputed(image: np.ndarray, row: int, col: int) -> float:
    """Noise-free ROAD imputation of an interior pixel whose 8 neighbours are all kept."""
    window = image[row - 1 : row + 2, col - 1 : col + 2]
    weights = np.array([[CORNER, EDGE, CORNER], [EDGE, 0, EDGE], [CORNER, EDGE, CORNER]])
    return float((window * weights).sum())


@pytest.fixture
def toy():
    """f(x) = Σ w ⊙ x on a 5×5 one-channel image; a map ranking every pixel."""
    rng = np.random.default_rng(0)
    image = rng.random((5, 5)).astype(np.float32)
    weight = rng.normal(size=(5, 5)).astype(np.float32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(25, 1, bias=False))
    model[1].weight.data = torch.from_numpy(weight.reshape(1, 25))
    ranks = np.arange(25, dtype=np.float32).reshape(5, 5)
    # the two most relevant pixels at (1, 1) and (3, 3), the two least at (1, 3) and (3, 1)
    order = [(1, 1), (3, 3), (1, 3), (3, 1)]
    values = [24, 23, 0, 1]
    for (r, c), v in zip(order, values, strict=True):
        ranks[ranks == v], ranks[r, c] = ranks[r, c], v
    tensor = torch.from_numpy(image)[None, None]
    return model.eval(), tensor, image, weight, ranks / 24


def test_road_equals_a_hand_computation(toy):
    model, tensor, image, weight, saliency = toy
    table = F.road_table(
        model, tensor, {"m": saliency}, ClassifierOutputTarget(0), percentiles=[92], noise=0
    )
    # percentile 92 of 25 ranks is 22.08: MoRF removes ranks 23, 24; LeRF ranks 0, 1
    morf = sum(weight[r, c] * (imputed(image, r, c) - image[r, c]) for r, c in [(1, 1), (3, 3)])
    lerf = sum(weight[r, c] * (imputed(image, r, c) - image[r, c]) for r, c in [(1, 3), (3, 1)])
    assert list(table["order"]) == ["most relevant first", "least relevant first"]
    assert list(table["removed"]) == [8, 8]
    assert table["change"].tolist() == pytest.approx([morf, lerf], abs=1e-5)
    assert abs(morf) > 0.01 and abs(lerf) > 0.01


def test_default_noise_equals_the_library_metrics(toy):
    model, tensor, _, _, saliency = toy
    table = F.road_table(model, tensor, {"m": saliency}, ClassifierOutputTarget(0), [20, 80])
    expected = []
    for metric in (ROADMostRelevantFirst, ROADLeastRelevantFirst):
        for percentile in (20, 80):
            torch.manual_seed(0)
            target = [ClassifierOutputTarget(0)]
            expected.append(float(metric(percentile)(tensor, saliency[None], target, model)[0]))
    assert table["change"].tolist() == pytest.approx(expected, abs=1e-6)


def test_a_map_of_the_wrong_size_is_refused(toy):
    model, tensor, *_ = toy
    with pytest.raises(ValueError, match="Map 'small' is"):
        F.road_table(model, tensor, {"small": np.zeros((3, 3))}, ClassifierOutputTarget(0))


def test_classifier_road_table():
    classifier = load_classifier("ResNet-50", input_size=32)
    rgb = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:40, 0:48]
    maps = {"centre": np.exp(-((yy - 20) ** 2 + (xx - 24) ** 2) / 100.0).astype(np.float32)}
    table = F.classifier_road(classifier, rgb, maps, target_class=3, percentiles=[50])
    assert table.shape == (2, 6) and set(table["target_class"]) == {3}
    assert table["change"].abs().max() <= 1.0  # a change of a probability
