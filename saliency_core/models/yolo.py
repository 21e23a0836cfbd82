"""YOLOv5u, YOLOv8 and YOLO11 (n size) through ``ultralytics``, as torchvision-style detectors.

Optional and AGPL-3.0 licensed: ``pip install --no-deps -r requirements-yolo.txt`` (see that
file); imported only when a YOLO model is built, with ``YOLO_OFFLINE=1`` (no DNS probe at
import, no asset downloads). Models are built from ultralytics' YAML with
``DetectionModel`` — never through ``YOLO("x.pt")``, which downloads missing files.

:class:`YoloDetector` takes a [0, 1] RGB batch, resizes it (bilinear, no letterbox padding, so
that a CAM of the network input covers exactly the image) to a longer side of ``input_size``
(640 px by default) with both sides rounded up to a multiple of the stride 32, runs the
network once and applies ultralytics' post-processing math: class scores are sigmoids,
score = max over classes, boxes (cx, cy, w, h) in network pixels → (x1, y1, x2, y2) in image
pixels, then class-wise NMS (torchvision ``batched_nms``, IoU 0.7 as ultralytics' predictor)
and the 100 best. No score floor: an untrained head's scores sit at the bias prior
log(5 / nc / (640 / stride)²), about 1e-5..2e-4, below torchvision's 0.005.
COCO-trained models (80 classes) report COCO category ids, like the torchvision detectors.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torchvision.ops import batched_nms, box_convert, clip_boxes_to_image

from saliency_core.models.detector_spec import (
    COCO_CATEGORIES,
    DetectorSpec,
    Progress,
    TargetLayer,
    strip_prefix,
)
from saliency_core.models.weights import (
    Checkpoint,
    MissingWeightsError,
    load_state_dict_file,
    load_strict,
)

REQUIREMENTS = "requirements-yolo.txt"
ASSETS_URL = "https://github.com/ultralytics/assets/releases/download/v8.4.0/"
INPUT_SIZE = 640
NMS_IOU = 0.7
MAX_DETECTIONS = 100
COCO80_IDS = [i for i, name in enumerate(COCO_CATEGORIES) if name not in ("__background__", "N/A")]
"""COCO category id of each of the 80 classes YOLO models are trained on (person = 1 … = 90)."""
COCO80_NAMES = [COCO_CATEGORIES[i] for i in COCO80_IDS]


def _tasks():
    """``ultralytics.nn.tasks``, imported offline, with the process-wide patches undone.

    Importing ultralytics replaces ``PIL.Image.open`` (on an unidentified file it pip-installs
    pi-heif) and ``torch.save``; the rest of the app must keep the originals.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    originals = Image.open, torch.save
    try:
        from ultralytics.nn import tasks
    finally:
        Image.open, torch.save = originals
    return tasks


def network_size(height: int, width: int, input_size: int, stride: int) -> tuple[int, int]:
    """(h, w) fed to the network: longer side ``input_size``, both rounded up to the stride."""
    scale = input_size / max(height, width)
    return tuple(max(stride, math.ceil(side * scale / stride) * stride) for side in (height, width))


