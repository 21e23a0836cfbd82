"""``saliency readout``: training a readout over the shipped sample's real fixations (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core.commands import readout as command
from saliency_core.data.datasets import Dataset
from saliency_core.models import gaze
from saliency_core.models.readout import ReadoutRecipe, predict_readout
from saliency_core.models.readout.files import load_readout
from saliency_core.train.readout.data import batches, load_fixation_images, split_ids


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A DC readout on a frozen untrained ResNet-50, 4 epochs over 10 sample images at 96 px."""
    out = tmp_path_factory.mktemp("runs") / "dc"
    argv = ["--dataset", "sample", "--out", str(out), "--backbone", "ResNet-50"]
    argv += ["--weights", "untrained", "--readout", "dc", "--epochs", "4", "--seed", "0"]
    argv += ["--frozen", "--input-size", "96", "--limit", "10", "--lr", "1e-4"]
    argv += ["--batch-size", "2"]
    assert command.main(argv) == 0
    return out, argv


def test_training_lowers_the_validation_loss(trained):
    out, _ = trained
    manifest = json.loads((out / "manifest.json").read_text())
    losses = [row["val_loss"] for row in manifest["history"]]
    assert [row["epoch"] for row in manifest["history"]] == [0, 1, 2, 3, 4]
    assert losses[-1] < losses[0] - 0.15  # nats per fixation (8.99 → 8.77 when written)
    assert manifest["split"]["seed"] == 0
    assert [len(manifest["split"][name]) for name in ("train", "val", "test")] == [6, 2, 2]
    assert manifest["features_cached"] is True
    assert "rescaled with the image" in manifest["fixation_rescaling"]
    log = pd.read_csv(out / "val_log.csv")
    assert log["val_loss"].tolist() == pytest.approx(losses)


def test_the_run_folder_is_a_type2_model_that_reloads_identically(trained):
    out, _ = trained
    rgb = np.random.default_rng(0).integers(0, 256, (48, 60, 3), dtype=np.uint8)
    first = predict_readout(load_readout(out), [rgb])[0]
    np.testing.assert_array_equal(first, predict_readout(load_readout(out), [rgb])[0])
    predicted = gaze.predict_type2(str(out), rgb)
    assert predicted.label == (
        "Readout (DC) on ResNet-50 [UNTRAINED backbone] · trained on "
        "NUS Scene sample (50 images, real fixations)"
    )
    np.testing.assert_allclose(predicted.log_density, first, atol=1e-5)


def test_a_rerun_with_other_settings_is_refused(trained, capsys):
    out, argv = trained
    assert command.main([*argv[:-2], "--batch-size", "4"]) == 1
    assert "holds a run with other settings (batch_size differ)" in capsys.readouterr().err


def test_the_split_is_seeded_and_image_level():
    ids = [f"{k:03d}" for k in range(10)]
    split = split_ids(ids, 3)
    assert split == split_ids(ids, 3) and split != split_ids(ids, 4)
    assert sorted(sum(split.values(), [])) == ids
    with pytest.raises(ValueError, match="needs at least 3 images with fixations, got 2"):
        split_ids(ids[:2], 0)


def test_fixations_are_rescaled_and_those_outside_named(tmp_path):
    for folder in ("images", "fixations"):
        (tmp_path / folder).mkdir()
    Image.fromarray(np.zeros((40, 80, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    Image.fromarray(np.zeros((80, 40, 3), np.uint8)).save(tmp_path / "images" / "b.png")
    # (79, 39) is the bottom-right pixel; (85, 10) lies outside the 80 × 40 image
    pd.DataFrame({"x": [0, 79, 85], "y": [0, 39, 10]}).to_csv(
        tmp_path / "fixations" / "a.csv", index=False
    )
    pd.DataFrame({"x": [20], "y": [40]}).to_csv(tmp_path / "fixations" / "b.csv", index=False)
    recipe = ReadoutRecipe("ResNet-50", input_size=64)
    images, notices = load_fixation_images(Dataset("t", tmp_path), ["a", "b"], recipe)
    a, b = images
    assert a.shape == (32, 64) and b.shape == (64, 32)
    assert a.pixel.tolist() == [0, 31 * 64 + 63]  # corners map onto corners
    assert b.pixel.tolist() == [32 * 32 + 16]  # (20, 40) of 40×80 → (15.75, 31.75) → (16, 32)
    assert "a: 1 of 3 fixations lie outside the 80×40 image; left out of the loss" in notices
    assert notices[-1] == (
        "2 fixation files carry no subject ids (e.g. a.csv): every fixation counts alike; "
        "nothing is left out"
    )
    assert [[item.stem for item in batch] for batch in batches(images, 4)] == [["a"], ["b"]]
