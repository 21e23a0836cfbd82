"""Selective erasing: the CAM's top-p% pixels, optionally dilated, replaced by a fill colour.

The study erases the top 2.5% (CAM above its 97.5th percentile) with black; an earlier helper
of the study used the top 5%.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from saliency_core.scoring.metrics import top_percent_mask
from saliency_core.study import ERASE_PERCENT, IMAGENET_MEAN, IMAGENET_STD, TIES_INCLUDE

IMAGENET_MEAN_255 = tuple(255 * value for value in IMAGENET_MEAN)
"""ImageNet per-channel RGB mean in 0..255 (torchvision's normalisation × 255)."""
IMAGENET_STD_255 = tuple(255 * value for value in IMAGENET_STD)
"""ImageNet per-channel RGB standard deviation in 0..255."""
DEFAULT_SEED = 0
"""Seed of the noise fill when no generator is given (reproducible by default)."""


def _disk(radius: int) -> np.ndarray:
    """Pixels (dy, dx) with dy² + dx² ≤ radius² (Euclidean disk)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def _square(radius: int) -> np.ndarray:
    """Pixels with max(|dy|, |dx|) ≤ radius (Chebyshev square)."""
    return np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)


KERNELS: dict[str, Callable[[int], np.ndarray]] = {"disk": _disk, "square": _square}
"""Dilation structuring elements by name: radius (pixels) -> uint8 kernel."""


def dilate_mask(mask: np.ndarray, radius_px: int, kernel: str = "disk") -> np.ndarray:
    """Grow a boolean mask by ``radius_px`` pixels (disk: Euclidean, square: Chebyshev)."""
    if radius_px < 0:
        raise ValueError(f"The dilation radius must be ≥ 0 pixels, got {radius_px}.")
    if kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {kernel!r}; choose one of {tuple(KERNELS)}.")
    if radius_px == 0:
        return mask.copy()
    element = KERNELS[kernel](radius_px)
    return cv2.dilate(mask.astype(np.uint8), element).astype(bool)


def erase_mask(
    cam: np.ndarray, top_percent: float = ERASE_PERCENT, dilate_px: int = 0, kernel: str = "disk"
) -> np.ndarray:
    """Boolean (H, W) mask of the CAM's top ``top_percent``% (``cam >= percentile(cam, 100 - p)``,
    ties included), dilated by ``dilate_px`` pixels.

    Raises ValueError when the cut would select every pixel — a constant CAM, or one whose lowest
    value fills at least (100 - p)% of the image — because erasing the whole image is never a
    meaningful augmentation; an empty mask would silently pass the image through unchanged.
    (The study's helper erases ``cam > percentile``, strictly; the two differ only on ties.)
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"The CAM must be a 2-D map, got shape {cam.shape}.")
    if not np.isfinite(cam).all():
        raise ValueError("The CAM contains NaN or infinite values.")
    if not 0.0 < top_percent < 100.0:
        raise ValueError(f"top_percent must be in (0, 100), got {top_percent}.")
    mask = top_percent_mask(cam, top_percent, ties=TIES_INCLUDE)
    if mask.all():
        cause = (
            "the map is constant"
            if cam.min() == cam.max()
            else f"at least {100 - top_percent:g}% of its pixels share its lowest value"
        )
        raise ValueError(
            f"The CAM's top {top_percent:g}% cannot be isolated: {cause}, "
            "so the cut would erase the whole image."
        )
    return dilate_mask(mask, dilate_px, kernel)


FillFn = Callable[[int, np.ndarray, np.random.Generator], np.ndarray]


def _black(count: int, mean_color: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0 in every channel (the study's fill)."""
    return np.zeros((count, 3), dtype=np.uint8)


def _mean(count: int, mean_color: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mean colour, rounded to the nearest integer."""
    return np.broadcast_to(np.rint(mean_color).astype(np.uint8), (count, 3))


def _gaussian(count: int, mean_color: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``clip(rint(mean + std · N(0, 1)), 0, 255)`` per pixel and channel, std = ImageNet's."""
    values = mean_color + np.asarray(IMAGENET_STD_255) * rng.standard_normal((count, 3))
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


FILLS: dict[str, FillFn] = {"black": _black, "dataset mean": _mean, "gaussian noise": _gaussian}
"""Fill registry: (pixel count, mean colour 0..255, rng) -> (count, 3) uint8 values."""


def erase(
    image: np.ndarray,
    mask: np.ndarray,
    fill: str = "black",
    mean_color: tuple[float, float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A copy of the uint8 (H, W, 3) ``image`` with the ``mask`` pixels replaced by ``fill``.

    ``mean_color`` (RGB, 0..255) defaults to the ImageNet mean; ``rng`` (noise fill) defaults to
    ``np.random.default_rng(DEFAULT_SEED)``.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"Expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}.")
    if mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
        raise ValueError(f"Expected a bool mask of shape {image.shape[:2]}, got {mask.shape}.")
    if fill not in FILLS:
        raise ValueError(f"Unknown fill {fill!r}; choose one of {tuple(FILLS)}.")
    color = np.asarray(IMAGENET_MEAN_255 if mean_color is None else mean_color, dtype=np.float64)
    rng = np.random.default_rng(DEFAULT_SEED) if rng is None else rng
    out = image.copy()
    out[mask] = FILLS[fill](int(mask.sum()), color, rng)
    return out


@dataclass(frozen=True)
class EraseSettings:
    """Where and how to erase: the CAM's top ``top_percent``%, dilated by ``dilate_px`` pixels
    with ``kernel``, filled with ``fill`` (``mean_color`` for "dataset mean" / noise)."""

    top_percent: float = ERASE_PERCENT
    dilate_px: int = 0
    kernel: str = "disk"
    fill: str = "black"
    mean_color: tuple[float, float, float] | None = None
