"""Detector maps for the pipeline: image in, :class:`~saliency_core.maps.cams.CamResult` (a CAM
with the detections of the same pass) out, the untrained ones marked with :data:`UNTRAINED_NOTE`.

Models are built once per (detector, weights, input size, device) and shared by every caller
through :data:`saliency_core.models.cache.MODELS`; each run holds that model's lock, because
pytorch-grad-cam's hooks live on the shared model object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

import numpy as np
import torch

from saliency_core.maps.cams import CamResult, ExplainedDetections, run_cams
from saliency_core.models.cache import MODELS, Locked, is_out_of_memory, shared_model
from saliency_core.models.detectors import LoadedDetector, load_detector
from saliency_core.models.weights import ModelChoice
from saliency_core.study import SCORE_THRESHOLD

T = TypeVar("T")
UNTRAINED_NOTE = "Untrained (random) weights: a sanity-check baseline, not a result."


class ModelResult(Protocol):
    """A model's map result (:class:`CamResult`, a classifier's ``ClassifierResult``)."""

    trained: bool
    notes: list[str]


R = TypeVar("R", bound=ModelResult)


def mark_untrained(result: R) -> R:
    """``result`` with :data:`UNTRAINED_NOTE` before its notes when its weights are untrained."""
    return result if result.trained else replace(result, notes=[UNTRAINED_NOTE, *result.notes])


class ComputeError(RuntimeError):
    """A computation failed for a reason the user can act on (the message says how)."""


def get_detector(
    choice: ModelChoice,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Locked[LoadedDetector]:
    """The shared, locked detector for ``choice`` (built on first use)."""
    return shared_model("detector", choice, load_detector, device, progress, MODELS)


def guard_memory(what: str, run: Callable[[], T]) -> T:
    """``run()``; an out-of-memory error becomes a :class:`ComputeError` saying what to try
    (the device's cache is emptied first)."""
    try:
        return run()
    except RuntimeError as error:
        if not is_out_of_memory(error):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise ComputeError(
            f"Out of memory while running {what}. Try a smaller image or input size, fewer "
            "models at once, or the CPU (set SALIENCY_DEVICE=cpu)."
        ) from error


def compute_cam(
    rgb: np.ndarray,
    choice: ModelChoice,
    method: str = "EigenCAM",
    target: str | None = None,
    score_threshold: float = SCORE_THRESHOLD,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    explain: ExplainedDetections | None = None,
) -> CamResult:
    """Run ``choice``'s detector once on ``rgb`` (uint8 H×W×3) and take ``method``'s CAM.

    ``explain`` chooses what target methods explain (default: all detections ≥ the threshold).
    """
    return compute_cams([rgb], choice, method, target, score_threshold, device, progress, explain)[
        0
    ]


def compute_cams(
    rgbs: Sequence[np.ndarray],
    choice: ModelChoice,
    method: str = "EigenCAM",
    target: str | None = None,
    score_threshold: float = SCORE_THRESHOLD,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    explain: ExplainedDetections | None = None,
) -> list[CamResult]:
    """:func:`compute_cam` of same-sized images in one batched pass (see ``cams.run_cams``);
    each map is labelled with ``choice``'s label (a fine-tuned model's tag included)."""
    entry = get_detector(choice, device, progress)
    with entry.lock:
        outputs = guard_memory(
            f"{choice.label} · {method}",
            lambda: run_cams(entry.value, rgbs, method, target, score_threshold, True, explain),
        )
    built = entry.value.label
    return [
        mark_untrained(replace(output, label=choice.label + output.label.removeprefix(built)))
        for output in outputs
    ]
