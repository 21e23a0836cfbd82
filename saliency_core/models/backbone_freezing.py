"""Frozen backbone stages as torchvision's detection builders set them, applied to a built model.

torchvision freezes all but the last ``trainable_backbone_layers`` stages of a backbone (its
``_validate_trainable_layers``: only when the model starts from trained weights; a model trained
from scratch trains every stage) and, for the ResNet-50 v1 models, swaps the backbone's
BatchNorm for FrozenBatchNorm2d when it starts from trained weights. The registry builds every
model untrained (``weights=None``), so both happen here, after the weights are loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn
from torchvision.models import detection as tvd
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.ssd import SSDFeatureExtractorVGG
from torchvision.models.detection.ssdlite import SSDLiteFeatureExtractorMobileNet
from torchvision.ops.misc import FrozenBatchNorm2d

RESNET_STAGES = ("layer4", "layer3", "layer2", "layer1", "conv1")


def _freeze(modules: list[nn.Module]) -> None:
    for module in modules:
        module.requires_grad_(False)


def _freeze_resnet(backbone: BackboneWithFPN, trainable: int) -> None:
    """torchvision's ``_resnet_fpn_extractor``: only the last ``trainable`` of conv1, layer1..4
    train (bn1 with conv1 when all five do)."""
    kept = list(RESNET_STAGES[:trainable]) + (["bn1"] if trainable == 5 else [])
    for name, parameter in backbone.body.named_parameters():
        if not any(name.startswith(stage) for stage in kept):
            parameter.requires_grad_(False)


def _stage_freeze(blocks: list[list[nn.Module]], starts: list[int], trainable: int) -> None:
    """Freeze ``blocks`` before the first of the last ``trainable`` stages (``starts``: the block
    index of each stage, torchvision's ``stage_indices``); ``trainable`` 0 freezes them all."""
    before = len(blocks) if trainable == 0 else starts[len(starts) - trainable]
    _freeze([module for block in blocks[:before] for module in block])


def _freeze_vgg(backbone: SSDFeatureExtractorVGG, trainable: int) -> None:
    """torchvision's ``_vgg_extractor``: VGG16 stages start at 0 and after each max-pool; the
    layers after the fourth pool (conv5) sit in ``extra[0]`` before the new fc6/fc7."""
    layers = list(backbone.features)
    pools = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
    blocks = [[layer] for layer in layers] + [[layer] for layer in backbone.extra[0][:-1]]
    _stage_freeze(blocks, [0, *pools, len(layers)], trainable)


def _freeze_mobilenet(backbone: SSDLiteFeatureExtractorMobileNet, trainable: int) -> None:
    """torchvision's ``_mobilenet_extractor``: MobileNetV3 stages start at 0, at every strided
    block (``_is_cn``) and at the last block; the C4 block is split over the two feature parts."""
    first, second = backbone.features
    blocks = [[b] for b in first[:-1]] + [[first[-1], second[0]]] + [[b] for b in second[1:]]
    c4 = len(first) - 1
    strided = [i for i, block in enumerate(blocks) if getattr(block[0], "_is_cn", False) or i == c4]
    _stage_freeze(blocks, [0, *strided, len(blocks) - 1], trainable)


@dataclass(frozen=True)
class Stages:
    """A backbone kind's stage count, torchvision's default trainable count, and its freezer."""

    most: int
    default: int
    freeze: Callable[[nn.Module, int], None]


BACKBONES: dict[type, Stages] = {
    BackboneWithFPN: Stages(5, 3, _freeze_resnet),
    SSDFeatureExtractorVGG: Stages(5, 4, _freeze_vgg),
    SSDLiteFeatureExtractorMobileNet: Stages(6, 6, _freeze_mobilenet),
}
"""Backbone class -> its stages (the ResNet-FPN of the R-CNNs, RetinaNet and FCOS; SSD's VGG16;
SSDlite's MobileNetV3)."""

FROZEN_NORM_BUILDERS = (
    tvd.fasterrcnn_resnet50_fpn,
    tvd.maskrcnn_resnet50_fpn,
    tvd.retinanet_resnet50_fpn,
    tvd.fcos_resnet50_fpn,
)
"""Builders whose ResNet-50 uses FrozenBatchNorm2d when it starts from trained weights (the v2
models keep BatchNorm2d)."""


def trainable_stages(model: nn.Module, wanted: int | None, trained: bool) -> int:
    """torchvision's ``_validate_trainable_layers``: every stage when not ``trained``, the
    model's default when ``wanted`` is None; a count above the backbone's stages is refused."""
    stages = BACKBONES[type(model.backbone)]
    if not trained:
        return stages.most
    count = stages.default if wanted is None else wanted
    if not 0 <= count <= stages.most:
        raise ValueError(
            f"trainable_backbone_layers must be in 0..{stages.most} for this backbone, got {count}"
        )
    return count


def freeze_backbone(model: nn.Module, trainable: int) -> None:
    """Stop gradients in all but the last ``trainable`` backbone stages."""
    BACKBONES[type(model.backbone)].freeze(model.backbone, trainable)


def freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Every BatchNorm2d inside ``module`` replaced by a FrozenBatchNorm2d with its statistics
    and affine parameters (returned; children replaced in place)."""
    if isinstance(module, nn.BatchNorm2d):
        frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(frozen, name).copy_(getattr(module, name).detach())
        return frozen
    for name, child in module.named_children():
        setattr(module, name, freeze_batch_norm(child))
    return module
