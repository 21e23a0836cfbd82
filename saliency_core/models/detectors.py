"""The detector registry: torchvision's detection models, DETR and YOLO.

Each torchvision :class:`TorchvisionSpec` carries the builder and weights enum (for the
official COCO weights, file name and categories), the CAM target layers with their reshape
transform, and the keyword that sets the model's internal score threshold. DETR
(:mod:`saliency_core.models.detr`, Hugging Face ``transformers``) and YOLO
(:mod:`saliency_core.models.yolo`, ``ultralytics``) are optional entries of the same
:data:`DETECTORS` registry. Models are built with one of three weight sources
(:class:`~saliency_core.models.weights.WeightSource`).

Input convention (torchvision): float RGB tensor in [0, 1], shape (3, H, W); the model
normalises and resizes internally (Faster R-CNN family: shorter side to ``min_size`` = 800 px).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models import detection as tvd
from torchvision.models._api import WeightsEnum

from saliency_core.models import detr, yolo
from saliency_core.models.detector_spec import (
    INTERNAL_SCORE_THRESHOLD,
    DetectorSpec,
    Progress,
    TargetLayer,
    categories_beside,
    numbered_categories,
)
from saliency_core.models.weights import (
    Checkpoint,
    Labelled,
    WeightSource,
    load_state_dict_file,
    load_strict,
    weights_file,
)

__all__ = [
    "DETECTORS",
    "INTERNAL_SCORE_THRESHOLD",
    "DetectorSpec",
    "LoadedDetector",
    "TargetLayer",
    "TorchvisionSpec",
    "get_spec",
    "load_detector",
    "pretrained_path",
    "to_input_tensor",
]


def fpn_reshape_transform(features: dict[str, torch.Tensor]) -> torch.Tensor:
    """Stack all FPN levels into one tensor at the coarsest level's size: |x| resized bilinearly.

    Generalises pytorch-grad-cam's ``fasterrcnn_reshape_transform`` (which assumes a 'pool'
    level) to any FPN, e.g. RetinaNet/FCOS's P3–P7.
    """
    levels = list(features.values())
    size = levels[-1].shape[-2:]
    resized = [
        nn.functional.interpolate(level.abs(), size=size, mode="bilinear", align_corners=False)
        for level in levels
    ]
    return torch.cat(resized, dim=1)


@dataclass(frozen=True, kw_only=True)
class TorchvisionSpec(DetectorSpec):
    """A torchvision detection model: builder, weights enum and class-count layer."""

    builder: Callable[..., nn.Module]
    weights: WeightsEnum
    threshold_kwarg: str
    class_count_key: str
    class_count_divisor: int = 1
    resizable: bool = True
    extra_kwargs: dict = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return list(self.weights.meta["categories"])

    @property
    def checkpoint(self) -> Checkpoint:
        """The official COCO checkpoint (torchvision's weights URL)."""
        return Checkpoint(self.weights.url, f"Pretrained COCO weights for {self.name}")

    @property
    def checkpoint_name(self) -> str:
        return self.checkpoint.name

    def pretrained_path(self) -> Path:
        """The official COCO checkpoint in the torch hub cache."""
        return self.checkpoint.path

    def build_untrained(self, input_size: int | None) -> tuple[nn.Module, list[str]]:
        return _build(self, len(self.categories), input_size)

    def load_file(self, path: Path, input_size: int | None) -> tuple[nn.Module, list[str]]:
        state = load_state_dict_file(path)
        model, categories = _build(self, _num_classes(self, state), input_size)
        load_strict(model, state, path.name)
        return model, categories

    def load_pretrained(
        self, input_size: int | None, progress: Progress | None
    ) -> tuple[nn.Module, list[str]]:
        state = self.checkpoint.load(progress)
        model, categories = _build(self, len(self.categories), input_size)
        load_strict(model, state, self.checkpoint_name)
        return model, categories


_LAYER4 = TargetLayer("backbone.body.layer4", "ResNet-50 layer4 (stride 32; the study's choice)")
_FPN = TargetLayer("backbone", "all FPN levels, resized to the coarsest", fpn_reshape_transform)


def _resnet_fpn(
    name: str, builder, weights, family: str, count_key: str, threshold: str, divisor: int = 1
) -> TorchvisionSpec:
    return TorchvisionSpec(
        name=name,
        builder=builder,
        weights=weights,
        targets={"layer4": _LAYER4, "FPN": _FPN},
        threshold_kwarg=threshold,
        family=family,
        class_count_key=count_key,
        class_count_divisor=divisor,
    )


_RCNN_KEY = "roi_heads.box_predictor.cls_score.weight"
_RETINA_KEY = "head.classification_head.cls_logits.weight"

DETECTORS: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        _resnet_fpn(
            "Faster R-CNN R50-FPN",
            tvd.fasterrcnn_resnet50_fpn,
            tvd.FasterRCNN_ResNet50_FPN_Weights.COCO_V1,
            "two-stage",
            _RCNN_KEY,
            "box_score_thresh",
        ),
        _resnet_fpn(
            "Faster R-CNN R50-FPN v2",
            tvd.fasterrcnn_resnet50_fpn_v2,
            tvd.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1,
            "two-stage",
            _RCNN_KEY,
            "box_score_thresh",
        ),
        _resnet_fpn(
            "Mask R-CNN R50-FPN",
            tvd.maskrcnn_resnet50_fpn,
            tvd.MaskRCNN_ResNet50_FPN_Weights.COCO_V1,
            "two-stage",
            _RCNN_KEY,
            "box_score_thresh",
        ),
        _resnet_fpn(
            "RetinaNet R50-FPN",
            tvd.retinanet_resnet50_fpn,
            tvd.RetinaNet_ResNet50_FPN_Weights.COCO_V1,
            "one-stage",
            _RETINA_KEY,
            "score_thresh",
            divisor=9,
        ),
        _resnet_fpn(
            "RetinaNet R50-FPN v2",
            tvd.retinanet_resnet50_fpn_v2,
            tvd.RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1,
            "one-stage",
            _RETINA_KEY,
            "score_thresh",
            divisor=9,
        ),
        _resnet_fpn(
            "FCOS R50-FPN",
            tvd.fcos_resnet50_fpn,
            tvd.FCOS_ResNet50_FPN_Weights.COCO_V1,
            "one-stage (anchor-free)",
            "head.classification_head.cls_logits.weight",
            "score_thresh",
        ),
        TorchvisionSpec(
            name="SSD300 VGG16",
            builder=tvd.ssd300_vgg16,
            weights=tvd.SSD300_VGG16_Weights.COCO_V1,
            targets={
                "extra[1]": TargetLayer(
                    "backbone.extra.1", "VGG16 extra block 1 (10×10; the study's choice)"
                ),
                "features": TargetLayer("backbone.features", "VGG16 conv4_3 features (38×38)"),
            },
            threshold_kwarg="score_thresh",
            family="one-stage",
            class_count_key="head.classification_head.module_list.0.weight",
            class_count_divisor=4,
            resizable=False,
            notes="Fixed 300×300 input.",
        ),
        TorchvisionSpec(
            name="SSDlite320 MobileNetV3",
            builder=tvd.ssdlite320_mobilenet_v3_large,
            weights=tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
            targets={
                "features[-1]": TargetLayer(
                    "backbone.features.1", "MobileNetV3 last feature stage (stride 32)"
                ),
            },
            threshold_kwarg="score_thresh",
            family="one-stage (mobile)",
            class_count_key="head.classification_head.module_list.0.1.weight",
            class_count_divisor=6,
            resizable=False,
            notes="Fixed 320×320 input.",
        ),
        *detr.DETR_SPECS,
        *yolo.YOLO_SPECS,
    )
}


