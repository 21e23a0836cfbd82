"""mAP against hand-made predictions, checked against pycocotools' own COCOeval."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from saliency_core.scoring.detection import mean_average_precision

CLASSES = ("cat", "dog", "bird")
FLOAT32 = 1e-7
"""torchmetrics returns float32 numbers: equal to pycocotools' float64 ones to within this."""
TARGETS = [
    {
        "boxes": np.array([[10, 10, 50, 60], [60, 20, 90, 80]], np.float32),
        "labels": np.array([1, 2]),
    },
    {"boxes": np.array([[5, 5, 40, 30]], np.float32), "labels": np.array([2])},
]


def prediction(boxes, labels, scores=None) -> dict[str, np.ndarray]:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.linspace(0.9, 0.5, len(boxes)) if scores is None else scores
    return {"boxes": boxes, "labels": np.asarray(labels), "scores": np.asarray(scores, np.float32)}


PERFECT = [prediction(t["boxes"], t["labels"]) for t in TARGETS]
CASES = {
    "perfect": PERFECT,
    "missed box": [PERFECT[0], prediction([], [])],
    "false positive": [
        prediction([*TARGETS[0]["boxes"], [0, 70, 30, 95]], [1, 2, 1], [0.9, 0.8, 0.95]),
        PERFECT[1],
    ],
    "wrong class": [prediction(TARGETS[0]["boxes"], [1, 3]), PERFECT[1]],
}


def _xywh(box) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def cocoeval(predictions, targets, classes) -> tuple[list[float], dict[int, float]]:
    """pycocotools run directly on hand-built COCO dicts: (stats[0:3], per-class AP@.5)."""
    annotations, detections = [], []
    for image_id, (pred, target) in enumerate(zip(predictions, targets, strict=True), 1):
        for box, label in zip(target["boxes"], target["labels"], strict=True):
            w, h = _xywh(box)[2:]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": _xywh(box),
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, label, score in zip(pred["boxes"], pred["labels"], pred["scores"], strict=True):
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": _xywh(box),
                    "score": float(score),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": [{"id": i} for i in range(1, len(targets) + 1)],
            "annotations": annotations,
            "categories": [{"id": k} for k in range(1, len(classes) + 1)],
        }
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    curves = evaluation.eval["precision"][0, :, :, 0, -1]
    per_class = {
        k: float(curves[:, k - 1][curves[:, k - 1] > -1].mean())
        if (curves[:, k - 1] > -1).any()
        else math.nan
        for k in range(1, len(classes) + 1)
    }
    return [float(v) for v in evaluation.stats[:3]], per_class


@pytest.mark.parametrize("case", CASES)
def test_map_equals_pycocotools(case: str) -> None:
    predictions = CASES[case]
    result = mean_average_precision(predictions, TARGETS, CLASSES)
    stats, per_class_50 = cocoeval(predictions, TARGETS, CLASSES)
    assert [result.map, result.map_50, result.map_75] == pytest.approx(stats, abs=FLOAT32)
    assert result.per_class_50 == pytest.approx(
        {name: per_class_50[k] for k, name in enumerate(CLASSES, 1)}, nan_ok=True, abs=FLOAT32
    )
    assert result.images == 2


def test_hand_computed_values() -> None:
    expected = {
        "perfect": 1.0,
        # dog: 1 of 2 boxes found at precision 1 -> the 51 recall points 0..0.5 score 1
        "missed box": (1.0 + 51 / 101) / 2,
        # cat: the FP ranks first -> precision 1/2 at recall 1 (all points)
        "false positive": (0.5 + 1.0) / 2,
        # dog: 1 of 2 found; the bird detection has no ground truth (not in the mean)
        "wrong class": (1.0 + 51 / 101) / 2,
    }
    for case, value in expected.items():
        result = mean_average_precision(CASES[case], TARGETS, CLASSES)
        assert result.map_50 == pytest.approx(value, abs=FLOAT32), case
        assert result.map == pytest.approx(value, abs=FLOAT32), case  # IoUs are all 1 or 0
    assert math.isnan(mean_average_precision(PERFECT, TARGETS, CLASSES).per_class["bird"])


def test_interleaved_false_positive_hand_computed() -> None:
    """Hit (0.9), miss (0.8), hit (0.7) on two boxes: precision 1 up to recall 0.5 (51 of the
    101 recall points), then 2/3: AP@.5 = (51 + 50 · 2/3) / 101 = 253/303."""
    target = {"boxes": torch.tensor([[0, 0, 10, 10], [20, 20, 40, 40.0]]), "labels": [1, 1]}
    boxes = torch.tensor([[0, 0, 10, 10], [60, 60, 70, 70], [20, 20, 40, 40.0]])
    pred = {"boxes": boxes, "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": [1, 1, 1]}
    result = mean_average_precision([pred], [target], ["thing"])
    assert result.map_50 == pytest.approx(253 / 303, abs=FLOAT32)
    assert result.per_class_50 == {"thing": pytest.approx(253 / 303, abs=FLOAT32)}


def test_empty_predictions_score_zero_and_absent_classes_are_nan() -> None:
    result = mean_average_precision([prediction([], []), prediction([], [])], TARGETS, CLASSES)
    assert (result.map, result.map_50, result.map_75) == (0.0, 0.0, 0.0)
    assert result.per_class["cat"] == 0.0 and result.per_class_50["dog"] == 0.0
    assert math.isnan(result.per_class["bird"]) and math.isnan(result.per_class_50["bird"])


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match="^No ground-truth box in 1 images: mAP is undefined$"):
        mean_average_precision(
            [PERFECT[0]], [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0)}], CLASSES
        )
    zero_based = [prediction(TARGETS[0]["boxes"], [0, 1]), PERFECT[1]]
    with pytest.raises(ValueError, match=r"prediction 0 has label 0: labels are 1\.\.3 "):
        mean_average_precision(zero_based, TARGETS, CLASSES)
    with pytest.raises(ValueError, match="^1 predictions for 2 images$"):
        mean_average_precision(PERFECT[:1], TARGETS, CLASSES)


def test_crowd_boxes_are_ignored_regions() -> None:
    """A detection on an iscrowd (VOC difficult) box is neither a hit nor a false positive, and
    the crowd box left undetected is no miss (AP 1); as an ordinary box, missed, it halves the
    recall (AP 51/101)."""
    target = {"boxes": [[0, 0, 10, 10], [30, 30, 50, 50]], "labels": [1, 1], "iscrowd": [0, 1]}
    pred = prediction([[30, 30, 50, 50], [0, 0, 10, 10]], [1, 1], [0.95, 0.9])
    assert mean_average_precision([pred], [target], ["thing"]).map_50 == pytest.approx(1.0)
    alone = prediction([[0, 0, 10, 10]], [1])
    assert mean_average_precision([alone], [target], ["thing"]).map_50 == pytest.approx(1.0)
    ordinary = {**target, "iscrowd": [0, 0]}
    assert mean_average_precision([alone], [ordinary], ["thing"]).map_50 == pytest.approx(51 / 101)
