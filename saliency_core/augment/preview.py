"""One image's non-trivial transformation, for a preview: its VOC boxes, one drawn sub-policy.

:func:`read_boxes` reads a PASCAL VOC annotation (a dataset's ``Annotations/<stem>.xml`` or an
uploaded file) into boxes at the size the image is shown at (the app may have downscaled it;
torchvision's box resize), with every clipped or skipped object named in ``notices``.
:func:`transform` applies one drawn sub-policy of a policy and says what it did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from saliency_core.augment.policies import POLICIES, Draw, PolicyAugmenter
from saliency_core.data.annotations import read_voc_annotation

ANNOTATION_FOLDERS = ("Annotations", "annotations")
"""Where a dataset keeps ``<stem>.xml`` (PASCAL VOC's folder, the augment command's)."""


@dataclass(frozen=True)
class AnnotatedImage:
    """Boxes (N, 4) x1 y1 x2 y2 in the shown image's pixels, their class names, and notices."""

    boxes: np.ndarray
    labels: tuple[str, ...]
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transformed:
    """The transformed image and boxes, the draw (sub-policy and applied steps) and the labels
    of the boxes that left the image (dropped)."""

    image: np.ndarray
    boxes: np.ndarray
    labels: tuple[str, ...]
    draw: Draw
    dropped: tuple[str, ...]


def annotation_file(root: Path, stem: str) -> Path | None:
    """``root/Annotations/<stem>.xml`` (or ``annotations/``), None without one."""
    paths = (Path(root) / folder / f"{stem}.xml" for folder in ANNOTATION_FOLDERS)
    return next((path for path in paths if path.is_file()), None)


def read_boxes(data: bytes, label: str, shape: tuple[int, int]) -> AnnotatedImage:
    """A VOC annotation's boxes for an image shown at ``shape`` (H, W): read at the size the
    XML's ``<size>`` gives (``shape`` without one), clipped there, then resized to ``shape``.
    Raises :class:`~saliency_core.data.annotations.AnnotationError` (naming ``label`` and the
    line) when the XML is malformed."""
    annotation, notices = read_voc_annotation(data, label, Path(label), shape)
    size = (annotation.height, annotation.width)
    boxes = tv_tensors.BoundingBoxes(
        torch.from_numpy(annotation.boxes), format="XYXY", canvas_size=size
    )
    resized = F.resize(boxes, list(shape)).as_subclass(torch.Tensor).numpy()
    return AnnotatedImage(resized.astype(np.float32), annotation.labels, tuple(notices))


def sub_policy_label(policy: str, index: int) -> str:
    """e.g. "3: Rotate_BBox 0.6 L8 → Rotate_BBox 0.8 L10" (1-based, probability, level)."""
    steps = (f"{op.name} {op.probability:g} L{op.level}" for op in POLICIES[policy][index])
    return f"{index + 1}: " + " → ".join(steps)


def transform(
    image: np.ndarray,
    annotated: AnnotatedImage,
    policy: str,
    seed: int,
    sub_policy: int | None = None,
) -> Transformed:
    """One draw of ``policy`` (or of its sub-policy ``sub_policy``, 0-based) seeded by ``seed``."""
    operations = POLICIES[policy] if sub_policy is None else [POLICIES[policy][sub_policy]]
    augmenter = PolicyAugmenter(operations)
    generator = torch.Generator().manual_seed(seed)
    draw = augmenter.draw(generator)
    if sub_policy is not None:
        draw = replace(draw, index=sub_policy)
    names = annotated.labels
    moved, boxes, labels = augmenter.apply(image, annotated.boxes, names, draw, generator)
    dropped = tuple((Counter(names) - Counter(labels)).elements())
    return Transformed(moved, boxes, labels, draw, dropped)
