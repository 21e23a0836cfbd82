"""CAM registry and the one-pass detection + CAM pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

from saliency_core.maps import cams as C
from saliency_core.maps import detector_maps as P
from saliency_core.models.cache import MODELS
from saliency_core.models.detectors import DETECTORS
from saliency_core.models.weights import ModelChoice


def blob_activations(sign: float = 1.0) -> np.ndarray:
    """(1, C=6, 8, 8): channels fire on a 3×3 object at rows/cols 2..4, plus noise."""
    rng = np.random.default_rng(0)
    acts = rng.normal(0, 0.05, (1, 6, 8, 8)).astype(np.float32)
    acts[0, :4, 2:5, 2:5] += np.array([3.0, 2.0, 2.5, 1.0])[:, None, None]
    return acts * sign


def test_projection_matches_pytorch_grad_cam_up_to_sign():
    acts = blob_activations()
    ours = C.principal_projection(acts)
    library = get_2d_projection(acts)
    assert ours.shape == library.shape == (1, 8, 8)
    assert np.allclose(np.abs(ours), np.abs(library), atol=1e-4)


def test_projection_is_high_on_the_object_whatever_the_axis_sign(monkeypatch):
    acts = blob_activations()
    reference = C.principal_projection(acts)[0]
    object_mask = np.zeros((8, 8), bool)
    object_mask[2:5, 2:5] = True
    assert reference[object_mask].mean() > 0 > reference[~object_mask].mean()

    real_axis = C.first_principal_axis
    monkeypatch.setattr(C, "first_principal_axis", lambda rows: -real_axis(rows))
    np.testing.assert_allclose(C.principal_projection(acts)[0], reference, atol=1e-6)


def test_projection_subsamples_rows_for_large_maps():
    acts = np.zeros((1, 4, 100, 100), np.float32)
    acts[0, :, 40:60, 40:60] = 1.0
    projection = C.principal_projection(acts, max_rows=500)[0]
    assert projection[50, 50] > 0 and projection[0, 0] < projection[50, 50]


def test_detection_score_target_sums_confident_scores_or_falls_back_to_the_top_one():
    scores = torch.tensor([0.95, 0.5, 0.92], requires_grad=True)
    target = C.DetectionScoreTarget(0.9)
    assert float(target({"scores": scores}).detach()) == pytest.approx(1.87)
    assert target.note is None
    low = C.DetectionScoreTarget(0.99)
    assert float(low({"scores": scores}).detach()) == pytest.approx(0.95)
    assert "top-scoring detection (score 0.95)" in low.note
    empty = C.DetectionScoreTarget(0.5)
    assert float(empty({"scores": torch.zeros(0)})) == 0.0
    assert "no detection" in empty.note


def _output(scores, labels, boxes=None) -> dict[str, torch.Tensor]:
    boxes = boxes if boxes is not None else [[10.0 * k, 0, 10.0 * k + 8, 8] for k in labels]
    return {
        "scores": torch.tensor(scores, requires_grad=True),
        "labels": torch.tensor(labels),
        "boxes": torch.tensor(boxes, dtype=torch.float32),
    }


COCO = DETECTORS["FCOS R50-FPN"].categories  # 1 person, 3 car, 18 dog


def test_explain_one_class_sums_its_confident_scores_or_takes_its_best():
    output = _output([0.95, 0.5, 0.92, 0.3], [1, 3, 1, 3])
    person = C.DetectionScoreTarget(0.9, C.ExplainedDetections(category="person"), COCO)
    assert float(person(output).detach()) == pytest.approx(1.87)
    assert person.chosen.tolist() == [0, 2] and person.note is None
    car = C.DetectionScoreTarget(0.9, C.ExplainedDetections(category="car"), COCO)
    assert float(car(output).detach()) == pytest.approx(0.5)
    assert car.chosen.tolist() == [1]
    assert "top-scoring detection of the class (score 0.50)" in car.note


def test_explain_one_detection_takes_the_kth_by_score():
    output = _output([0.5, 0.95, 0.92], [3, 1, 18])
    second = C.DetectionScoreTarget(0.9, C.ExplainedDetections(detection=1), COCO)
    assert float(second(output).detach()) == pytest.approx(0.92)
    assert second.chosen.tolist() == [2]
    assert C.ExplainedDetections(detection=1).describe(0.9) == "detection #2 by score"


def test_impossible_choices_give_clear_messages():
    output = _output([0.95, 0.5], [1, 3])
    with pytest.raises(
        ValueError,
        match=r"No detection of class 'dog' in this image \(detected: "
        r"person, car\): choose a detected class",
    ):
        C.DetectionScoreTarget(0.9, C.ExplainedDetections(category="dog"), COCO)(output)
    with pytest.raises(ValueError, match="'unicorn' is not one of this detector's classes"):
        C.DetectionScoreTarget(0.9, C.ExplainedDetections(category="unicorn"), COCO)(output)
    with pytest.raises(ValueError, match=r"Detection #3 does not exist: the model returned 2"):
        C.DetectionScoreTarget(0.9, C.ExplainedDetections(detection=2), COCO)(output)
    with pytest.raises(ValueError, match="not both"):
        C.ExplainedDetections(detection=0, category="dog")


def test_perturbed_passes_follow_the_chosen_detection_by_box():
    """ScoreCAM/AblationCAM score perturbed outputs: the chosen box is matched by IoU ≥ 0.5."""
    reference = _output([0.9, 0.8], [1, 1], [[0, 0, 10, 10], [50, 50, 60, 60]])
    target = C.DetectionScoreTarget(0.5, C.ExplainedDetections(detection=1), COCO)
    target.observe(None, None, [reference])
    moved = _output([0.7, 0.4, 0.6], [1, 3, 1], [[50, 50, 60, 62], [50, 50, 60, 60], [0, 0, 9, 9]])
    assert float(target(moved).detach()) == pytest.approx(0.7)  # IoU 100/120 ≥ 0.5, same label
    gone = _output([0.6], [1], [[0, 0, 10, 10]])
    assert float(target(gone).detach()) == 0.0
    everything = C.DetectionScoreTarget(0.5)
    everything.observe(None, None, [reference])
    assert float(everything(moved).detach()) == pytest.approx(1.3)  # the rule: 0.7 + 0.6


def test_explaining_a_class_changes_the_gradient_cam_and_marks_its_boxes(scene: np.ndarray):
    from saliency_core.models.detectors import load_detector

    detector = load_detector("FCOS R50-FPN", "untrained", input_size=128)
    default = C.run_cam(detector, scene, "GradCAM")
    names = default.detections.names
    other = next(name for name in names if name != names[int(default.explained[0])])
    chosen = C.run_cam(detector, scene, "GradCAM", explain=C.ExplainedDetections(category=other))
    assert [chosen.detections.names[k] for k in chosen.explained] == [other]
    assert np.abs(chosen.cam - default.cam).mean() > 0.01
    eigen = C.run_cam(detector, scene, "EigenCAM", explain=C.ExplainedDetections(category=other))
    np.testing.assert_array_equal(eigen.cam, C.run_cam(detector, scene, "EigenCAM").cam)
    assert "EigenCAM is class-agnostic" in eigen.notes[0]
    absent = next(name for name in COCO[1:] if name not in names and name != "N/A")
    with pytest.raises(ValueError, match=f"No detection of class '{absent}'"):
        C.run_cam(detector, scene, "GradCAM", explain=C.ExplainedDetections(category=absent))


def test_methods_that_need_a_tensor_layer_are_disabled_on_the_fpn_with_a_reason():
    spec = DETECTORS["Faster R-CNN R50-FPN"]
    assert C.unsupported_reason("EigenCAM", spec, "FPN") is None
    assert C.unsupported_reason("GradCAM", spec, "layer4") is None
    reason = C.unsupported_reason("GradCAM", spec, "FPN")
    assert reason and "single-tensor target layer" in reason
    assert C.unsupported_reason("AblationCAM", spec, "FPN")


def test_every_method_is_a_pytorch_grad_cam_class_with_a_cost():
    from pytorch_grad_cam.base_cam import BaseCAM

    assert list(C.CAM_METHODS)[0] == "EigenCAM"
    for method in C.CAM_METHODS.values():
        assert issubclass(method.cam_class, BaseCAM) and method.cost


def test_detections_filter_by_score():
    dets = C.Detections(
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([0.2, 0.95, 0.9], np.float32),
        np.array([1, 3, 1]),
        ["person", "car", "person"],
    )
    kept = dets.above(0.9)
    assert kept.names == ["car", "person"] and len(kept) == 2
    np.testing.assert_array_equal(kept.boxes[0], [4, 5, 6, 7])
    assert kept.masks is None and dets.masks is None


def test_detections_threshold_mask_probabilities_and_filter_them():
    probabilities = torch.tensor(
        [
            [[[0.9, 0.5], [0.2, 0.51]]],
            [[[0.0, 1.0], [0.49, 0.6]]],
            [[[0.7, 0.7], [0.7, 0.1]]],
        ]
    )
    output = {
        "boxes": torch.zeros(3, 4),
        "scores": torch.tensor([0.3, 0.8, 0.95]),
        "labels": torch.tensor([1, 2, 7]),
        "masks": probabilities,
    }
    dets = C.Detections.from_output(output, ["bg", "person", "bicycle"])
    expected = np.array(
        [
            [[True, False], [False, True]],
            [[False, True], [False, True]],
            [[True, True], [True, False]],
        ]
    )
    assert dets.masks.dtype == bool and dets.masks.shape == (3, 2, 2)
    np.testing.assert_array_equal(dets.masks, expected)
    assert dets.names == ["person", "bicycle", "class 7"]
    kept = dets.above(0.5)
    np.testing.assert_array_equal(kept.masks, expected[1:])
    assert kept.names == ["bicycle", "class 7"]
    assert dets.above(0.99).masks.shape == (0, 2, 2)
    no_masks = {key: value for key, value in output.items() if key != "masks"}
    assert C.Detections.from_output(no_masks, ["bg"]).masks is None


@pytest.fixture
def scene() -> np.ndarray:
    rgb = np.full((128, 160, 3), 20, np.uint8)
    rgb[30:90, 50:120] = (240, 200, 40)
    return rgb


def test_pipeline_builds_each_model_once_and_labels_untrained_results(scene: np.ndarray):
    MODELS.clear()
    choice = ModelChoice("FCOS R50-FPN", input_size=128)
    first = P.compute_cam(scene, choice, "EigenCAM")
    second = P.compute_cam(scene, choice, "EigenCAM")
    assert len(MODELS) == 1
    np.testing.assert_array_equal(first.cam, second.cam)
    assert first.label == "FCOS R50-FPN (UNTRAINED) · EigenCAM @ layer4"
    assert not first.trained and first.notes[0].startswith("Untrained (random) weights")
    bare = C.detect(P.get_detector(choice).value, scene)  # no-grad forward, no CAM
    np.testing.assert_allclose(bare.scores, first.detections.scores, rtol=1e-5)


def test_one_result_type_from_the_cam_pass_to_the_pipeline(scene: np.ndarray):
    from saliency_core.models.detectors import load_detector

    detector = load_detector("FCOS R50-FPN", "untrained", input_size=128)
    direct = C.run_cam(detector, scene, "EigenCAM")
    assert isinstance(direct, C.CamResult) and not direct.trained
    assert direct.label == "FCOS R50-FPN (UNTRAINED) · EigenCAM @ layer4"
    assert direct.target == "layer4" and direct.notes == []
    shared = P.compute_cam(scene, ModelChoice("FCOS R50-FPN", input_size=128), "EigenCAM")
    assert isinstance(shared, C.CamResult) and shared.label == direct.label
    assert shared.notes == [P.UNTRAINED_NOTE]  # the shared path marks untrained weights
    np.testing.assert_allclose(shared.cam, direct.cam, atol=1e-6)


def test_untrained_mask_rcnn_returns_instance_masks_of_image_size(scene: np.ndarray):
    choice = ModelChoice("Mask R-CNN R50-FPN", input_size=128)
    result = P.compute_cam(scene, choice, "EigenCAM", score_threshold=0.0)
    dets = result.detections
    assert dets.masks is not None and dets.masks.dtype == bool
    assert dets.masks.shape == (len(dets), 128, 160)
    assert dets.above(0.0).masks.shape == (len(dets), 128, 160)
    assert result.cam.shape == (128, 160) and not result.trained


def test_ablation_cam_runs_on_a_detector(scene: np.ndarray, monkeypatch: pytest.MonkeyPatch):
    # ablate ~2% of the channels (the registry's 10% setting costs ~40 s on 2 CPU cores)
    monkeypatch.setitem(C.CAM_METHODS["AblationCAM"].kwargs, "ratio_channels_to_ablate", 0.01)
    choice = ModelChoice("SSDlite320 MobileNetV3")
    result = P.compute_cam(scene, choice, "AblationCAM")
    assert result.cam.shape == scene.shape[:2]
    assert np.isfinite(result.cam).all()


def test_out_of_memory_becomes_a_readable_error(monkeypatch: pytest.MonkeyPatch, scene):
    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(P, "run_cams", exhausted)
    with pytest.raises(P.ComputeError, match="Out of memory while running"):
        P.compute_cam(scene, ModelChoice("FCOS R50-FPN", input_size=128))


def test_a_rewritten_weights_file_is_loaded_again(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Saving a new checkpoint over the same path (fine-tuning) must not reuse the old model."""
    import os

    from saliency_core.models.weights import WeightSource

    builds: list[str] = []
    monkeypatch.setattr(P, "MODELS", type(MODELS)())
    monkeypatch.setattr(P, "load_detector", lambda *args, **kwargs: builds.append(args[2]))
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"first")
    choice = ModelChoice("FCOS R50-FPN", WeightSource.FILE, str(weights))
    P.get_detector(choice)
    P.get_detector(choice)
    assert len(builds) == 1
    weights.write_bytes(b"second, longer")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    P.get_detector(choice)
    assert len(builds) == 2, "the changed file was not reloaded"
