"""Selective inpainting: fill the erased pixels again, behind one interface for every method.

Methods (registry ``METHODS``): OpenCV's Telea (fast marching) and Navier-Stokes, one-shot and
in milliseconds, and the Deep Image Prior (:mod:`saliency_core.augment.dip`), iterative,
reporting progress and cancellable. The OpenCV methods work at full resolution (they take
milliseconds, and a working size would only blur the fill); the Deep Image Prior works at a
working size (:mod:`saliency_core.augment.working_size`) and is composited back at full size.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from saliency_core.augment.dip import deep_image_prior
from saliency_core.augment.result import InpaintResult, ProgressCallback

_CONTROL = ("progress", "cancel")


def _opencv(flag: int) -> Callable[..., InpaintResult]:
    """A cv2.inpaint method; ``radius`` is the neighbourhood (pixels) each filled pixel uses."""

    def run(
        image: np.ndarray,
        mask: np.ndarray,
        *,
        radius: float = 3.0,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> InpaintResult:
        if radius <= 0:
            raise ValueError(f"radius must be > 0 pixels, got {radius}.")
        if cancel is not None and cancel.is_set():
            return InpaintResult(image.copy(), stopped_early=True, iterations_run=0, history=())
        filled = cv2.inpaint(image, mask.astype(np.uint8), float(radius), flag)
        return InpaintResult(filled, stopped_early=False, iterations_run=1, history=())

    return run


@dataclass(frozen=True)
class InpaintMethod:
    """``run(image, mask, *, progress, cancel, **params) -> InpaintResult`` and a summary."""

    run: Callable[..., InpaintResult]
    summary: str

    @property
    def defaults(self) -> dict[str, Any]:
        """The method's parameters and their defaults (read from ``run``'s signature)."""
        parameters = inspect.signature(self.run).parameters.values()
        return {
            p.name: p.default
            for p in parameters
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _CONTROL
        }


METHODS: dict[str, InpaintMethod] = {
    "Telea": InpaintMethod(
        _opencv(cv2.INPAINT_TELEA),
        "Fast marching from the hole's border inwards (Telea 2004), OpenCV.",
    ),
    "Navier-Stokes": InpaintMethod(
        _opencv(cv2.INPAINT_NS),
        "Propagates isophotes into the hole by fluid dynamics (Bertalmio et al. 2001), OpenCV.",
    ),
    "Deep Image Prior": InpaintMethod(
        deep_image_prior,
        "An untrained encoder–decoder fitted to the known pixels (Ulyanov et al. 2018), "
        "as in the study; slow, best on a GPU. It works at a reduced working size (512 px on a "
        "CPU) and is resized back inside the hole only.",
    ),
}


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    method: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    **params: Any,
) -> InpaintResult:
    """Fill the ``mask`` (bool (H, W), True = unknown) pixels of a uint8 (H, W, 3) image.

    Pixels outside the mask are exactly the input's (known pixels are composited back).
    ``progress`` is called by iterative methods only (Deep Image Prior); ``cancel`` stops them.
    An empty mask returns a copy of the image; a mask covering everything is refused.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown inpainting method {method!r}; choose one of {tuple(METHODS)}.")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"Expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}.")
    if mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
        raise ValueError(f"Expected a bool mask of shape {image.shape[:2]}, got {mask.shape}.")
    entry = METHODS[method]
    unknown = set(params) - set(entry.defaults)
    if unknown:
        raise ValueError(
            f"{method} has no parameter(s) {sorted(unknown)}; it takes {sorted(entry.defaults)}."
        )
    if not mask.any():
        return InpaintResult(image.copy(), stopped_early=False, iterations_run=0, history=())
    if mask.all():
        raise ValueError("The mask covers the whole image: there are no known pixels to fill from.")
    result = entry.run(image, mask, progress=progress, cancel=cancel, **params)
    return replace(result, image=np.where(mask[..., None], result.image, image))
