"""The training recipe: :class:`TrainSettings` (validated, frozen), the presets and the
``settings.toml`` round trip.

Defaults follow torchvision's detection reference recipe (references/detection/train.py):
SGD with momentum 0.9 and weight decay 1e-4, lr 0.02 for 8 GPUs × 2 images, i.e.
:data:`LR_PER_IMAGE` = 0.0025 per image of the global batch, 26 epochs with the lr × 0.1 at
epochs 16 and 22, a linear warm-up over the first min(1000, iterations per epoch − 1) iterations
from a factor 0.001, three trainable backbone stages for ResNet backbones, mixed precision on
CUDA. The ``study`` preset is the study's recipe (../shared/STUDY_PROTOCOL.md, "Fine-tuning").
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from saliency_core.data.atomic import write_bytes_atomic
from saliency_core.models.weights import WeightSource
from saliency_core.settings import SettingsError

LR_PER_IMAGE = 0.0025
"""torchvision's reference learning rate per image of the global batch (0.02 / (8 × 2))."""
WARMUP_FACTOR = 0.001
"""The warm-up's first learning-rate factor (torchvision's ``1 / 1000``)."""
SCHEDULES = ("step", "cosine")
SPLIT_RULES = ("dataset", "study")
"""Where the splits come from: the dataset's own lists (ImageSets/Main/*.txt, COCO files), or
the study's (every image with a human attention mask is the test set, the rest trains)."""
POLICY_NAMES = ("v0", "v1", "v2", "v3")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run's result (the run folder's identity).

    ``lr`` is per step (the whole global batch); ``lr_steps`` are the epochs after which the lr
    is multiplied by ``gamma`` (``schedule="step"``); ``schedule="cosine"`` decays it to 0 over
    all iterations instead. ``trainable_backbone_layers`` None keeps torchvision's default per
    model; ``input_size`` None keeps each model's own resize. ``workers`` is the loader's worker
    processes (results do not depend on it: every sample draws from its own seeded generator).
    """

    detector: str = "Faster R-CNN R50-FPN"
    weights: WeightSource = WeightSource.PRETRAINED
    weights_file: str | None = None
    arm: str = "none"
    epochs: int = 26
    batch_size: int = 2
    lr: float = LR_PER_IMAGE * 2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 1000
    schedule: str = "step"
    lr_steps: tuple[int, ...] = (16, 22)
    gamma: float = 0.1
    trainable_backbone_layers: int | None = None
    amp: bool = True
    seed: int = 0
    workers: int = 2
    input_size: int | None = None
    train_split: str = "train"
    val_split: str = "val"
    split_rule: str = "dataset"
    policy: str = "v3"
    study_boxes: bool = False
    copies: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _weight_source(self.weights))
        object.__setattr__(self, "copies", _pairs(self.copies))
        object.__setattr__(self, "lr_steps", tuple(self.lr_steps))
        for problem in _problems(self):
            raise SettingsError(problem)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the weight source as its name, ``lr_steps`` as a list)."""
        values = asdict(self)
        values["weights"] = self.weights.value
        values["lr_steps"] = list(self.lr_steps)
        values["copies"] = dict(self.copies)
        return values

    def to_toml(self) -> str:
        """TOML text; a None value is left out (TOML has no null) and read back as None."""
        return tomli_w.dumps({k: v for k, v in self.to_dict().items() if v is not None})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainSettings:
        """Settings from plain values; unknown names are refused, missing ones take defaults."""
        unknown = sorted(set(values) - set(FIELD_TYPES))
        if unknown:
            raise SettingsError(f"Unknown training setting(s): {', '.join(unknown)}")
        return cls(**values)

    def replaced(self, **changes: Any) -> TrainSettings:
        return replace(self, **changes)


FIELD_TYPES: dict[str, Any] = typing.get_type_hints(TrainSettings)
OPTIONAL_FIELDS = tuple(
    name for name, hint in FIELD_TYPES.items() if type(None) in typing.get_args(hint)
)
"""Fields that may be None: a settings file without them reads them as None."""


def _weight_source(value: WeightSource | str) -> WeightSource:
    try:
        return WeightSource(value)
    except ValueError:
        names = ", ".join(source.value for source in WeightSource)
        raise SettingsError(f"weights must be one of {names}, got {value!r}") from None


