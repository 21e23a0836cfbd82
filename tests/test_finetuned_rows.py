"""A fine-tuned model is its own row beside the model it started from: its label names its run,
the settings carry it (flags, TOML, URL), the pipeline lists it after its base model."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from saliency_core import pipeline
from saliency_core.commands.common import add_setting_flags, setting_values
from saliency_core.data.images import Sample
from saliency_core.maps.cams import Detections
from saliency_core.models.weights import ModelChoice, WeightSource, finetuned_tags
from saliency_core.settings import Settings, SettingsError, from_query, to_query
from ui import matrix

FRCNN, SSD = "Faster R-CNN R50-FPN", "SSDlite320 MobileNetV3"
ERASE = "/results/exp/runs/erase-s0/model_final.pt"
NONE = "/results/exp/runs/none-s0/model_final.pt"


def test_a_fine_tuned_choice_is_labelled_by_its_run():
    tuned = ModelChoice(FRCNN, WeightSource.FILE, ERASE, tag="erase-s0")
    assert tuned.label == f"{FRCNN} (fine-tuned: erase-s0)"
    assert tuned.weights_name == "fine-tuned: erase-s0"
    assert ModelChoice(FRCNN, WeightSource.FILE, ERASE).label == f"{FRCNN} (weights file)"
    assert ModelChoice(FRCNN, WeightSource.PRETRAINED).label == f"{FRCNN} (pretrained)"


def test_tags_are_run_folders_made_distinct_by_their_parents():
    assert finetuned_tags([ERASE, NONE, "/w/erase-s0/model_best.pt"]) == [
        "erase-s0",
        "none-s0",
        "erase-s0/model_best",
    ]
    assert finetuned_tags(
        ["/a/exp1/erase-s0/model_final.pt", "/a/exp2/erase-s0/model_final.pt"]
    ) == [
        "exp1/erase-s0",
        "exp2/erase-s0",
    ]
    assert finetuned_tags(["tuned.pt"]) == ["tuned"]


def test_the_pipeline_lists_fine_tuned_models_after_their_base_then_the_twins():
    settings = Settings(
        detectors=(FRCNN, SSD),
        weights="pretrained",
        untrained_twins=True,
        finetuned=((SSD, "/x/ssd-run/model_final.pt"), (FRCNN, ERASE), (FRCNN, NONE)),
    )
    choices, skipped = pipeline.detector_choices(settings)
    assert skipped == []
    assert [choice.label for choice in choices] == [
        f"{FRCNN} (pretrained)",
        f"{FRCNN} (fine-tuned: erase-s0)",
        f"{FRCNN} (fine-tuned: none-s0)",
        f"{SSD} (pretrained)",
        f"{SSD} (fine-tuned: ssd-run)",
        f"{FRCNN} (UNTRAINED)",
        f"{SSD} (UNTRAINED)",
    ]
    assert choices[1] == ModelChoice(FRCNN, WeightSource.FILE, ERASE, None, "erase-s0")
    alone = Settings(detectors=(SSD,), finetuned=((FRCNN, ERASE),))
    assert [c.label for c in pipeline.detector_choices(alone)[0]] == [
        f"{SSD} (UNTRAINED)",
        f"{FRCNN} (fine-tuned: erase-s0)",
    ]


def test_the_field_round_trips_through_the_url_toml_and_flags(tmp_path: Path):
    odd = "/home/me/~runs/50%/erase-s0/model_final.pt"
    settings = Settings(finetuned=((FRCNN, odd), (FRCNN, NONE), (FRCNN, odd)))
    assert settings.finetuned == ((FRCNN, odd), (FRCNN, NONE))
    query = to_query(settings)
    assert query == {"ft": f"{FRCNN}=/home/me/%7Eruns/50%25/erase-s0/model_final.pt~{FRCNN}={NONE}"}
    assert from_query(query) == (settings, [])
    assert Settings.from_dict(settings.to_dict()) == settings
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    add_setting_flags(parser)
    given = vars(
        parser.parse_args(["--finetuned", f"{FRCNN}={ERASE}", "--finetuned", f"{SSD}={NONE}"])
    )
    assert Settings.from_dict(setting_values(given)).finetuned == ((FRCNN, ERASE), (SSD, NONE))


def test_a_bad_entry_is_refused_or_skipped_with_a_note():
    with pytest.raises(SettingsError, match="finetuned: unknown detector 'YOLO9'"):
        Settings(finetuned=(("YOLO9", ERASE),))
    settings, notes = from_query({"ft": "no-separator", "p": "20"})
    assert settings == Settings(top_percent=20.0)
    assert notes == [
        "URL parameter ft='no-separator' ignored: expected NAME=FILE, got 'no-separator'"
    ]


def test_the_explore_matrix_has_a_row_for_the_fine_tuned_model():
    settings = Settings(detectors=(FRCNN,), weights="pretrained", finetuned=((FRCNN, ERASE),))
    bundle = pipeline.Bundle(Sample("s", np.zeros((8, 8, 3), np.uint8), "t"), settings)
    found = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0), [])
    for choice in pipeline.detector_choices(settings)[0]:
        label = f"{choice.label} · EigenCAM @ layer4"
        bundle.maps[label] = pipeline.MapEntry(
            label, np.zeros((8, 8), np.float32), "type-1", True, detector=FRCNN,
            model_label=choice.label, method="EigenCAM", target="layer4",
        )  # fmt: skip
        bundle.detections[choice.label] = found
    rows = matrix.overview_rows(bundle)
    assert [(row.title, row.cells[1].key) for row in rows] == [
        (f"{FRCNN} (pretrained)", f"{FRCNN} (pretrained) · EigenCAM @ layer4"),
        (f"{FRCNN} (fine-tuned: erase-s0)", f"{FRCNN} (fine-tuned: erase-s0) · EigenCAM @ layer4"),
    ]


def test_a_fine_tuned_models_maps_are_labelled_by_its_run(tmp_path: Path):
    import torch

    from saliency_core.maps.detector_maps import compute_cam
    from saliency_core.models.detectors import load_detector

    run = tmp_path / "erase-s0"
    run.mkdir()
    untrained = load_detector(SSD, WeightSource.UNTRAINED, input_size=64)
    torch.save(untrained.model.state_dict(), run / "model_final.pt")
    settings = Settings(
        detectors=(), finetuned=((SSD, str(run / "model_final.pt")),), input_size=64
    )
    (choice,) = pipeline.detector_choices(settings)[0]
    rgb = np.zeros((48, 64, 3), np.uint8)
    result = compute_cam(rgb, choice)
    assert result.label == f"{SSD} (fine-tuned: erase-s0) · EigenCAM @ features[-1]"
    assert result.trained
