"""Trained readouts as type-2 models: named by their file or run folder (issue 17 §1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine, type2_cache
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.maps.references import REFERENCES, reference_key_for_model
from saliency_core.models import gaze
from saliency_core.models.readout import (
    ReadoutRecipe,
    build_readout,
    predict_readout,
    save_readout,
)
from saliency_core.pipeline import type2_steps
from saliency_core.settings import Settings, SettingsError

RGB = np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8)
LABEL = "Readout (BI) on ResNet-50 [UNTRAINED backbone] · trained on toy fixations"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder holding a BI readout with non-initial weights."""
    recipe = ReadoutRecipe("ResNet-50", kind="bi", input_size=64, trained_on="toy fixations")
    net = build_readout(recipe)
    with torch.no_grad():
        net.head.layers[0].weight.mul_(40.0)
    folder = tmp_path_factory.mktemp("runs") / "bi"
    folder.mkdir()
    save_readout(net.eval(), folder / "readout.pt")
    return folder, net


def test_a_run_folder_is_a_type2_model_with_its_label(run):
    folder, net = run
    name = str(folder)
    assert name in gaze.TYPE2_MODELS and "no/such/run" not in gaze.TYPE2_MODELS
    predicted = gaze.predict_type2(name, RGB)
    assert predicted.label == LABEL and predicted.trained
    np.testing.assert_allclose(predicted.log_density, predict_readout(net, [RGB])[0], atol=1e-5)
    assert np.exp(predicted.log_density.astype(np.float64)).sum() == pytest.approx(1, abs=1e-5)
    assert name in list(gaze.TYPE2_MODELS)  # listed from now on (Explore's picker)
    assert gaze.type2_display_name(name) == f"{LABEL} — {name}"
    assert gaze.type2_display_name("DeepGaze IIE") == "DeepGaze IIE"


def test_settings_take_a_readout_as_model_and_reference(run):
    name = str(run[0])
    settings = Settings(detectors=(), type2=(name,), references=("fixations", name))
    assert reference_key_for_model(name) == name and REFERENCES[name].type2_model == name
    assert [job.model for job in type2_steps(settings)] == [name]
    with pytest.raises(SettingsError, match="type2: unknown 'no/such/run'"):
        Settings(type2=("no/such/run",))


def test_the_disk_cache_key_follows_the_readout_file(run):
    folder, net = run
    job = type2_steps(Settings(detectors=(), type2=(str(folder),), references=()))[0]

    class Keyed:  # a sample: only its key enters the cache key
        key = "image"

    before = type2_cache.entry_key(Keyed, job)
    save_readout(net, folder / "readout.pt")  # retrained into the same folder: a new stamp
    assert type2_cache.entry_key(Keyed, job) != before


def test_the_evaluate_engine_scores_a_readout_against_fixations(run, tmp_path):
    root = tmp_path / "toy"
    for folder in ("images", "fixations"):
        (root / folder).mkdir(parents=True)
    for stem in ("a", "b"):
        Image.fromarray(RGB).save(root / "images" / f"{stem}.png")
        pd.DataFrame({"x": [10, 30, 40], "y": [8, 20, 30]}).to_csv(
            root / "fixations" / f"{stem}.csv", index=False
        )
    name = str(run[0])
    settings = Settings(detectors=(), type2=(name,), references=("fixations",))
    report = engine.run(Dataset("toy", root), settings, tmp_path / "out")
    table = ResultsFolder(report.out).table()
    rows = table[(table["metric"] == "NSS") & (table["map"] == LABEL)]
    assert sorted(rows["image"]) == ["a", "b"] and rows["value"].notna().all()
    assert "centre-bias floor" in " ".join(table["map"])  # scored next to the floor


@pytest.mark.parametrize("inside", [False, True])
def test_the_app_reads_a_linked_readout_only_under_its_folders(run, tmp_path, monkeypatch, inside):
    """A link's t2= naming a readout outside the results and dataset folders is refused
    before its file is opened (a shared server); under the results folder it is a model."""
    from streamlit.testing.v1 import AppTest

    name = str(run[0])
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(run[0].parent if inside else tmp_path))
    monkeypatch.delenv("SALIENCY_ALLOW_ANY_PATH", raising=False)
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120)
    at.query_params.update({"t2": name, "det": "", "refs": "fixations"})
    at.run()
    at = at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception, at.exception
    warnings = " ".join(w.value for w in at.warning)
    if inside:
        assert name not in warnings
        assert at.query_params["t2"] == name
    else:
        assert f"unknown {name!r}" in warnings
        assert name not in at.query_params.get("t2", "")
