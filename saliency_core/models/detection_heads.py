"""A detector's class-dependent head replaced by a fresh one for ``num_classes`` outputs (index 0
is background), the way torchvision's fine-tuning tutorial does it, one entry per model class.

The new layers take their input widths, anchor counts and normalisation from the head they
replace, so any backbone, input size or anchor generator of the family works. Only the
class-dependent layers are new; box regression keeps its (pretrained) weights.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, MaskRCNN, RetinaNet
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.fcos import FCOSClassificationHead
from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor
from torchvision.models.detection.retinanet import RetinaNetClassificationHead
from torchvision.models.detection.ssd import SSD, SSDClassificationHead, SSDHead
from torchvision.models.detection.ssdlite import SSDLiteClassificationHead, SSDLiteHead

from saliency_core.models.detector_spec import DetectorSpec
from saliency_core.models.detectors import DETECTORS, TorchvisionSpec


def _faster_rcnn(model: FasterRCNN, num_classes: int) -> None:
    predictor = model.roi_heads.box_predictor
    model.roi_heads.box_predictor = FastRCNNPredictor(predictor.cls_score.in_features, num_classes)


def _mask_rcnn(model: MaskRCNN, num_classes: int) -> None:
    _faster_rcnn(model, num_classes)
    upsample = model.roi_heads.mask_predictor.conv5_mask
    model.roi_heads.mask_predictor = MaskRCNNPredictor(
        upsample.in_channels, upsample.out_channels, num_classes
    )


def _group_norm(conv: nn.Sequential) -> Callable[[int], nn.Module] | None:
    """The GroupNorm factory of a head's conv tower (v2 heads, FCOS), or None (no norm)."""
    norm = next((m for m in conv.modules() if isinstance(m, nn.GroupNorm)), None)
    return None if norm is None else partial(nn.GroupNorm, norm.num_groups)


def _retinanet(model: RetinaNet, num_classes: int) -> None:
    head = model.head.classification_head
    model.head.classification_head = RetinaNetClassificationHead(
        head.cls_logits.in_channels,
        head.num_anchors,
        num_classes,
        norm_layer=_group_norm(head.conv),
    )


def _fcos(model: FCOS, num_classes: int) -> None:
    head = model.head.classification_head
    convs = sum(isinstance(layer, nn.Conv2d) for layer in head.conv)
    model.head.classification_head = FCOSClassificationHead(
        head.cls_logits.in_channels,
        head.num_anchors,
        num_classes,
        num_convs=convs,
        norm_layer=_group_norm(head.conv),
    )


def _ssd_classifier(model: SSD, num_classes: int) -> nn.Module:
    layers = model.head.classification_head.module_list
    anchors = model.anchor_generator.num_anchors_per_location()
    return SSDClassificationHead([layer.in_channels for layer in layers], anchors, num_classes)


def _ssdlite_classifier(model: SSD, num_classes: int) -> nn.Module:
    blocks = model.head.classification_head.module_list  # (depthwise conv+norm+act, 1x1 conv)
    norm = blocks[0][0][1]
    return SSDLiteClassificationHead(
        [block[0][0].in_channels for block in blocks],
        model.anchor_generator.num_anchors_per_location(),
        num_classes,
        partial(nn.BatchNorm2d, eps=norm.eps, momentum=norm.momentum),
    )


SSD_CLASSIFIERS: dict[type, Callable[[SSD, int], nn.Module]] = {
    SSDHead: _ssd_classifier,
    SSDLiteHead: _ssdlite_classifier,
}
"""SSD's head kind (the VGG one, or SSDlite's depthwise one) -> its classification head."""


def _ssd(model: SSD, num_classes: int) -> None:
    model.head.classification_head = SSD_CLASSIFIERS[type(model.head)](model, num_classes)


HEADS: dict[type, Callable[[nn.Module, int], None]] = {
    MaskRCNN: _mask_rcnn,
    FasterRCNN: _faster_rcnn,
    RetinaNet: _retinanet,
    FCOS: _fcos,
    SSD: _ssd,
}
"""torchvision model class -> replaces its class-dependent head in place (the most derived class
is looked up first, so Mask R-CNN's mask predictor is replaced too)."""


def trainable_detectors() -> list[str]:
    """Registry names whose models :func:`replace_head` knows: the torchvision entries."""
    return [name for name, spec in DETECTORS.items() if isinstance(spec, TorchvisionSpec)]


def _replacer(model_class: type) -> Callable[[nn.Module, int], None] | None:
    for cls in model_class.__mro__:
        if cls in HEADS:
            return HEADS[cls]
    return None


def not_trainable(name: str) -> ValueError:
    """The refusal of a detector whose head is not replaced here."""
    return ValueError(
        f"{name} cannot be fine-tuned here (only torchvision detectors' heads are replaced); "
        f"trainable detectors: {', '.join(trainable_detectors())}"
    )


def require_trainable(spec: DetectorSpec) -> None:
    """Refuse a registry entry :func:`replace_head` does not know (DETR, YOLO), before any
    weights are loaded."""
    if not isinstance(spec, TorchvisionSpec):
        raise not_trainable(spec.name)


def replace_head(model: nn.Module, spec: DetectorSpec, num_classes: int) -> nn.Module:
    """``model`` with a new class-dependent head of ``num_classes`` outputs (background
    included), replaced in place and returned; a model of another kind (DETR, YOLO) is refused
    naming the detectors that can be fine-tuned here."""
    replace = _replacer(type(model))
    if replace is None:
        raise not_trainable(f"{spec.name} ({type(model).__name__})")
    replace(model, num_classes)
    return model
