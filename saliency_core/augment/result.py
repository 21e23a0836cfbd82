"""What every inpainting method returns, and the progress callback they accept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ProgressCallback = Callable[[int, int, float, np.ndarray], None]
"""``progress(iteration, total, loss, preview)``: preview is the current uint8 (H, W, 3) result."""


@dataclass(frozen=True)
class InpaintResult:
    """The filled uint8 (H, W, 3) image (known pixels exactly the input's), whether a cancel
    stopped it, how many iterations ran, and the loss per iteration (empty for one-shot methods).
    """

    image: np.ndarray
    stopped_early: bool
    iterations_run: int
    history: tuple[float, ...]
