"""Fine-tuning heads and frozen stages: every torchvision family's head is replaced with the
new class count (loadable as the registry's file weights), DETR/YOLO are refused by name, and
the frozen backbone stages equal torchvision's own builders' for every count."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet50, vgg16
from torchvision.models.detection import backbone_utils, ssd, ssdlite
from torchvision.ops.misc import FrozenBatchNorm2d

from saliency_core.models.backbone_freezing import freeze_backbone
from saliency_core.models.detection_heads import replace_head, trainable_detectors
from saliency_core.models.detectors import DETECTORS, _build, load_detector
from saliency_core.train.model import build_model
from saliency_core.train.recipe import TrainSettings

pytestmark = pytest.mark.usefixtures("one_thread")


CLASS_LAYERS = {
    "Faster R-CNN R50-FPN": {"roi_heads.box_predictor.cls_score.weight": (4, 1024)},
    "Faster R-CNN R50-FPN v2": {"roi_heads.box_predictor.cls_score.weight": (4, 1024)},
    "Mask R-CNN R50-FPN": {
        "roi_heads.box_predictor.cls_score.weight": (4, 1024),
        "roi_heads.mask_predictor.mask_fcn_logits.weight": (4, 256, 1, 1),
    },
    "RetinaNet R50-FPN": {"head.classification_head.cls_logits.weight": (9 * 4, 256, 3, 3)},
    "RetinaNet R50-FPN v2": {"head.classification_head.cls_logits.weight": (9 * 4, 256, 3, 3)},
    "FCOS R50-FPN": {"head.classification_head.cls_logits.weight": (4, 256, 3, 3)},
    "SSD300 VGG16": {"head.classification_head.module_list.0.weight": (4 * 4, 512, 3, 3)},
    "SSDlite320 MobileNetV3": {
        "head.classification_head.module_list.0.1.weight": (6 * 4, 672, 1, 1)
    },
}


def test_every_torchvision_family_is_trainable() -> None:
    assert trainable_detectors() == list(CLASS_LAYERS)


@pytest.mark.parametrize("name", list(CLASS_LAYERS))
def test_replaced_head_has_the_new_class_count(name: str, tmp_path) -> None:
    spec = DETECTORS[name]
    model, _ = _build(spec, 91, 64)
    replace_head(model, spec, 4)
    state = model.state_dict()
    for key, shape in CLASS_LAYERS[name].items():
        assert tuple(state[key].shape) == shape
    # the registry reads the class count back off the file and loads it strictly
    torch.save(state, tmp_path / "w.pt")
    loaded = load_detector(name, "file", tmp_path / "w.pt", input_size=64)
    assert loaded.categories == ["__background__", "class 1", "class 2", "class 3"]


def test_detr_and_yolo_are_refused_naming_the_trainable_ones() -> None:
    with pytest.raises(ValueError, match=r"^DETR R50 cannot be fine-tuned here") as error:
        TrainSettings(detector="DETR R50", weights="untrained")
    assert "trainable detectors: Faster R-CNN R50-FPN, " in str(error.value)
    spec = DETECTORS["YOLO11 n"]
    with pytest.raises(ValueError, match=r"^YOLO11 n \(Linear\) cannot be fine-tuned here"):
        replace_head(nn.Linear(1, 1), spec, 3)


def _frozen(model: nn.Module, prefix: str = "") -> list[str]:
    return sorted(
        name[len(prefix) :] for name, p in model.named_parameters() if not p.requires_grad
    )


@pytest.mark.parametrize("trainable", range(6))
def test_resnet_stages_frozen_as_torchvision(trainable: int) -> None:
    reference = backbone_utils._resnet_fpn_extractor(resnet50(), trainable)
    model, _ = _build(DETECTORS["FCOS R50-FPN"], 91, 64)
    freeze_backbone(model, trainable)
    assert _frozen(model, "backbone.") == _frozen(reference)


@pytest.mark.parametrize("trainable", range(6))
def test_vgg_stages_frozen_as_torchvision(trainable: int) -> None:
    reference = ssd._vgg_extractor(vgg16(), False, trainable)
    model, _ = _build(DETECTORS["SSD300 VGG16"], 91, None)
    freeze_backbone(model, trainable)
    assert _frozen(model, "backbone.") == _frozen(reference)


@pytest.mark.parametrize("trainable", range(7))
def test_mobilenet_stages_frozen_as_torchvision(trainable: int) -> None:
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    backbone = mobilenet_v3_large(norm_layer=norm, reduced_tail=False, dilated=False)
    reference = ssdlite._mobilenet_extractor(backbone, trainable, norm)
    model, _ = _build(DETECTORS["SSDlite320 MobileNetV3"], 91, None)
    freeze_backbone(model, trainable)
    assert _frozen(model, "backbone.") == _frozen(reference)


def test_a_file_model_keeps_its_head_and_freezes_like_a_pretrained_one(tmp_path) -> None:
    spec = DETECTORS["Faster R-CNN R50-FPN"]
    model, _ = _build(spec, 3, 64)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    settings = TrainSettings(weights="file", weights_file=str(tmp_path / "w.pt"), input_size=64)
    built = build_model(settings, ("a", "b"))
    assert not built.new_head and built.categories == ("__background__", "a", "b")
    head = built.model.roi_heads.box_predictor.cls_score.weight
    assert torch.equal(head, model.roi_heads.box_predictor.cls_score.weight)
    assert (built.trainable_stages, built.frozen_norm) == (3, True)
    assert isinstance(built.model.backbone.body.bn1, FrozenBatchNorm2d)
    assert not built.model.backbone.body.layer1[0].conv1.weight.requires_grad
    assert built.model.backbone.body.layer2[0].conv1.weight.requires_grad
    # a different class count gets a new head
    assert build_model(settings, ("a", "b", "c")).new_head


def test_untrained_models_train_every_stage_and_are_seeded() -> None:
    settings = TrainSettings(detector="SSDlite320 MobileNetV3", weights="untrained", seed=3)
    first, second = build_model(settings, ("a",)), build_model(settings, ("a",))
    assert first.trainable_stages == 6 and not first.frozen_norm
    assert all(p.requires_grad for p in first.model.parameters())
    for a, b in zip(
        first.model.state_dict().values(), second.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
