"""Working size: an iterative inpainting method fits a downscaled copy of the image, and its
result is brought back to full resolution inside the hole only.

The image and mask are resized so that the longer side is ≤ ``max_side`` pixels (never
enlarged; aspect ratio kept, each side rounded, at least 1 px). The image is resized with area
averaging (``cv2.INTER_AREA``); the mask with area averaging too, then ``> 0``: every working
pixel that overlaps the hole is unknown, so the erase fill mixed into the hole's border never
counts as a known pixel. The filled working image is resized back bicubically
(``cv2.INTER_CUBIC``, saturated to uint8) and used only inside the full-resolution mask: outside
it the output is the input, byte for byte.
"""

from __future__ import annotations

import cv2
import numpy as np

from saliency_core.study import WORKING_SIZE

DEFAULT_MAX_SIDE: dict[str, int] = {"cpu": WORKING_SIZE, "cuda": 2048}
"""Default working size (longer side, px) per device type: the study's 512 on a CPU; on CUDA the
full image up to a 2048 px cap (larger images are still downscaled)."""
FALLBACK_MAX_SIDE = WORKING_SIZE
"""Working size on any other device type (e.g. ``mps``)."""


def default_max_side(device_type: str) -> int:
    """The default working size (longer side, px) on a device type."""
    return DEFAULT_MAX_SIDE.get(device_type, FALLBACK_MAX_SIDE)


def working_shape(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(height, width) scaled by ``min(1, max_side / longer side)``, each side rounded, ≥ 1."""
    if max_side < 1:
        raise ValueError(f"The working size must be ≥ 1 px, got {max_side}.")
    height, width = shape
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def downscale(
    image: np.ndarray, mask: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 image and the bool mask at ``shape`` (see the module docstring); unchanged
    when ``shape`` is the image's own."""
    if shape == mask.shape:
        return image, mask
    size = (shape[1], shape[0])
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    coverage = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return small_image, coverage > 0


def composite_back(filled: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The working-size result ``filled`` resized to the image's size, taken inside ``mask``
    only; every pixel outside ``mask`` is ``image``'s."""
    height, width = mask.shape
    if filled.shape[:2] != mask.shape:
        filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.where(mask[..., None], filled, image)
