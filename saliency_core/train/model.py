"""The model a run fine-tunes: a registry detector from its weight source, with a head for the
dataset's classes and torchvision's frozen backbone stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from saliency_core.models import backbone_freezing
from saliency_core.models.detection_heads import replace_head, require_trainable
from saliency_core.models.detectors import DetectorSpec, get_spec, load_detector
from saliency_core.models.weights import WeightSource
from saliency_core.train.recipe import TrainSettings

BACKGROUND = "__background__"


@dataclass(frozen=True)
class TrainableModel:
    """The model (train mode, CPU) and what the run records about it."""

    model: nn.Module
    categories: tuple[str, ...]  # "__background__", then the dataset's classes
    new_head: bool
    trainable_stages: int
    frozen_norm: bool


def categories_for(classes: tuple[str, ...]) -> tuple[str, ...]:
    """A fine-tuned model's categories: background, then the dataset's classes (label i + 1)."""
    return (BACKGROUND, *classes)


def _fix_input_size(model: nn.Module, spec: DetectorSpec, size: int | None) -> None:
    """A fixed-size model (SSD, SSDlite) resized to ``size``² (its anchors follow the feature
    maps); resizable models got ``size`` from the registry already."""
    if size is not None and not getattr(spec, "resizable", True):
        model.transform.min_size, model.transform.max_size = (size,), size
        model.transform.fixed_size = (size, size)


def build_model(settings: TrainSettings, classes: tuple[str, ...]) -> TrainableModel:
    """Load ``settings.detector`` from its weight source (untrained: seeded with
    ``settings.seed``), give it a new head of ``len(classes) + 1`` outputs unless a weights file
    already has exactly that many, then freeze backbone stages as torchvision does."""
    spec = get_spec(settings.detector)
    require_trainable(spec)
    loaded = load_detector(
        spec.name,
        settings.weights,
        settings.weights_file and Path(settings.weights_file),
        settings.input_size,
        seed=settings.seed,
    )
    model, count = loaded.model, len(classes) + 1
    new_head = not (settings.weights is WeightSource.FILE and len(loaded.categories) == count)
    if new_head:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            replace_head(model, spec, count)
    _fix_input_size(model, spec, settings.input_size)
    trained = settings.weights is not WeightSource.UNTRAINED
    stages = backbone_freezing.trainable_stages(model, settings.trainable_backbone_layers, trained)
    frozen_norm = (
        trained and getattr(spec, "builder", None) in backbone_freezing.FROZEN_NORM_BUILDERS
    )
    if frozen_norm:
        backbone_freezing.freeze_batch_norm(model.backbone.body)
    backbone_freezing.freeze_backbone(model, stages)
    return TrainableModel(model.train(), categories_for(classes), new_head, stages, frozen_norm)


def parameter_groups(model: nn.Module) -> list[torch.nn.Parameter]:
    """The parameters the optimiser updates (frozen stages excluded)."""
    return [parameter for parameter in model.parameters() if parameter.requires_grad]
