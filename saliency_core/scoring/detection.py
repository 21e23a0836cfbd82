"""Detection accuracy: COCO mAP through torchmetrics' ``MeanAveragePrecision`` (pycocotools).

Labels follow torchvision's convention: label ``k`` (1-based) is ``classes[k - 1]`` and 0 is
the background, so a fine-tuned model's outputs (categories ``["__background__", *classes]``)
and its training targets go in as they are. AP is the area under the 101-point interpolated
precision-recall curve (COCO), at most 100 detections per image:

- ``map``: mean over classes and IoU thresholds 0.50:0.05:0.95 (COCO mAP@[.5:.95]);
- ``map_50``: at IoU 0.5 only (the PASCAL VOC metric, 101-point COCO interpolation);
- ``map_75``: at IoU 0.75.

Classes with no ground-truth box have no AP (NaN in ``per_class``) and are left out of the
means. A target may carry ``iscrowd`` (1 = ignored region, e.g. VOC's "difficult" boxes): a
detection on it is neither a hit nor a false positive (pycocotools' crowd rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.detection import MeanAveragePrecision

__all__ = ["DetectionAccuracy", "mean_average_precision"]

IOU_50 = 0
"""Index of IoU 0.5 in torchmetrics' (pycocotools') IoU thresholds 0.50:0.05:0.95."""
NO_VALUE = -1.0
"""What pycocotools reports where there is nothing to average (no ground truth)."""


@dataclass(frozen=True)
class DetectionAccuracy:
    """mAP in 0..1 over ``images`` images; ``per_class``: AP@[.5:.95] and ``per_class_50``:
    AP@.5 by class name (NaN: the class has no ground-truth box)."""

    map: float
    map_50: float
    map_75: float
    per_class: dict[str, float]
    per_class_50: dict[str, float]
    images: int


def _tensor(values: object, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values) if not torch.is_tensor(values) else values).to(dtype)


def _prepared(item: Mapping[str, object], keys: dict[str, torch.dtype]) -> dict[str, torch.Tensor]:
    """One image's dict as CPU tensors (numpy arrays and tensors accepted); boxes (N, 4)."""
    prepared = {key: _tensor(item[key], dtype).cpu() for key, dtype in keys.items() if key in item}
    prepared["boxes"] = prepared["boxes"].reshape(-1, 4)
    return prepared


PREDICTION_KEYS = {"boxes": torch.float32, "scores": torch.float32, "labels": torch.int64}
TARGET_KEYS = {"boxes": torch.float32, "labels": torch.int64, "iscrowd": torch.int64}


def _value(number: torch.Tensor | float) -> float:
    """A pycocotools summary number; -1 (nothing to average) becomes NaN."""
    value = float(number)
    return math.nan if value == NO_VALUE else value


def _check_labels(items: list[dict[str, torch.Tensor]], count: int, what: str) -> None:
    """Labels must name a class: 1..count (torchvision's convention, 0 is background)."""
    for index, item in enumerate(items):
        bad = item["labels"][(item["labels"] < 1) | (item["labels"] > count)]
        if len(bad):
            raise ValueError(
                f"{what} {index} has label {int(bad[0])}: labels are 1..{count} "
                f"(label k is class k - 1 of {count}; 0 is the background)"
            )


def _ap_at_50(precision: torch.Tensor) -> torch.Tensor:
    """Per-class AP@.5 from the extended summary's precision (IoU, recall, class, area,
    max detections): the mean over the 101 recall points, area "all", 100 detections, as
    pycocotools summarises it; -1 where the class has no ground truth."""
    curve = precision[IOU_50, :, :, 0, -1].double()
    valid = curve > NO_VALUE
    counted = valid.sum(dim=0)
    total = torch.where(valid, curve, torch.zeros_like(curve)).sum(dim=0)
    return torch.where(counted > 0, total / counted.clamp(min=1), torch.full_like(total, NO_VALUE))


def mean_average_precision(
    predictions: Sequence[Mapping[str, object]],
    targets: Sequence[Mapping[str, object]],
    classes: Sequence[str],
) -> DetectionAccuracy:
    """COCO mAP of ``predictions`` against ``targets`` (one dict per image, same order).

    predictions: ``{"boxes": (N, 4) x1 y1 x2 y2 px, "scores": (N,), "labels": (N,)}``;
    targets: ``{"boxes": (M, 4), "labels": (M,)[, "iscrowd": (M,)]}``; numpy arrays or
    tensors. Labels are torchvision's: ``k`` names ``classes[k - 1]`` (0 is background).
    Raises ValueError when the lists differ in length, a label is outside 1..len(classes)
    (0-based labels are refused) or there is no ground-truth box at all
    (mAP is undefined); images without predictions count as misses (mAP 0, never NaN).
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} images")
    preds = [_prepared(item, PREDICTION_KEYS) for item in predictions]
    truth = [_prepared(item, TARGET_KEYS) for item in targets]
    _check_labels(preds, len(classes), "prediction")
    _check_labels(truth, len(classes), "target")
    if not any(len(item["labels"]) for item in truth):
        raise ValueError(f"No ground-truth box in {len(truth)} images: mAP is undefined")
    metric = MeanAveragePrecision(
        box_format="xyxy",
        iou_type="bbox",
        class_metrics=True,
        extended_summary=True,
        backend="pycocotools",
        sync_on_compute=False,  # a function of its inputs: never gathers other processes' state
    )
    metric.update(preds, truth)
    result = metric.compute()
    labels = result["classes"].reshape(-1).tolist()
    per_label = dict(zip(labels, result["map_per_class"].reshape(-1).tolist(), strict=True))
    per_label_50 = dict(zip(labels, _ap_at_50(result["precision"]).tolist(), strict=True))

    def by_name(values: dict[int, float]) -> dict[str, float]:
        return {name: _value(values.get(k, NO_VALUE)) for k, name in enumerate(classes, 1)}

    return DetectionAccuracy(
        map=_value(result["map"]),
        map_50=_value(result["map_50"]),
        map_75=_value(result["map_75"]),
        per_class=by_name(per_label),
        per_class_50=by_name(per_label_50),
        images=len(truth),
    )