def yolo_detections(
    prediction: torch.Tensor,
    factor: torch.Tensor,
    image_size: tuple[int, int],
    label_ids: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """One image's (4 + nc, anchors) head output → torchvision dict (scores keep their graph).

    Boxes (cx, cy, w, h) in network pixels × ``factor`` (image px per network px for x, y, x,
    y) → (x1, y1, x2, y2) in image pixels; score = max class sigmoid; class-wise NMS at IoU
    ``NMS_IOU``; the ``MAX_DETECTIONS`` best, highest first; labels mapped by ``label_ids``.
    """
    boxes = box_convert(prediction[:4].T, "cxcywh", "xyxy") * factor
    scores, classes = prediction[4:].max(0)
    keep = batched_nms(boxes.detach(), scores.detach(), classes, NMS_IOU)[:MAX_DETECTIONS]
    return {
        "boxes": clip_boxes_to_image(boxes[keep], image_size),
        "scores": scores[keep],
        "labels": label_ids[classes[keep]],
    }


class YoloDetector(nn.Module):
    """An ultralytics ``DetectionModel`` behind torchvision's detector interface."""

    def __init__(self, net: nn.Module, label_ids: torch.Tensor, input_size: int = INPUT_SIZE):
        super().__init__()
        self.net = net
        self.input_size = input_size
        self.stride = int(net.stride.max())
        self.register_buffer("label_ids", label_ids, False)

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        height, width = images.shape[-2:]
        size = network_size(height, width, self.input_size, self.stride)
        pixels = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        predictions = self.net(pixels)[0]  # (B, 4 + nc, anchors): cxcywh pixels, sigmoid scores
        factor = images.new_tensor([width / size[1], height / size[0]] * 2)
        return [
            yolo_detections(item, factor, (height, width), self.label_ids) for item in predictions
        ]


@dataclass(frozen=True, kw_only=True)
class YoloSpec(DetectorSpec):
    """An ultralytics model: its YAML, its official weights file, its class-count layer."""

    yaml: str
    weights_file: str
    head: int

    @property
    def categories(self) -> list[str]:
        return COCO_CATEGORIES

    @property
    def checkpoint_name(self) -> str:
        return self.weights_file

    @property
    def checkpoint(self) -> Checkpoint:
        """The official ``.pt`` file (Ultralytics' release assets)."""
        url = ASSETS_URL + self.weights_file
        return Checkpoint(url, f"Pretrained COCO weights for {self.name}")

    def pretrained_path(self) -> Path:
        """The official ``.pt`` file in the torch hub cache, next to torchvision's weights."""
        return self.checkpoint.path

    def _build(
        self, names: list[str], input_size: int | None
    ) -> tuple[nn.Module, list[str], nn.Module]:
        net = _tasks().DetectionModel(self.yaml, nc=len(names), verbose=False)
        if names == COCO80_NAMES:
            label_ids, categories = torch.tensor(COCO80_IDS), COCO_CATEGORIES
        else:
            label_ids, categories = torch.arange(len(names)), list(names)
        return YoloDetector(net, label_ids, input_size or INPUT_SIZE), categories, net

    def build_untrained(self, input_size: int | None) -> tuple[nn.Module, list[str]]:
        model, categories, _ = self._build(COCO80_NAMES, input_size)
        return model, categories

    def load_file(self, path: Path, input_size: int | None) -> tuple[nn.Module, list[str]]:
        """A state dict of ``DetectionModel`` (or :class:`YoloDetector`), or an Ultralytics
        ``.pt`` checkpoint (read with its weights-only loader, no arbitrary unpickling)."""
        state, names = _read_checkpoint(path)
        if names is None:
            classes = state.get(f"model.{self.head}.cv3.0.2.weight")
            count = 80 if classes is None else int(classes.shape[0])
            names = COCO80_NAMES if count == 80 else [f"class {k}" for k in range(count)]
        model, categories, net = self._build(names, input_size)
        load_strict(net, state, path.name)
        return model, categories

    def load_pretrained(
        self, input_size: int | None, progress: Progress | None
    ) -> tuple[nn.Module, list[str]]:
        return self.load_file(self.checkpoint.fetch(progress), input_size)


def _read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], list[str] | None]:
    """(state dict, class names or None) of a bare state dict or an Ultralytics checkpoint."""
    try:
        return strip_prefix(load_state_dict_file(path), "net."), None
    except MissingWeightsError:
        if not path.is_file():
            raise
    tasks = _tasks()
    from ultralytics.utils.checks import check_yolov5u_filename

    if check_yolov5u_filename(str(path), verbose=False) != str(path):
        raise MissingWeightsError(
            f"`{path.name}` is named like an original (anchor-based) YOLOv5 checkpoint, which "
            "the anchor-free YOLOv5u cannot load; a YOLOv5u file is named like `yolov5nu.pt`."
        )
    try:
        checkpoint, _ = tasks.torch_safe_load(str(path), safe_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise MissingWeightsError(
            f"{path.name} is neither a state dict nor an Ultralytics checkpoint ({error})"
        ) from error
    model = checkpoint.get("ema") or checkpoint.get("model")
    if not isinstance(model, nn.Module):
        raise MissingWeightsError(f"{path.name} holds no Ultralytics model")
    names = model.names
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    return {key: value.float() for key, value in model.state_dict().items()}, names


NO_ABLATION = (
    "ultralytics' layer loop reads routing attributes (.f, .i) off each layer, which "
    "pytorch-grad-cam's ablation layer lacks"
)


def _spec(name: str, yaml: str, weights_file: str, neck: tuple[int, int, int]) -> YoloSpec:
    p3, p4, p5 = neck
    return YoloSpec(
        name=name,
        yaml=yaml,
        weights_file=weights_file,
        head=p5 + 1,
        targets={
            "P5 (neck)": TargetLayer(
                f"net.model.{p5}",
                "neck output at stride 32, the layer before the head (model[-2], as in "
                "pytorch-grad-cam's YOLOv5 tutorial)",
                no_ablation=NO_ABLATION,
            ),
            "P3–P5 (neck)": TargetLayer(
                f"net.model.{p3}",
                "the three neck outputs the head reads (strides 8, 16, 32), one CAM each, "
                "averaged",
                also=(f"net.model.{p4}", f"net.model.{p5}"),
                no_ablation=NO_ABLATION,
            ),
        },
        family="one-stage (anchor-free, Ultralytics)",
        notes="Ultralytics (AGPL-3.0); n size.",
        packages=("ultralytics",),
        install=f"pip install --no-deps -r {REQUIREMENTS}",
        licence="AGPL-3.0",
    )


YOLO_SPECS: tuple[YoloSpec, ...] = (
    _spec("YOLOv5u n", "yolov5nu.yaml", "yolov5nu.pt", (17, 20, 23)),
    _spec("YOLOv8 n", "yolov8n.yaml", "yolov8n.pt", (15, 18, 21)),
    _spec("YOLO11 n", "yolo11n.yaml", "yolo11n.pt", (16, 19, 22)),
)
