"""DETR (transformers) and YOLO (ultralytics): wrappers, weight sources, targets, missing packages.

Every test runs offline: ``no_network`` makes any socket connection fail loudly, so a test
that passes proves that nothing was downloaded.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import socket
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from optional_extras import require, require_module

from saliency_core.maps.cams import ExplainedDetections, run_cam
from saliency_core.models import detectors as D
from saliency_core.models.detr import DETR_SPECS, detr_detections
from saliency_core.models.weights import MissingPackageError, MissingWeightsError, WeightSource
from saliency_core.models.yolo import (
    COCO80_IDS,
    COCO80_NAMES,
    YOLO_SPECS,
    _tasks,
    network_size,
    yolo_detections,
)

pytestmark = pytest.mark.extras

SIZE = 128
OPTIONAL = [spec.name for spec in (*DETR_SPECS, *YOLO_SPECS)]


def _require(name: str) -> None:
    """Skip where the entry's optional package is not installed (fail where CI requires it)."""
    require(D.get_spec(name).unavailable_reason)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    rgb = (rng.random((SIZE, SIZE + 32, 3)) * 60).astype(np.uint8)
    rgb[30:90, 40:120] = 230
    return rgb


@pytest.fixture(scope="module")
def tasks():
    """``ultralytics.nn.tasks`` through :mod:`saliency_core.models.yolo` (offline, patches
    undone)."""
    _require("YOLOv8 n")
    return _tasks()


@pytest.fixture(scope="module")
def loaded() -> dict[str, D.LoadedDetector]:
    """Untrained models, built once for the module."""
    return {}


def untrained(cache: dict, name: str) -> D.LoadedDetector:
    _require(name)
    if name not in cache:
        cache[name] = D.load_detector(name, "untrained", input_size=SIZE)
    return cache[name]


@pytest.mark.parametrize(
    ("name", "target"),
    [("DETR R50", "encoder"), ("YOLOv8 n", "P3–P5 (neck)"), ("YOLO11 n", "P3–P5 (neck)")],
)
def test_second_targets_yield_cams_for_eigen_and_gradient_methods(
    name: str, target: str, image: np.ndarray, loaded: dict
):
    detector = untrained(loaded, name)
    maps = {}
    for method in ("EigenCAM", "GradCAM"):
        output = run_cam(detector, image, method, target=target)
        assert output.cam.shape == image.shape[:2] and output.cam.dtype == np.float32
        assert output.cam.min() == 0.0 and output.cam.max() == 1.0
        assert len(output.detections) > 0 and output.target == target
        maps[method] = output.cam
    assert not np.allclose(maps["EigenCAM"], maps["GradCAM"])


def test_building_yolo_and_detr_leaves_pil_and_torch_save_alone(loaded: dict):
    from PIL import Image

    untrained(loaded, "YOLOv8 n"), untrained(loaded, "DETR R50")
    assert Image.open.__module__ == "PIL.Image" and torch.save.__module__ == "torch.serialization"


def test_yolo_targets_are_the_heads_inputs():
    for spec in YOLO_SPECS:
        _require(spec.name)
        model = D.load_detector(spec.name, "untrained", input_size=64).model
        head = model.net.model[-1]
        neck = spec.targets["P3–P5 (neck)"]
        assert [neck.path, *neck.also] == [f"net.model.{k}" for k in head.f]
        assert spec.targets["P5 (neck)"].resolve(model) is model.net.model[-2]
        assert spec.head == len(model.net.model) - 1


def test_detr_encoder_tokens_are_reshaped_to_the_backbone_grid(image: np.ndarray, loaded: dict):
    detector = untrained(loaded, "DETR R50")
    model = detector.model
    seen = {}
    layer = D.get_spec("DETR R50").targets["encoder"]
    handle = layer.resolve(model).register_forward_hook(
        lambda m, i, out: seen.update(grid=layer.reshape_for(model)(out).shape)
    )
    with torch.no_grad():
        model(torch.zeros(1, 3, 128, 160))
    handle.remove()
    # longer side 128 → 102 × 128 px; ResNet stride 32 → 4 × 4 grid of 256 channels
    assert model.grid == (4, 4) and seen["grid"] == (1, 256, 4, 4)


def test_detr_post_processing_matches_the_image_processor():
    require_module("transformers", "requirements-detr.txt")
    import transformers

    logits = torch.tensor([[[2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0]]])
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.4], [0.25, 0.5, 0.5, 1.0]]])
    ours = detr_detections(logits, boxes, (100, 200), floor=0.0)[0]
    total = math.exp(2) + 2 + math.e
    assert ours["scores"][0].item() == pytest.approx(math.exp(3) / (math.exp(3) + 3))
    assert ours["scores"][1].item() == pytest.approx(math.exp(2) / total)
    np.testing.assert_allclose(ours["boxes"][1].numpy(), [80, 30, 120, 70], atol=1e-4)
    np.testing.assert_array_equal(ours["labels"].numpy(), [1, 0])

    class Output:
        pass

    output = Output()
    output.logits, output.pred_boxes = logits, boxes
    processor = transformers.DetrImageProcessor()
    theirs = processor.post_process_object_detection(output, 0.0, target_sizes=[(100, 200)])[0]
    order = theirs["scores"].argsort(descending=True)
    np.testing.assert_allclose(ours["scores"], theirs["scores"][order], rtol=1e-6)
    np.testing.assert_allclose(ours["boxes"], theirs["boxes"][order], atol=1e-4)


