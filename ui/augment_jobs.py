"""Inpainting in a background thread, so the Augment page stays responsive during a Deep Image
Prior fit: the page keeps the job in session state and polls :meth:`InpaintJob.snapshot`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from saliency_core.augment import InpaintResult, inpaint


@dataclass(frozen=True)
class Snapshot:
    """The job's progress: iterations done of ``total``, the last loss and preview."""

    iteration: int
    total: int
    loss: float
    preview: np.ndarray | None


class InpaintJob:
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
        self.key = key
        self.cancel = threading.Event()
        self.result: InpaintResult | None = None
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._snapshot = Snapshot(0, int(params.get("iterations", 1)), math.nan, None)
        self._thread = threading.Thread(
            target=self._run, args=(image, mask, method, dict(params)), daemon=True
        )
        self._thread.start()

    def _progress(self, iteration: int, total: int, loss: float, preview: np.ndarray) -> None:
        with self._lock:
            self._snapshot = Snapshot(iteration, total, loss, preview)

    def _run(self, image: np.ndarray, mask: np.ndarray, method: str, params: dict) -> None:
        try:
            self.result = inpaint(
                image, mask, method, progress=self._progress, cancel=self.cancel, **params
            )
        except Exception as error:  # noqa: BLE001 - handed to the page, which reports it
            self.error = error

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def stop(self) -> None:
        """Ask the fit to stop after its current iteration (the result keeps what it has)."""
        self.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends or ``timeout`` seconds pass; True when it has ended."""
        self._thread.join(timeout)
        return not self.running
