"""What a readout can stand on (:data:`BACKBONES`): every registry classifier, and the backbone of
every torchvision ResNet-50-FPN detector (Faster R-CNN, Mask R-CNN, RetinaNet, FCOS), each
with its registry's weight sources (a detector's ``pretrained``: its COCO weights; ``file``: a
state dict such as a ``saliency train`` run's ``model_final.pt``).

A backbone gives the feature extractor (``x`` → each chosen layer's output by name), how an
output becomes a (B, C, h, w) grid, its input normalisation and whether its input is square.
A detector's layers are the stages its ResNet-50 body returns (``layer1``–``layer4``, strides
4–32; RetinaNet and FCOS: ``layer2``–``layer4``) and its FPN levels as ``fpn.<level>`` (256
channels each: ``fpn.0``… and ``fpn.pool``; RetinaNet, FCOS: ``fpn.p6``, ``fpn.p7``); its input is
normalised with ImageNet's mean and standard deviation, as the detectors' own transform does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from saliency_core.models.classifiers import (
    CLASSIFIERS,
    ClassifierSpec,
    load_classifier,
    swin_channels_last_to_grid,
    vit_tokens_to_grid,
)
from saliency_core.models.detectors import DETECTORS, load_detector

if TYPE_CHECKING:
    from saliency_core.models.readout.network import ReadoutRecipe

Extractor = Callable[["ReadoutRecipe"], nn.Module]
DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "ResNet-50": ("layer3", "layer4"),
    "DenseNet-201": ("features.denseblock3", "features.norm5"),
    "ConvNeXt-T": ("features.5", "features.7"),
    "EfficientNet-B0": ("features.6", "features.8"),
    "ViT-B/16": ("encoder.layers.encoder_layer_8", "encoder.layers.encoder_layer_11"),
    "Swin-T": ("features.5", "features.7"),
}
"""Each classifier's default layers (torchvision module names): a stride-16 and a stride-32
stage (ViT: two late encoder blocks)."""
DETECTOR_DEFAULT = ("layer3", "layer4")
"""A detector backbone's default: the stride-16 and stride-32 stages of its ResNet-50 body, as
the ResNet-50 classifier's."""
RESNET_BODY = "backbone.body.layer4"
"""The module a ResNet-FPN detector's registry entry names as its layer4 CAM target."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ReadoutBackbone:
    """A backbone: ``extractor(recipe)`` builds the module (weights from the recipe's source);
    ``to_grid`` turns one of its outputs into (B, C, h, w); ``mean``/``std`` normalise the
    [0, 1] input; ``square`` inputs only (ViT); ``named`` how a label names it."""

    name: str
    layers: tuple[str, ...]
    extractor: Extractor
    to_grid: Callable[[torch.Tensor], torch.Tensor]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    square: bool = False
    named: str = "{name} [{weights} backbone{tuned}]"
    family: str = "classifier"
    """Its registry's family (``classifier``, ``detector``): whose timed steps estimate it."""


def _grid(spec: ClassifierSpec) -> Callable[[torch.Tensor], torch.Tensor]:
    """A classifier layer's output as (B, C, h, w): ViT tokens and Swin's channels-last maps
    rearranged."""

    def to_grid(output: torch.Tensor) -> torch.Tensor:
        if output.ndim == 3:
            return vit_tokens_to_grid(output)
        if spec.is_transformer:
            return swin_channels_last_to_grid(output)
        return output

    return to_grid


def _classifier_extractor(recipe: ReadoutRecipe) -> nn.Module:
    classifier = load_classifier(
        recipe.backbone,
        recipe.weights,
        recipe.weights_file,
        input_size=recipe.input_size,
        seed=recipe.seed,
    )
    return create_feature_extractor(
        classifier.model, return_nodes={name: name for name in recipe.layers}
    )


def _classifier(spec: ClassifierSpec) -> ReadoutBackbone:
    transform = spec.weights.transforms()
    return ReadoutBackbone(
        spec.name,
        DEFAULT_LAYERS[spec.name],
        _classifier_extractor,
        _grid(spec),
        tuple(transform.mean),
        tuple(transform.std),
        square=bool(spec.size_kwarg),
    )


class DetectorBody(nn.Module):
    """A ResNet-FPN detector's backbone, returning the chosen layers by name (module
    docstring); the FPN is kept (and run) only when an ``fpn.*`` layer is chosen."""

    def __init__(self, backbone: nn.Module, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.layers = layers
        self.body = backbone.body
        self.stages = {key: stage for stage, key in backbone.body.return_layers.items()}
        wants_fpn = any(name.startswith("fpn.") for name in layers)
        self.fpn = backbone.fpn if wants_fpn else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        body = self.body(x)
        outputs = {self.stages[key]: value for key, value in body.items()}
        if self.fpn is not None:
            outputs |= {f"fpn.{key}": value for key, value in self.fpn(body).items()}
        unknown = [name for name in self.layers if name not in outputs]
        if unknown:
            raise ValueError(
                f"Unknown detector backbone layer(s) {', '.join(unknown)}; choose from "
                f"{', '.join(outputs)}{'' if self.fpn else ', fpn.<level>'}"
            )
        return outputs


def _detector_extractor(recipe: ReadoutRecipe) -> nn.Module:
    detector = load_detector(recipe.backbone, recipe.weights, recipe.weights_file, seed=recipe.seed)
    return DetectorBody(detector.model.backbone, recipe.layers)


def _detector(name: str) -> ReadoutBackbone:
    return ReadoutBackbone(
        name,
        DETECTOR_DEFAULT,
        _detector_extractor,
        lambda output: output,
        IMAGENET_MEAN,
        IMAGENET_STD,
        named="{name} backbone [{weights}{tuned}]",
        family="detector",
    )


def _has_resnet_body(spec) -> bool:
    return any(target.path == RESNET_BODY for target in spec.targets.values())


BACKBONES: dict[str, ReadoutBackbone] = {
    **{name: _classifier(spec) for name, spec in CLASSIFIERS.items()},
    **{name: _detector(name) for name, spec in DETECTORS.items() if _has_resnet_body(spec)},
}
"""Registry name -> backbone: the classifiers, then the ResNet-FPN detectors."""


def readout_backbone(name: str) -> ReadoutBackbone:
    """The backbone ``name``; KeyError naming the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"Unknown backbone {name!r}; known: {', '.join(BACKBONES)}") from None