def test_yolo_post_processing_matches_ultralytics_nms(tasks):
    from ultralytics.utils.nms import non_max_suppression

    generator = torch.Generator().manual_seed(0)
    anchors = 300
    centres = torch.rand(2, anchors, generator=generator) * 600 + 20
    sizes = torch.rand(2, anchors, generator=generator) * 150 + 10
    scores = torch.rand(80, anchors, generator=generator) ** 4
    prediction = torch.cat([centres, sizes, scores])[None]
    ours = yolo_detections(prediction[0], torch.ones(4), (640, 640), torch.arange(80))
    theirs = non_max_suppression(prediction, conf_thres=0.0, iou_thres=0.7, max_det=100)[0]
    np.testing.assert_allclose(ours["scores"], theirs[:, 4], rtol=1e-6)
    np.testing.assert_allclose(ours["boxes"], theirs[:, :4].clamp(0, 640), atol=1e-3)
    np.testing.assert_array_equal(ours["labels"], theirs[:, 5].long())


def test_yolo_network_input_keeps_the_image_and_a_multiple_of_the_stride():
    assert network_size(375, 500, 640, 32) == (480, 640)  # 375 · 1.28 = 480
    assert network_size(512, 512, 640, 32) == (640, 640)
    assert network_size(100, 1000, 640, 32) == (64, 640)  # 64 = ⌈100 · 0.64 / 32⌉ · 32
    assert network_size(3, 1000, 640, 32) == (32, 640)


def test_yolo_reports_coco_category_ids():
    assert len(COCO80_IDS) == 80 and COCO80_IDS[:3] == [1, 2, 3] and COCO80_IDS[-1] == 90
    assert COCO80_NAMES[0] == "person" and COCO80_NAMES[-1] == "toothbrush"


def test_ultralytics_coco_names_map_onto_coco_ids(tasks):
    import ultralytics

    coco = Path(ultralytics.__file__).parent / "cfg" / "datasets" / "coco.yaml"
    names = ultralytics.utils.YAML.load(coco)["names"]
    assert [names[k] for k in sorted(names)] == COCO80_NAMES  # so official files map to ids


@pytest.mark.parametrize("name", ["DETR R50", "YOLOv8 n"])
def test_file_weights_round_trip(name: str, tmp_path: Path, image: np.ndarray, loaded: dict):
    original = untrained(loaded, name)
    path = tmp_path / "weights.pt"
    torch.save(original.model.state_dict(), path)
    again = D.load_detector(name, WeightSource.FILE, weights_path=path, input_size=SIZE)
    assert again.label == f"{name} (weights file)" and again.categories == original.categories
    a, b = (run_cam(d, image, "GradCAM") for d in (original, again))
    np.testing.assert_array_equal(a.cam, b.cam)
    np.testing.assert_array_equal(a.detections.scores, b.detections.scores)
    np.testing.assert_array_equal(a.detections.boxes, b.detections.boxes)


def test_yolo_reads_ultralytics_checkpoints_with_their_class_names(tmp_path: Path, tasks):
    torch.manual_seed(0)
    net = tasks.DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    net.names = {0: "cat", 1: "dog"}
    path = tmp_path / "best.pt"
    torch.save({"model": copy.deepcopy(net).half(), "epoch": 3}, path)
    loaded = D.load_detector("YOLOv8 n", "file", weights_path=path, input_size=64)
    assert loaded.categories == ["cat", "dog"]
    expected = net.model[-1].cv3[0][2].weight.half().float()
    assert torch.equal(loaded.model.net.model[-1].cv3[0][2].weight, expected)
    output = run_cam(loaded, np.zeros((64, 64, 3), np.uint8), "EigenCAM")
    assert set(output.detections.names) <= {"cat", "dog"}


def test_yolo_refuses_a_checkpoint_of_another_size(tmp_path: Path, tasks):
    path = tmp_path / "yolov8s-like.pt"
    torch.save({"model": tasks.DetectionModel("yolov8s.yaml", nc=80, verbose=False)}, path)
    with pytest.raises(MissingWeightsError, match="yolov8s-like.pt does not match this archi"):
        D.load_detector("YOLOv8 n", "file", weights_path=path)


class Evil:
    """Unpickling this calls print: a weights-only loader must refuse it."""

    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def test_yolo_refuses_arbitrary_pickles(tmp_path: Path):
    _require("YOLOv8 n")
    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path)
    with pytest.raises(MissingWeightsError, match="neither a state dict nor an Ultralytics"):
        D.load_detector("YOLOv8 n", "file", weights_path=path)


@pytest.fixture
def offline_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty torch hub and Hugging Face caches; urllib offline too."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    return tmp_path