@dataclass
class LoadedDetector(Labelled):
    """A built detector in eval mode with the facts needed to label its results."""

    spec: DetectorSpec
    model: nn.Module
    source: WeightSource
    categories: list[str]
    device: torch.device

    @property
    def name(self) -> str:
        return self.spec.name


def get_spec(name: str) -> DetectorSpec:
    try:
        return DETECTORS[name]
    except KeyError:
        known = ", ".join(DETECTORS)
        raise KeyError(f"Unknown detector {name!r}; known: {known}") from None


def pretrained_path(spec: DetectorSpec) -> Path:
    """Where the official COCO weights live once downloaded (file or cache folder)."""
    return spec.pretrained_path()


def _num_classes(spec: TorchvisionSpec, state: dict[str, torch.Tensor]) -> int:
    """Classes a state dict was trained for, read off its classification layer."""
    weight = state.get(spec.class_count_key)
    if weight is None:
        return len(spec.categories)
    return int(weight.shape[0]) // spec.class_count_divisor


def _categories_for(spec: TorchvisionSpec, num_classes: int) -> list[str]:
    if num_classes == len(spec.categories):
        return spec.categories
    return numbered_categories(num_classes)


def _build(
    spec: TorchvisionSpec, num_classes: int, input_size: int | None
) -> tuple[nn.Module, list[str]]:
    kwargs = {spec.threshold_kwarg: INTERNAL_SCORE_THRESHOLD, **spec.extra_kwargs}
    if input_size is not None and spec.resizable:
        kwargs.update(min_size=input_size, max_size=input_size)
    model = spec.builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    return model, _categories_for(spec, num_classes)


def load_detector(
    name: str,
    source: WeightSource | str = WeightSource.UNTRAINED,
    weights_path: str | Path | None = None,
    input_size: int | None = None,
    device: torch.device | None = None,
    progress: Progress | None = None,
    seed: int = 0,
) -> LoadedDetector:
    """Build detector ``name`` with weights from ``source``; eval mode, on ``device``.

    ``input_size`` overrides the internal resize of resizable models (torchvision: min_size =
    max_size; DETR and YOLO: the longer side); ``None`` keeps each library's defaults (the
    study's setting). Untrained models are seeded so that the same name and seed always give
    the same random network. A weights file's categories are named by the ``classes.txt``
    beside it (:func:`~saliency_core.models.detector_spec.categories_beside`; torchvision's
    convention: background first, then the dataset's classes). An optional entry whose package
    is missing raises :class:`~saliency_core.models.weights.MissingPackageError` with the pip
    command.
    """
    spec = get_spec(name)
    source = WeightSource(source)
    device = device or torch.device("cpu")
    spec.require()
    if source is WeightSource.UNTRAINED:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model, categories = spec.build_untrained(input_size)
    elif source is WeightSource.FILE:
        path = weights_file(weights_path)
        model, categories = spec.load_file(path, input_size)
        categories = categories_beside(path, len(categories)) or categories
    else:
        model, categories = spec.load_pretrained(input_size, progress)
    model.eval().to(device)
    return LoadedDetector(spec, model, source, categories, device)


def to_input_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) → float (1, 3, H, W) in [0, 1] (torchvision's detection convention)."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    return tensor.unsqueeze(0).to(device)