def _pairs(copies: Mapping[str, str] | Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """Arm name -> folder of precomputed copies, as sorted (name, folder) pairs."""
    items = copies.items() if isinstance(copies, Mapping) else copies
    return tuple(sorted((str(name), str(folder)) for name, folder in items))


def _bounds(
    name: str,
    value: Any,
    low: float,
    high: float | None = None,
    *,
    integer: bool,
    open_low: bool = False,
) -> str | None:
    """Why ``value`` is not a number in [low, high] (low excluded when ``open_low``), or None."""
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return f"{name} must be {kind}, got {value!r}"
    too_low = value <= low if open_low else value < low
    if too_low or (high is not None and value > high) or value != value:
        lower = f"> {low}" if open_low else f"≥ {low}"
        upper = f" and ≤ {high}" if high is not None else ""
        return f"{name} must be {lower}{upper}, got {value!r}"
    return None


def _problems(settings: TrainSettings) -> list[str]:
    """Every range or choice a field violates, as one-line messages naming the field."""
    s = settings
    checks = [
        _bounds("epochs", s.epochs, 1, integer=True),
        _bounds("batch_size", s.batch_size, 1, integer=True),
        _bounds("lr", s.lr, 0, 10, integer=False, open_low=True),
        _bounds("momentum", s.momentum, 0, 0.999, integer=False),
        _bounds("weight_decay", s.weight_decay, 0, 1, integer=False),
        _bounds("warmup_iters", s.warmup_iters, 0, integer=True),
        _bounds("gamma", s.gamma, 0, 1, integer=False, open_low=True),
        _bounds("seed", s.seed, 0, 2**63 - 1, integer=True),
        _bounds("workers", s.workers, 0, 64, integer=True),
        *(_bounds("lr_steps", step, 1, integer=True) for step in s.lr_steps),
    ]
    if s.trainable_backbone_layers is not None:
        checks.append(
            _bounds("trainable_backbone_layers", s.trainable_backbone_layers, 0, 6, integer=True)
        )
    if s.input_size is not None:
        checks.append(_bounds("input_size", s.input_size, 32, 4096, integer=True))
    if list(s.lr_steps) != sorted(set(s.lr_steps)):
        checks.append(f"lr_steps must increase, got {list(s.lr_steps)}")
    checks += [_choice(name, getattr(s, name), allowed) for name, allowed in _CHOICES.items()]
    if s.weights is WeightSource.FILE and not s.weights_file:
        checks.append("weights 'file' needs weights_file (--weights-file: the state dict to use)")
    checks.append(_detector_problem(s.detector))
    checks.append(_arm_problem(s.arm))
    if s.train_split == s.val_split:
        checks.append(f"train_split and val_split are both {s.train_split!r}; choose two splits")
    return [problem for problem in checks if problem]


_CHOICES = {"schedule": SCHEDULES, "split_rule": SPLIT_RULES, "policy": POLICY_NAMES}


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value in allowed:
        return None
    return f"{name} must be one of {', '.join(allowed)}, got {value!r}"


def _detector_problem(name: str) -> str | None:
    from saliency_core.models.detection_heads import not_trainable, trainable_detectors
    from saliency_core.models.detectors import DETECTORS

    if name not in DETECTORS:
        return f"detector {name!r} is not in the registry; known: {', '.join(DETECTORS)}"
    return None if name in trainable_detectors() else str(not_trainable(name))


def _arm_problem(arm: str) -> str | None:
    """The arm is read by the augmentation arms' parser (``none`` needs nothing)."""
    if arm == "none":
        return None
    from saliency_core.augment.arms import parse_arm

    try:
        parse_arm(arm)
    except ValueError as error:
        return f"arm: {error}"
    return None


TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "torchvision": {},
    "study": {
        "detector": "Faster R-CNN R50-FPN",
        "weights": WeightSource.PRETRAINED,
        "lr": 0.005,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "batch_size": 4,
        "epochs": 5,
        "schedule": "step",
        "lr_steps": (2, 4),
        "gamma": 0.1,
        "split_rule": "study",
        "train_split": "train",
        "val_split": "test",
        "workers": 2,
    },
}
"""Overrides of the defaults per preset: ``torchvision`` is the defaults themselves (its lr
scaled to the batch size, :func:`preset_settings`); ``study`` is the study's recipe: SGD lr 0.005,
momentum 0.9, weight decay 5e-4, batch 4, 5 epochs with StepLR(step 2, γ 0.1), torchvision's
first-epoch warm-up, images with attention masks as the test set (validated on after every
epoch, as the study did); its non-trivial-transformation arm ran 10 epochs with StepLR(step 3),
:data:`STUDY_TRANSFORM_ARM`."""

STUDY_TRANSFORM_ARM: dict[str, Any] = {"epochs": 10, "lr_steps": (3, 6, 9)}
"""The study's overrides for an arm with the non-trivial transformations."""
LR_SCALED_PRESETS = ("torchvision",)
"""Presets whose lr is :data:`LR_PER_IMAGE` × batch size unless the lr is given."""


def preset_settings(preset: str, **given: Any) -> TrainSettings:
    """Defaults < preset < ``given``: the torchvision preset scales its lr to the batch size
    (linear scaling rule); the study preset's transform arm trains 10 epochs, StepLR step 3."""
    if preset not in TRAIN_PRESETS:
        raise SettingsError(f"Unknown preset {preset!r}; known: {', '.join(TRAIN_PRESETS)}")
    values = dict(TRAIN_PRESETS[preset])
    if preset == "study" and "transform" in str(given.get("arm", "none")).split("+"):
        values |= STUDY_TRANSFORM_ARM
    values |= given
    if preset in LR_SCALED_PRESETS and "lr" not in given:
        values["lr"] = LR_PER_IMAGE * values.get("batch_size", TrainSettings.batch_size)
    return TrainSettings.from_dict(values)


def write_settings(settings: TrainSettings, path: Path) -> None:
    """``settings.toml``, written atomically."""
    write_bytes_atomic(path, settings.to_toml().encode())


def read_settings(path: Path) -> TrainSettings:
    """Settings written by :func:`write_settings` (a missing optional field is None); the
    message of a bad file names it."""
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: {error}") from error
    try:
        return TrainSettings.from_dict({name: None for name in OPTIONAL_FIELDS} | values)
    except (SettingsError, TypeError) as error:
        raise SettingsError(f"{path}: {error}") from error


__all__ = [
    "FIELD_TYPES",
    "LR_PER_IMAGE",
    "SCHEDULES",
    "SPLIT_RULES",
    "STUDY_TRANSFORM_ARM",
    "TRAIN_PRESETS",
    "TrainSettings",
    "preset_settings",
    "read_settings",
    "write_settings",
]