def test_yolo_pretrained_offline_names_the_file_and_folder(offline_caches: Path):
    _require("YOLO11 n")
    with pytest.raises(MissingWeightsError) as info:
        D.load_detector("YOLO11 n", "pretrained")
    message = str(info.value)
    assert "`yolo11n.pt`" in message and str(offline_caches / "torch" / "checkpoints") in message
    assert "releases/download/v8.4.0/yolo11n.pt" in message


def test_yolo_pretrained_loads_the_official_file_from_the_cache(offline_caches: Path, tasks):
    torch.manual_seed(1)
    net = tasks.DetectionModel("yolov5nu.yaml", nc=80, verbose=False)
    net.names = dict(enumerate(COCO80_NAMES))
    folder = offline_caches / "torch" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"ema": net, "model": None}, folder / "yolov5nu.pt")
    loaded = D.load_detector("YOLOv5u n", "pretrained", input_size=64)
    assert loaded.label == "YOLOv5u n (pretrained)" and loaded.categories[1] == "person"
    assert torch.equal(loaded.model.net.model[0].conv.weight, net.model[0].conv.weight)


def test_detr_pretrained_offline_names_the_repository_and_cache(offline_caches: Path):
    _require("DETR R101")
    with pytest.raises(MissingWeightsError) as info:
        D.load_detector("DETR R101", "pretrained")
    message = str(info.value)
    assert "`facebook/detr-resnet-101`" in message and str(offline_caches / "hf" / "hub") in message
    assert "models--facebook--detr-resnet-101" in message and "'file' or 'untrained'" in message


def test_detr_pretrained_loads_a_hub_snapshot_offline(offline_caches: Path, loaded: dict):
    reference = untrained(loaded, "DETR R50")
    spec = D.get_spec("DETR R50")
    assert spec.pretrained_path() == offline_caches / "hf/hub/models--facebook--detr-resnet-50"
    snapshot = spec.pretrained_path() / "snapshots" / "0123abc"
    reference.model.detr.save_pretrained(snapshot)
    (spec.pretrained_path() / "refs").mkdir()
    (spec.pretrained_path() / "refs" / "main").write_text("0123abc")
    # the hub's config asks for a pretrained timm backbone: it must not be downloaded
    config = json.loads((snapshot / "config.json").read_text())
    config.pop("backbone_config")
    config.update(use_timm_backbone=True, use_pretrained_backbone=True, backbone="resnet50")
    (snapshot / "config.json").write_text(json.dumps(config))
    again = D.load_detector("DETR R50", "pretrained", input_size=SIZE)
    assert again.label == "DETR R50 (pretrained)" and again.categories[1] == "person"
    for (key, a), b in zip(
        reference.model.state_dict().items(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), key


@pytest.mark.parametrize(
    ("hidden", "name", "command"),
    [
        ("ultralytics", "YOLOv8 n", "pip install --no-deps -r requirements-yolo.txt"),
        ("transformers", "DETR R50", "pip install -r requirements-detr.txt"),
        ("timm", "DETR R101", "pip install -r requirements-detr.txt"),
    ],
)
def test_a_missing_package_lists_the_entry_as_unavailable_with_the_command(
    hidden: str, name: str, command: str, monkeypatch: pytest.MonkeyPatch
):
    spec = D.get_spec(name)
    # what else the entry needs may be missing too (no extra installed): the message names all
    absent = {package for package in spec.packages if importlib.util.find_spec(package) is None}
    monkeypatch.setitem(sys.modules, hidden, None)
    missing = ", ".join(p for p in spec.packages if p == hidden or p in absent)
    assert spec.unavailable_reason == f"{name} needs the optional package(s) {missing}: {command}"
    with pytest.raises(MissingPackageError, match=command.replace("-", r"\-")):
        D.load_detector(name, "untrained")
    assert D.get_spec("Faster R-CNN R50-FPN").unavailable_reason is None


def test_detr_explaining_one_detection_changes_the_gradient_cam(image: np.ndarray, loaded: dict):
    detector = untrained(loaded, "DETR R50")
    everything = run_cam(detector, image, "GradCAM", score_threshold=0.0)
    assert len(everything.explained) == len(everything.detections)
    fifth = run_cam(detector, image, "GradCAM", explain=ExplainedDetections(detection=4))
    order = np.argsort(-fifth.detections.scores, kind="stable")
    assert fifth.detections.scores[fifth.explained[0]] == fifth.detections.scores[order[4]]
    # an untrained decoder's 100 queries are near copies: the maps differ, though little
    assert np.abs(fifth.cam - everything.cam).mean() > 1e-4


def test_yolo_explaining_one_detection_changes_the_gradient_cam(image: np.ndarray, loaded: dict):
    detector = untrained(loaded, "YOLOv8 n")
    top = run_cam(detector, image, "GradCAM", explain=ExplainedDetections(detection=0))
    other = run_cam(detector, image, "GradCAM", explain=ExplainedDetections(detection=20))
    assert len(top.explained) == len(other.explained) == 1
    assert np.abs(top.cam - other.cam).mean() > 0.01
    eigen = run_cam(detector, image, "EigenCAM", explain=ExplainedDetections(detection=20))
    assert any("class-agnostic" in note for note in eigen.notes)
