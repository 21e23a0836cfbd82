"""Training settings: presets (torchvision's lr per image, the study's recipe), validation
messages, and the settings.toml round trip."""

from __future__ import annotations

import pytest

from saliency_core.settings import SettingsError
from saliency_core.train.recipe import (
    TrainSettings,
    preset_settings,
    read_settings,
    write_settings,
)


def test_torchvision_preset_scales_lr_to_the_batch() -> None:
    # 0.02 for 8 GPUs x 2 images = 0.0025 per image
    assert preset_settings("torchvision").lr == pytest.approx(0.005)
    assert preset_settings("torchvision", batch_size=8).lr == pytest.approx(0.02)
    assert preset_settings("torchvision", batch_size=8, lr=0.1).lr == 0.1
    defaults = TrainSettings()
    assert (defaults.epochs, defaults.lr_steps, defaults.weight_decay) == (26, (16, 22), 1e-4)


def test_study_preset_is_the_study_recipe() -> None:
    study = preset_settings("study")
    assert (study.lr, study.momentum, study.weight_decay, study.batch_size) == (
        0.005,
        0.9,
        5e-4,
        4,
    )
    assert (study.epochs, study.lr_steps, study.gamma) == (5, (2, 4), 0.1)
    assert (study.split_rule, study.train_split, study.val_split) == ("study", "train", "test")
    assert study.lr_steps == (2, 4)  # StepLR(step 2) over 5 epochs


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 0}, "epochs must be ≥ 1, got 0"),
        ({"lr": 0.0}, "lr must be > 0 and ≤ 10, got 0.0"),
        ({"momentum": True}, "momentum must be a number, got True"),
        ({"lr_steps": (3, 2)}, "lr_steps must increase, got [3, 2]"),
        ({"weights": "file"}, "weights 'file' needs weights_file"),
        ({"weights": "imagenet"}, "weights must be one of pretrained, file, untrained"),
        ({"schedule": "poly"}, "schedule must be one of step, cosine, got 'poly'"),
        ({"val_split": "train"}, "train_split and val_split are both 'train'"),
        ({"detector": "Nope"}, "detector 'Nope' is not in the registry"),
        ({"bogus": 1}, "Unknown training setting(s): bogus"),
    ],
)
def test_bad_settings_are_refused_by_name(values: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        TrainSettings.from_dict(values)
    assert str(error.value).startswith(message)


def test_settings_toml_round_trip(tmp_path) -> None:
    settings = preset_settings("study", weights="file", weights_file="w.pt", input_size=96)
    assert settings.trainable_backbone_layers is None
    write_settings(settings, tmp_path / "settings.toml")
    assert read_settings(tmp_path / "settings.toml") == settings
    assert "trainable_backbone_layers" not in (tmp_path / "settings.toml").read_text()


def test_a_bad_settings_file_is_named(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("epochs = -1\n")
    with pytest.raises(SettingsError, match=r"settings.toml: epochs must be ≥ 1, got -1"):
        read_settings(path)
