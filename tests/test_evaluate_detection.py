"""Detection accuracy of models on an annotated dataset: class matching, predictions in the
image's own pixels, Table 1 rows (unloadable and untrained models labelled)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_voc import write_voc
from torch import nn

from saliency_core.data.annotations import VOC_CLASSES as VOC
from saliency_core.data.annotations import Annotation, DetectionDataset
from saliency_core.evaluate import detection
from saliency_core.models.detector_spec import COCO_CATEGORIES
from saliency_core.models.weights import ModelChoice, WeightSource

CLASSES = ("square", "disc", "triangle")
BOXES = {
    "a": [("square", (4, 6, 20, 18)), ("disc", (22, 2, 34, 12))],
    "b": [("triangle", (3, 3, 9, 9))],
}
SIZES = {"a": (40, 24), "b": (30, 36)}


def test_category_map_matches_coco_to_voc_with_synonyms() -> None:
    mapping = detection.category_map(COCO_CATEGORIES, VOC)
    assert len(mapping) == 20  # every VOC class, background and "N/A" left out
    named = {COCO_CATEGORIES[head]: VOC[index] for head, index in mapping.items()}
    assert named["airplane"] == "aeroplane" and named["tv"] == "tvmonitor"
    assert named["dining table"] == "diningtable" and named["couch"] == "sofa"
    assert named["motorcycle"] == "motorbike" and named["potted plant"] == "pottedplant"
    assert named["person"] == "person"
    assert detection.category_map(["__background__", "Disc", "N/A"], CLASSES) == {1: 1}


@pytest.fixture()
def dataset(tmp_path: Path) -> DetectionDataset:
    root = write_voc(tmp_path / "voc", {stem: (SIZES[stem], BOXES[stem]) for stem in BOXES})
    annotations = {
        stem: Annotation(
            stem,
            root / "JPEGImages" / f"{stem}.png",
            *SIZES[stem],
            np.array([box for _, box in objects], np.float32),
            tuple(name for name, _ in objects),
            (False,) * len(objects),
        )
        for stem, objects in BOXES.items()
    }
    return DetectionDataset(root, "voc", CLASSES, annotations, {"test": ("a", "b")}, ())


class Oracle(nn.Module):
    """Returns each image's red boxes (found in its pixels) with head labels ``heads``; records
    the input shapes, value range and whether it ran in eval mode without gradients."""

    def __init__(self, answers: list[dict[str, torch.Tensor]]) -> None:
        super().__init__()
        self.answers, self.seen = answers, []

    def forward(self, batch: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        for image in batch:
            self.seen.append((tuple(image.shape), round(float(image.max()) * 255), self.training))
        assert torch.is_inference_mode_enabled()
        return [self.answers.pop(0) for _ in batch]


def answer(boxes, labels, scores=None) -> dict[str, torch.Tensor]:
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    scores = torch.full((len(boxes),), 0.9) if scores is None else torch.tensor(scores)
    return {"boxes": boxes, "labels": torch.tensor(labels, dtype=torch.int64), "scores": scores}


def test_score_model_maps_heads_to_classes_and_keeps_image_pixels(dataset) -> None:
    # head: 0 background, 1 "N/A", 2 disc, 3 square; no triangle head
    categories = ["__background__", "N/A", "Disc", "square"]
    oracle = Oracle(
        [
            answer([[4, 6, 20, 18], [22, 2, 34, 12], [0, 0, 5, 5]], [3, 2, 1]),  # N/A dropped
            answer([[3, 3, 9, 9]], [2], [0.8]),  # a disc where the triangle is: a false positive
        ]
    ).train()
    accuracy = detection.score_model(oracle, categories, dataset, "test", "cpu", batch_size=2)
    assert oracle.seen == [((3, 24, 40), 230, False), ((3, 36, 30), 230, False)]
    # square 1, disc: its one box found at score 0.9, the FP at 0.8 ranks below (AP 1),
    # triangle: never detected (AP 0); pycocotools' precision is tp / (tp + fp + eps)
    expected = {"square": 1.0, "disc": 1.0, "triangle": 0.0}
    assert accuracy.per_class_50 == pytest.approx(expected, abs=1e-12)
    assert accuracy.map_50 == pytest.approx(2 / 3)
    assert accuracy.images == 2


def test_predict_batches_images_of_one_size_together(dataset) -> None:
    same = [dataset.annotations["a"], dataset.annotations["a"], dataset.annotations["b"]]
    calls = []

    class Counting(nn.Module):
        def forward(self, batch):
            calls.append(tuple(batch.shape))
            return [answer([], []) for _ in batch]

    done = []
    out = detection.predict(
        Counting(), same, "cpu", batch_size=3, progress=lambda *a: done.append(a)
    )
    assert calls == [(2, 3, 24, 40), (1, 3, 36, 30)]
    assert len(out) == 3 and out[0]["boxes"].shape == (0, 4) and done == [(3, 3)]


def test_accuracy_table_labels_untrained_and_unloadable_models(dataset, tmp_path: Path) -> None:
    choices = [
        ModelChoice("SSDlite320 MobileNetV3", WeightSource.UNTRAINED),
        ModelChoice("FCOS R50-FPN", WeightSource.FILE, str(tmp_path / "absent.pt"), 64),
    ]
    table = detection.accuracy_table(dataset, "test", choices, "cpu")
    assert list(table.columns) == [
        "detector", "weights", "trained", "input_size", "map", "map_50", "map_75", "images",
        "ap50_square", "ap50_disc", "ap50_triangle", "notes",
    ]  # fmt: skip
    untrained, missing = table.to_dict("records")
    assert (untrained["weights"], untrained["trained"], untrained["images"]) == (
        "untrained",
        False,
        2,
    )
    # COCO heads know no square, disc or triangle: every detection dropped, mAP exactly 0
    assert (untrained["map"], untrained["map_50"], untrained["ap50_disc"]) == (0.0, 0.0, 0.0)
    assert untrained["notes"] == (
        f"{detection.UNTRAINED_NOTE}; the model has none of the dataset's classes: "
        "every detection dropped (mAP 0)"
    )
    assert (missing["weights"], missing["trained"], missing["images"]) == ("weights file", True, 0)
    assert math.isnan(missing["map"]) and math.isnan(missing["ap50_square"])
    assert missing["notes"] == f"not loaded: Weights file not found: {tmp_path / 'absent.pt'}"


def test_difficult_boxes_are_not_counted(dataset) -> None:
    hard = dataclasses.replace(dataset.annotations["b"], difficult=(True,))
    dataset = dataclasses.replace(dataset, annotations={**dataset.annotations, "b": hard})
    oracle = Oracle([answer([[4, 6, 20, 18], [22, 2, 34, 12]], [2, 1]), answer([], [])])
    accuracy = detection.score_model(
        oracle, ["__background__", "disc", "square"], dataset, "test", "cpu"
    )
    # the triangle's only box is difficult: no ground truth left, so no AP (not a miss)
    assert math.isnan(accuracy.per_class_50["triangle"])
    assert accuracy.map_50 == pytest.approx(1.0)
