"""Classifiers in the one pipeline: settings, bundle maps, engine rows, report accuracy."""

from __future__ import annotations

import tomllib

import pytest

from saliency_core.settings import Settings, SettingsError, from_query, to_query
from saliency_core.weights import WeightSource

CLASSIFIED = Settings(
    classifiers=("ResNet-50", "Swin-T"),
    classifier_methods=("GradCAM", "SmoothGrad"),
    classifier_weights="pretrained",
    classifier_input_size=64,
    classifier_top_k=3,
)


def test_classifier_settings_round_trip_through_toml_json_and_the_url():
    assert CLASSIFIED.classifier_weights is WeightSource.PRETRAINED
    assert Settings.from_dict(tomllib.loads(CLASSIFIED.to_toml())) == CLASSIFIED
    assert Settings.from_dict(CLASSIFIED.to_dict()) == CLASSIFIED
    query = to_query(CLASSIFIED)
    assert query == {
        "cls": "ResNet-50~Swin-T",
        "clsm": "GradCAM~SmoothGrad",
        "clsw": "pretrained",
        "clssize": "64",
        "clsk": "3",
    }
    assert from_query(query) == (CLASSIFIED, [])
    chosen = Settings(classifiers=("ViT-B/16",), classifier_class=281)
    assert to_query(chosen) == {"cls": "ViT-B/16", "clsc": "281"}
    assert from_query(to_query(chosen))[0] == chosen
    assert to_query(Settings()) == {}, "defaults stay out of the URL"


def test_bad_classifier_settings_are_named():
    with pytest.raises(SettingsError, match="classifiers: unknown 'AlexNet'; choose from ResNet"):
        Settings(classifiers=("AlexNet",))
    with pytest.raises(SettingsError, match="classifier_methods: unknown 'Foo'.*SmoothGrad"):
        Settings(classifier_methods=("Foo",))
    with pytest.raises(SettingsError, match="exclude each other"):
        Settings(classifier_class=3, classifier_top_k=2)
    with pytest.raises(SettingsError, match="classifier_top_k must be ≥ 1, got 0"):
        Settings(classifier_top_k=0)
    with pytest.raises(SettingsError, match="classifier_input_size must be ≥ 32 px, got 16"):
        Settings(classifier_input_size=16)
    settings, notes = from_query({"cls": "ResNet-50~Nope", "clsc": "x"})
    assert settings.classifiers == ("ResNet-50",)
    assert notes[0].startswith("URL: classifiers: unknown 'Nope'")
    assert notes[1].startswith("URL parameter clsc='x' ignored")


def test_a_run_written_before_the_classifier_settings_existed_still_resumes(tmp_path):
    from saliency_core.evaluate import engine
    from saliency_core.evaluate.store import ResultsError, ResultsFolder

    folder = ResultsFolder(tmp_path)
    identity = {"settings": Settings().to_dict(), "metrics": ["MAE"]}
    older = {
        **identity,
        "settings": {
            k: v for k, v in identity["settings"].items() if not k.startswith("classifier")
        },
    }
    folder.write_manifest(older)
    engine.check_resume(folder, identity)  # same settings: no error
    changed = {**identity, "settings": Settings(classifiers=("ResNet-50",)).to_dict()}
    with pytest.raises(ResultsError, match="other settings"):
        engine.check_resume(folder, changed)
