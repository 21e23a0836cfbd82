"""What every inpainting method returns, and the progress callback they accept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ProgressCallback = Callable[[int, int, float, np.ndarray | None], None]
"""``progress(iteration, total, loss, preview)``: preview is the current uint8 (H, W, 3) result,
or None after an iteration that computed none (the loss is then the latest one computed)."""


@dataclass(frozen=True)
class InpaintResult:
    """The filled uint8 (H, W, 3) image (known pixels exactly the input's), whether a cancel
    stopped it, how many iterations ran, the loss per iteration (empty for one-shot methods) and
    the (height, width) the method worked at (None: the image's own size).
    """

    image: np.ndarray
    stopped_early: bool
    iterations_run: int
    history: tuple[float, ...]
    working_shape: tuple[int, int] | None = None
