"""Inpainting in a background thread (:class:`ui.jobs.BackgroundJob`), so the Augment page stays
responsive during a Deep Image Prior fit: the page keeps the job in session state, polls
:meth:`InpaintJob.snapshot` and shows :func:`progress_text`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from saliency_core.augment import InpaintResult, inpaint
from ui.jobs import BackgroundJob


@dataclass(frozen=True)
class Snapshot:
    """The job's progress: iterations done of ``total``, the latest loss and preview (and the
    iteration it shows), and the seconds per iteration (NaN before the first one ends).

    ``seconds_per_iteration`` is the first iteration's time (set-up included) after it, then
    the mean over the iterations after the first: ``(t_i − t_1) / (i − 1)``.
    """

    iteration: int
    total: int
    loss: float
    preview: np.ndarray | None
    preview_iteration: int
    seconds_per_iteration: float


def format_duration(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on), rounded to whole seconds."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(snapshot: Snapshot, working: tuple[int, int]) -> str:
    """What a running fit is doing: before its first iteration ends, that it is building the
    network and running the first iteration at the working size (width×height); afterwards
    ``iteration i/N · s/it · ETA m:ss`` (ETA = s/it × iterations left) and the loss."""
    if snapshot.iteration == 0:
        return (
            f"Building the network and running the first iteration at "
            f"{working[1]}×{working[0]}…"
        )
    rate = snapshot.seconds_per_iteration
    eta = format_duration(rate * (snapshot.total - snapshot.iteration))
    loss = "" if math.isnan(snapshot.loss) else f" · loss {snapshot.loss:.5f}"
    return f"iteration {snapshot.iteration}/{snapshot.total} · {rate:.2f} s/it · ETA {eta}{loss}"


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
            started = time.monotonic()
            first = started
            shown: tuple[np.ndarray | None, int] = (None, 0)

            def progress(
                iteration: int, total: int, loss: float, preview: np.ndarray | None
            ) -> None:
                nonlocal first, shown
                now = time.monotonic()
                if iteration == 1:
                    first, rate = now, now - started
                else:
                    rate = (now - first) / (iteration - 1)
                if preview is not None:
                    shown = (preview, iteration)
                update(Snapshot(iteration, total, loss, *shown, rate))

            return inpaint(image, mask, method, progress=progress, cancel=cancel, **params)

        initial = Snapshot(0, int(params.get("iterations") or 1), math.nan, None, 0, math.nan)
        super().__init__(key, work, initial)
