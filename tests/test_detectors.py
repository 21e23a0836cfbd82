"""Detector registry: every entry builds, detects and yields CAMs; the three weight sources."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from optional_extras import require

from saliency_core.maps.cams import run_cam
from saliency_core.models import detectors as D
from saliency_core.models.download import download_checkpoint, expected_hash_prefix
from saliency_core.models.weights import MissingWeightsError, WeightSource

SIZE = 160


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    rgb = (rng.random((SIZE, SIZE + 32, 3)) * 60).astype(np.uint8)
    rgb[40:110, 50:140] = 230
    return rgb


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.extras] if spec.packages else [])
        for name, spec in D.DETECTORS.items()
    ],
)
def test_every_detector_builds_untrained_and_yields_boxes_and_cams(name: str, image: np.ndarray):
    require(D.DETECTORS[name].unavailable_reason)
    detector = D.load_detector(name, "untrained", input_size=SIZE)
    assert detector.label == f"{name} (UNTRAINED)" and not detector.trained
    assert detector.categories[1] == "person"
    for method in ("EigenCAM", "GradCAM"):
        output = run_cam(detector, image, method, score_threshold=0.9)
        assert output.cam.shape == image.shape[:2]
        assert output.cam.dtype == np.float32
        assert output.cam.min() >= 0.0 and output.cam.max() <= 1.0
        assert len(output.detections) > 0, "untrained models still return candidate boxes"
        boxes = output.detections.boxes
        assert boxes.shape[1] == 4 and np.all(boxes[:, 2] >= boxes[:, 0])
        assert np.all(boxes[:, [0, 2]] <= image.shape[1] + 1e-3)
    assert len(output.detections.names) == len(output.detections.scores)


def test_untrained_builds_are_reproducible():
    a = D.load_detector("SSDlite320 MobileNetV3", "untrained", seed=3)
    b = D.load_detector("SSDlite320 MobileNetV3", "untrained", seed=3)
    for (key, x), y in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), key


def test_file_weights_round_trip(tmp_path: Path, image: np.ndarray):
    original = D.load_detector("SSDlite320 MobileNetV3", "untrained", seed=1)
    path = tmp_path / "ssdlite.pth"
    torch.save({"state_dict": original.model.state_dict()}, path)
    loaded = D.load_detector("SSDlite320 MobileNetV3", WeightSource.FILE, weights_path=path)
    assert loaded.label == "SSDlite320 MobileNetV3 (weights file)" and loaded.trained
    a, b = (run_cam(d, image, "EigenCAM") for d in (original, loaded))
    np.testing.assert_array_equal(a.cam, b.cam)
    np.testing.assert_array_equal(a.detections.scores, b.detections.scores)


def test_file_weights_of_a_fine_tuned_model_keep_its_class_count(tmp_path: Path):
    import torchvision.models.detection as tvd

    voc = tvd.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=21)
    path = tmp_path / "voc.pth"
    torch.save(voc.state_dict(), path)
    loaded = D.load_detector("Faster R-CNN R50-FPN", "file", weights_path=path, input_size=128)
    assert len(loaded.categories) == 21 and loaded.categories[20] == "class 20"


def test_classes_txt_beside_a_weights_file_names_its_categories(tmp_path: Path):
    spec = D.get_spec("SSDlite320 MobileNetV3")
    fine_tuned, numbered = D._build(spec, 4, None)  # background + 3 classes
    assert numbered == ["__background__", "class 1", "class 2", "class 3"]
    path = tmp_path / "model_final.pt"
    torch.save(fine_tuned.state_dict(), path)
    (tmp_path / "classes.txt").write_text("square\n disc \ntriangle\n\n")
    loaded = D.load_detector(spec.name, WeightSource.FILE, weights_path=path)
    assert loaded.categories == ["__background__", "square", "disc", "triangle"]
    (tmp_path / "classes.txt").write_text("square\ndisc\n")  # another class count: not used
    loaded = D.load_detector(spec.name, WeightSource.FILE, weights_path=path)
    assert loaded.categories == numbered


def test_file_weights_for_another_architecture_give_a_clear_message(tmp_path: Path):
    other = D.load_detector("SSDlite320 MobileNetV3", "untrained")
    path = tmp_path / "wrong.pth"
    torch.save(other.model.state_dict(), path)
    with pytest.raises(MissingWeightsError, match="wrong.pth does not match this architecture"):
        D.load_detector("FCOS R50-FPN", "file", weights_path=path, input_size=128)


def test_missing_or_corrupt_weights_file(tmp_path: Path):
    with pytest.raises(MissingWeightsError, match="not found"):
        D.load_detector("FCOS R50-FPN", "file", weights_path=tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(MissingWeightsError, match="is not a state dict this model accepts"):
        D.load_detector("FCOS R50-FPN", "file", weights_path=bad)


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache and no network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    return tmp_path / "hub" / "checkpoints"


def test_pretrained_offline_names_the_file_and_folder(offline_hub: Path):
    spec = D.DETECTORS["SSDlite320 MobileNetV3"]
    with pytest.raises(MissingWeightsError) as info:
        D.load_detector(spec.name, "pretrained")
    message = str(info.value)
    assert spec.checkpoint_name in message and str(offline_hub) in message
    assert "'file' or 'untrained'" in message


def test_pretrained_loads_from_the_hub_cache_offline(offline_hub: Path):
    spec = D.DETECTORS["SSDlite320 MobileNetV3"]
    reference = D.load_detector(spec.name, "untrained", seed=7)
    offline_hub.mkdir(parents=True)
    torch.save(reference.model.state_dict(), offline_hub / spec.checkpoint_name)
    loaded = D.load_detector(spec.name, "pretrained")
    assert loaded.label == "SSDlite320 MobileNetV3 (pretrained)"
    key = spec.class_count_key
    assert torch.equal(loaded.model.state_dict()[key], reference.model.state_dict()[key])


def test_download_checks_the_hash_and_reports_progress(tmp_path: Path):
    import hashlib

    payload = b"x" * (3 * 1024 * 1024 + 5)
    digest = hashlib.sha256(payload).hexdigest()[:8]
    source = tmp_path / f"weights-{digest}.pth"
    source.write_bytes(payload)
    assert expected_hash_prefix(source.name) == digest
    seen: list[tuple[int, int]] = []
    target = tmp_path / "hub" / source.name
    download_checkpoint(source.as_uri(), target, progress=lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == payload
    assert seen[-1][0] == len(payload) and len(seen) == 4

    corrupt = tmp_path / "weights-deadbeef.pth"
    corrupt.write_bytes(payload)
    with pytest.raises(OSError, match="Checksum mismatch"):
        download_checkpoint(corrupt.as_uri(), tmp_path / "hub" / corrupt.name)
    assert not (tmp_path / "hub" / corrupt.name).exists()
    assert not list((tmp_path / "hub").glob("*.partial"))


def test_unknown_detector_lists_the_known_ones():
    with pytest.raises(KeyError, match="Faster R-CNN R50-FPN"):
        D.get_spec("YOLOv99")
