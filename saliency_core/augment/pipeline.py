"""One sample through the study's augmentation: rule → erase mask → erase → optional inpaint."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from saliency_core.augment.erase import EraseSettings, erase, erase_mask
from saliency_core.augment.inpaint import inpaint
from saliency_core.augment.result import InpaintResult, ProgressCallback
from saliency_core.augment.rule import (
    DEFAULT_PRESET,
    PRESETS,
    EraseRule,
    MetricEvaluator,
    RuleDecision,
    decide,
)

STUDY_ERASING = EraseSettings()
"""The study's erasing: top 2.5% of the CAM, no dilation, black."""


@dataclass(frozen=True)
class AugmentedSample:
    """The augmented image (the input itself when the rule keeps it), the erased region (all
    False when kept), the boxes exactly as given, the rule's decision (None without a reference),
    the inpainting run and the erased image before inpainting (the input when kept).
    """

    image: np.ndarray
    mask: np.ndarray
    boxes: Any
    decision: RuleDecision | None
    inpainting: InpaintResult | None
    erased: np.ndarray


def augment_sample(
    image: np.ndarray,
    cam: np.ndarray,
    reference_map: np.ndarray | None,
    boxes: Any = None,
    *,
    rule: EraseRule | None = PRESETS[DEFAULT_PRESET].rule,
    erasing: EraseSettings = STUDY_ERASING,
    inpaint_method: str | None = None,
    inpaint_params: Mapping[str, Any] | None = None,
    evaluate: MetricEvaluator | None = None,
    rng: np.random.Generator | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    erase_kept: bool = False,
) -> AugmentedSample:
    """Selective erasing (and inpainting when ``inpaint_method`` is given) of one image.

    ``cam`` and ``reference_map`` are (H, W) maps in [0, 1] at the image's size; ``boxes``
    (e.g. an (N, 4) array of x1, y1, x2, y2 pixels) are returned untouched — erasing and
    inpainting replace pixels in place, so boxes stay valid.

    Without a ``reference_map`` or a ``rule`` no rule is applied (``decision`` None) and the
    image is erased; ``erase_kept`` erases (and inpaints) an image the rule keeps too — a preview
    of what erasing would do — while ``decision.erase`` still says keep.
    """
    shapes = [cam.shape] if reference_map is None else [cam.shape, reference_map.shape]
    if any(shape != image.shape[:2] for shape in shapes):
        raise ValueError(
            f"The CAM {cam.shape} and reference "
            f"{None if reference_map is None else reference_map.shape} must match the image's "
            f"size {image.shape[:2]}."
        )
    decision = None
    if reference_map is not None and rule is not None:
        decision = decide(rule, cam, reference_map, evaluate=evaluate)
    if decision is not None and not decision.erase and not erase_kept:
        kept = np.zeros(cam.shape, dtype=bool)
        return AugmentedSample(image, kept, boxes, decision, None, image)
    mask = erase_mask(cam, erasing.top_percent, erasing.dilate_px, erasing.kernel)
    erased = erase(image, mask, erasing.fill, erasing.mean_color, rng)
    if inpaint_method is None:
        return AugmentedSample(erased, mask, boxes, decision, None, erased)
    result = inpaint(
        erased, mask, inpaint_method, progress=progress, cancel=cancel, **(inpaint_params or {})
    )
    return AugmentedSample(result.image, mask, boxes, decision, result, erased)
