"""Inpainting in a background thread (:class:`ui.jobs.BackgroundJob`), so the Augment page stays
responsive during a Deep Image Prior fit: the page keeps the job in session state and polls
:meth:`InpaintJob.snapshot`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from saliency_core.augment import InpaintResult, inpaint
from ui.jobs import BackgroundJob


@dataclass(frozen=True)
class Snapshot:
    """The job's progress: iterations done of ``total``, the last loss and preview."""

    iteration: int
    total: int
    loss: float
    preview: np.ndarray | None


class InpaintJob(BackgroundJob[Snapshot, InpaintResult]):
    """One ``inpaint`` run in a daemon thread, cancellable, with progress snapshots.

    ``key`` identifies the inputs (the page compares it with the current settings).
    """

    def __init__(
        self,
        key: Hashable,
        image: np.ndarray,
        mask: np.ndarray,
        method: str,
        params: Mapping[str, Any],
    ) -> None:
        params = dict(params)

        def work(update, cancel) -> InpaintResult:
            def progress(iteration: int, total: int, loss: float, preview: np.ndarray) -> None:
                update(Snapshot(iteration, total, loss, preview))

            return inpaint(image, mask, method, progress=progress, cancel=cancel, **params)

        initial = Snapshot(0, int(params.get("iterations", 1)), math.nan, None)
        super().__init__(key, work, initial)
