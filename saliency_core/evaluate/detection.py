"""Detection accuracy of registry detectors on an annotated dataset: the study's Table 1.

A model's head is matched to the dataset's classes by name (:func:`category_map`, with the COCO
↔ PASCAL VOC synonyms), its detections on a split scored with
:func:`~saliency_core.scoring.detection.mean_average_precision` (COCO mAP, mAP@.5, per-class
AP). Images are read at their own size (boxes stay in the annotation's pixels); the model
resizes internally. VOC's "difficult" boxes are ignored regions (neither hits nor misses).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import groupby

import numpy as np
import pandas as pd
import torch
from torch import nn

from saliency_core.augment.dataset import NO_DOWNSCALE
from saliency_core.data.annotations import Annotation, DetectionDataset
from saliency_core.data.images import load_image
from saliency_core.models.detectors import load_detector
from saliency_core.models.extras import MissingDependencyError
from saliency_core.models.weights import MissingWeightsError, ModelChoice, WeightSource
from saliency_core.scoring.detection import DetectionAccuracy, mean_average_precision

__all__ = [
    "SYNONYMS",
    "accuracy_table",
    "category_map",
    "predict",
    "score_model",
]

SYNONYMS: dict[str, str] = {
    "airplane": "aeroplane",
    "motorcycle": "motorbike",
    "couch": "sofa",
    "dining table": "diningtable",
    "potted plant": "pottedplant",
    "tv": "tvmonitor",
}
"""COCO name (torchvision's spelling) -> the PASCAL VOC name of the same class."""
Progress = Callable[[int, int], None]
"""``progress(images_done, images_total)``."""
UNLOADABLE = (MissingWeightsError, MissingDependencyError)
"""Why a model of the table cannot be built here: its row says so instead of failing the table."""
NOT_LOADED = "not loaded: "
"""Starts the note of a row whose model could not be loaded (the reason follows)."""
UNTRAINED_NOTE = "untrained (random) weights: an mAP near 0 is expected"
FIXED_SIZE_NOTE = "the model's input size is fixed: input_size not applied"


def _canonical(name: str) -> str:
    key = " ".join(name.strip().lower().split())
    return SYNONYMS.get(key, key)


def category_map(model_categories: Sequence[str], dataset_classes: Sequence[str]) -> dict[int, int]:
    """Model head index -> dataset class index (0-based in ``dataset_classes``), matched by
    name (case and spacing ignored, COCO names read as their VOC synonyms); model classes the
    dataset lacks (background, "N/A", …) are left out."""
    index = {_canonical(name): i for i, name in enumerate(dataset_classes)}
    return {
        head: index[_canonical(name)]
        for head, name in enumerate(model_categories)
        if _canonical(name) in index
    }


def _image_tensor(annotation: Annotation) -> torch.Tensor:
    """The annotation's image at its own size as a float (3, H, W) tensor in [0, 1]; a
    ValueError naming the file when its size is not the annotation's (boxes would not fit)."""
    rgb = load_image(annotation.image, max_side=NO_DOWNSCALE).rgb
    if rgb.shape[:2] != (annotation.height, annotation.width):
        raise ValueError(
            f"{annotation.image}: the image is {rgb.shape[1]}×{rgb.shape[0]} px but its "
            f"annotation says {annotation.width}×{annotation.height}"
        )
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def _as_numpy(output: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {key: output[key].detach().cpu().numpy() for key in ("boxes", "scores", "labels")}


def predict(
    model: nn.Module,
    annotations: Sequence[Annotation],
    device: torch.device | str,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> list[dict[str, np.ndarray]]:
    """The model's detections on each annotation's image (eval mode, no gradients): one dict
    per image (``boxes`` x1 y1 x2 y2 in the image's pixels, ``scores``, ``labels`` = head
    indices), in order. Images of one batch with the same size go through as one tensor."""
    model.eval().to(device)
    outputs: list[dict[str, np.ndarray]] = []
    with torch.inference_mode():
        for start in range(0, len(annotations), batch_size):
            images = [_image_tensor(a) for a in annotations[start : start + batch_size]]
            for _, same in groupby(images, key=lambda image: image.shape):
                batch = torch.stack(list(same)).to(device)
                outputs.extend(_as_numpy(output) for output in model(batch))
            if progress is not None:
                progress(len(outputs), len(annotations))
    return outputs


def _target(annotation: Annotation, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """The annotation as a torchvision target: labels ``classes.index(name) + 1``, difficult
    boxes as ignored (``iscrowd``) regions."""
    return {
        "boxes": annotation.boxes,
        "labels": np.array([classes.index(name) + 1 for name in annotation.labels], np.int64),
        "iscrowd": np.array(annotation.difficult, np.int64),
    }


def _relabelled(output: dict[str, np.ndarray], mapping: dict[int, int]) -> dict[str, np.ndarray]:
    """Detections of classes the dataset has, labelled as dataset class index + 1."""
    keep = np.array([int(label) in mapping for label in output["labels"]], dtype=bool)
    labels = np.array([mapping[int(label)] + 1 for label in output["labels"][keep]], np.int64)
    return {"boxes": output["boxes"][keep], "scores": output["scores"][keep], "labels": labels}


def score_model(
    model: nn.Module,
    categories: Sequence[str],
    dataset: DetectionDataset,
    split: str,
    device: torch.device | str,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> DetectionAccuracy:
    """mAP of ``model`` (whose head index k is ``categories[k]``) on ``dataset``'s ``split``;
    detections of classes the dataset lacks are dropped (:func:`category_map`)."""
    annotations = dataset.split(split)
    mapping = category_map(categories, dataset.classes)
    outputs = predict(model, annotations, device, batch_size, progress)
    return mean_average_precision(
        [_relabelled(output, mapping) for output in outputs],
        [_target(annotation, dataset.classes) for annotation in annotations],
        dataset.classes,
    )


def _coverage_note(categories: Sequence[str], classes: Sequence[str]) -> str | None:
    """What the model cannot score: dataset classes its head does not have."""
    covered = set(category_map(categories, classes).values())
    missing = [name for i, name in enumerate(classes) if i not in covered]
    if not missing:
        return None
    if len(missing) == len(classes):
        return "the model has none of the dataset's classes: every detection dropped (mAP 0)"
    return f"the model lacks {len(missing)} of {len(classes)} classes: {', '.join(missing)}"


def _row(choice: ModelChoice) -> dict[str, object]:
    return {
        "detector": choice.name,
        "weights": choice.weights_name,
        "trained": choice.trained,
        "input_size": choice.input_size,
    }


def _scores(accuracy: DetectionAccuracy | None, classes: Sequence[str]) -> dict[str, object]:
    nan = math.nan
    per_class = accuracy.per_class_50 if accuracy else {}
    return {
        "map": accuracy.map if accuracy else nan,
        "map_50": accuracy.map_50 if accuracy else nan,
        "map_75": accuracy.map_75 if accuracy else nan,
        "images": accuracy.images if accuracy else 0,
        **{f"ap50_{name}": per_class.get(name, nan) for name in classes},
    }


def accuracy_table(
    dataset: DetectionDataset,
    split: str,
    choices: Sequence[ModelChoice],
    device: torch.device | str,
    *,
    batch_size: int = 4,
    progress: Callable[[ModelChoice], Progress | None] | None = None,
    download_progress: Callable[[str], Progress] | None = None,
) -> pd.DataFrame:
    """The study's Table 1: one row per choice (detector × weight source) with ``detector``,
    ``weights`` ("pretrained", "weights file" or "untrained"), ``trained``, ``input_size``,
    ``map`` (COCO mAP@[.5:.95]), ``map_50`` (VOC mAP@.5), ``map_75``, ``images``, per-class
    AP@.5 columns ``ap50_<class>`` (NaN: no ground truth) and ``notes``: what the row leaves
    out or why it is empty (a model that cannot be loaded here: NaN scores and the reason).
    ``progress(choice)`` may give an image callback per model, ``download_progress(name)``
    a byte callback for weights downloaded on first use."""
    rows = []
    for choice in choices:
        notes = [UNTRAINED_NOTE] if choice.source is WeightSource.UNTRAINED else []
        accuracy = None
        try:
            loaded = load_detector(
                choice.name,
                choice.source,
                weights_path=choice.weights_path,
                input_size=choice.input_size,
                device=torch.device(device),
                progress=download_progress(choice.name) if download_progress else None,
            )
        except UNLOADABLE as error:
            notes.append(f"{NOT_LOADED}{error}")
        else:
            coverage = _coverage_note(loaded.categories, dataset.classes)
            notes += [coverage] if coverage else []
            fixed = choice.input_size is not None and not getattr(loaded.spec, "resizable", True)
            notes += [FIXED_SIZE_NOTE] if fixed else []
            images = progress(choice) if progress else None
            accuracy = score_model(
                loaded.model, loaded.categories, dataset, split, device, batch_size, images
            )
            del loaded  # one model in memory at a time
        rows.append(
            {**_row(choice), **_scores(accuracy, dataset.classes), "notes": "; ".join(notes)}
        )
    return pd.DataFrame(rows)
