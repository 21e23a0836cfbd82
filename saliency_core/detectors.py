"""The detector registry: one entry per torchvision detection model.

Each :class:`DetectorSpec` carries what the rest of the app needs to run the model and to take a
CAM from it: the torchvision builder and weights enum (for the official COCO weights, file name
and categories), the CAM target layers with their reshape transform, and the keyword that sets
the model's internal score threshold. Models are built with one of three weight sources
(:class:`~saliency_core.weights.WeightSource`).

Input convention (torchvision): float RGB tensor in [0, 1], shape (3, H, W); the model
normalises and resizes internally (Faster R-CNN family: shorter side to ``min_size`` = 800 px).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models import detection as tvd
from torchvision.models._api import WeightsEnum

from saliency_core.download import download_checkpoint
from saliency_core.weights import (
    MissingWeightsError,
    WeightSource,
    display_label,
    hub_checkpoint_dir,
    load_state_dict_file,
)

INTERNAL_SCORE_THRESHOLD = 0.005
"""Score floor inside the model; the app filters with its own (user-set) threshold afterwards.

Low enough that untrained models (class scores ≈ 1/91) still return candidate boxes."""


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


@dataclass(frozen=True)
class TargetLayer:
    """Where a CAM is taken: a module path, and how its output becomes one (B, C, h, w) tensor."""

    path: str
    description: str
    reshape_transform: Callable | None = None

    def resolve(self, model: nn.Module) -> nn.Module:
        module: nn.Module = model
        for part in self.path.split("."):
            module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)
        return module


@dataclass(frozen=True)
class DetectorSpec:
    """One registry entry. ``targets``' first item is the default CAM target (the study's)."""

    name: str
    builder: Callable[..., nn.Module]
    weights: WeightsEnum
    targets: dict[str, TargetLayer]
    threshold_kwarg: str
    family: str
    class_count_key: str
    class_count_divisor: int = 1
    resizable: bool = True
    notes: str = ""
    extra_kwargs: dict = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return list(self.weights.meta["categories"])

    @property
    def checkpoint_name(self) -> str:
        return Path(self.weights.url).name

    @property
    def default_target(self) -> str:
        return next(iter(self.targets))


_LAYER4 = TargetLayer("backbone.body.layer4", "ResNet-50 layer4 (stride 32; the study's choice)")
_FPN = TargetLayer("backbone", "all FPN levels, resized to the coarsest", fpn_reshape_transform)


def _resnet_fpn(
    name: str, builder, weights, family: str, count_key: str, threshold: str, divisor: int = 1
) -> DetectorSpec:
    return DetectorSpec(
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
        DetectorSpec(
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
        DetectorSpec(
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
    )
}


@dataclass
class LoadedDetector:
    """A built detector in eval mode with the facts needed to label its results."""

    spec: DetectorSpec
    model: nn.Module
    source: WeightSource
    categories: list[str]
    device: torch.device

    @property
    def label(self) -> str:
        return f"{self.spec.name} ({display_label(self.source)})"

    @property
    def trained(self) -> bool:
        return self.source is not WeightSource.UNTRAINED


def get_spec(name: str) -> DetectorSpec:
    try:
        return DETECTORS[name]
    except KeyError:
        known = ", ".join(DETECTORS)
        raise KeyError(f"Unknown detector {name!r}; known: {known}") from None


def pretrained_path(spec: DetectorSpec) -> Path:
    """Where the official COCO checkpoint lives once downloaded (the torch hub cache)."""
    return hub_checkpoint_dir() / spec.checkpoint_name


def _num_classes(spec: DetectorSpec, state: dict[str, torch.Tensor]) -> int:
    """Classes a state dict was trained for, read off its classification layer."""
    weight = state.get(spec.class_count_key)
    if weight is None:
        return len(spec.categories)
    return int(weight.shape[0]) // spec.class_count_divisor


def _categories_for(spec: DetectorSpec, num_classes: int) -> list[str]:
    if num_classes == len(spec.categories):
        return spec.categories
    return ["__background__"] + [f"class {k}" for k in range(1, num_classes)]


def _build(
    spec: DetectorSpec, num_classes: int, input_size: int | None
) -> tuple[nn.Module, list[str]]:
    kwargs = {spec.threshold_kwarg: INTERNAL_SCORE_THRESHOLD, **spec.extra_kwargs}
    if input_size is not None and spec.resizable:
        kwargs.update(min_size=input_size, max_size=input_size)
    model = spec.builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    return model, _categories_for(spec, num_classes)


def _strict_load(model: nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = re.split(r"\n\s*", str(error))[:4]
        raise MissingWeightsError(
            f"{origin} does not match this architecture: " + " ".join(first)
        ) from error


def _pretrained_state(spec: DetectorSpec, progress: Callable[[int, int], None] | None) -> dict:
    path = pretrained_path(spec)
    if not path.is_file():
        try:
            download_checkpoint(spec.weights.url, path, progress=progress)
        except OSError as error:
            raise MissingWeightsError(
                f"Pretrained COCO weights for {spec.name} are not available offline "
                f"({error.__class__.__name__}). Put the file `{spec.checkpoint_name}` "
                f"(from {spec.weights.url}) into `{path.parent}`, or choose the "
                f"'file' or 'untrained' weight source."
            ) from error
    return load_state_dict_file(path)


def load_detector(
    name: str,
    source: WeightSource | str = WeightSource.UNTRAINED,
    weights_path: str | Path | None = None,
    input_size: int | None = None,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> LoadedDetector:
    """Build detector ``name`` with weights from ``source``; eval mode, on ``device``.

    ``input_size`` overrides the internal resize (min_size = max_size) of resizable models;
    ``None`` keeps torchvision's defaults (the study's setting). Untrained models are seeded so
    that the same name and seed always give the same random network.
    """
    spec = get_spec(name)
    source = WeightSource(source)
    device = device or torch.device("cpu")
    if source is WeightSource.UNTRAINED:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model, categories = _build(spec, len(spec.categories), input_size)
    elif source is WeightSource.FILE:
        if weights_path is None:
            raise MissingWeightsError("The 'file' weight source needs a path to a state-dict file.")
        state = load_state_dict_file(weights_path)
        model, categories = _build(spec, _num_classes(spec, state), input_size)
        _strict_load(model, state, Path(weights_path).name)
    else:
        state = _pretrained_state(spec, progress)
        model, categories = _build(spec, len(spec.categories), input_size)
        _strict_load(model, state, spec.checkpoint_name)
    model.eval().to(device)
    return LoadedDetector(spec, model, source, categories, device)


def to_input_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) → float (1, 3, H, W) in [0, 1] (torchvision's detection convention)."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    return tensor.unsqueeze(0).to(device)
