"""Time estimates for the steps of :func:`saliency_core.analysis.compute_bundle`.

A step's duration is remembered per kind (detector, input size and CAM method; or type-2 model)
in a :class:`StepTimes` record. A kind not yet timed is estimated from the fastest timed CAM of
its detector times the method's relative cost (:data:`RELATIVE_COST`: a backward pass to the
target layer costs about one forward); a perturbation method (AblationCAM, ScoreCAM: many
forwards, their number depends on the layer) or an untimed type-2 model has no estimate until one
has run. Cache hits (under :data:`CACHE_HIT_S`) are not recorded: they say nothing about a
computation's cost.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence

from saliency_core.analysis import Job, Type2Job
from saliency_core.cams import CAM_METHODS

RELATIVE_COST = {"gradient-free": 1.0, "gradient": 2.0}
"""Cost of one step relative to the detector's gradient-free CAM (one forward pass)."""
CACHE_HIT_S = 0.05
"""A step faster than this (seconds) was served from a cache."""


def step_kind(job: Job) -> Hashable:
    """What a step's duration depends on (besides the image and the device)."""
    if isinstance(job, Type2Job):
        return ("type-2", job.model, job.max_side)
    return ("cam", job.choice.name, job.choice.input_size, job.method)


def _family(method: str) -> str | None:
    """The method's :data:`RELATIVE_COST` key (None for perturbation methods)."""
    entry = CAM_METHODS[method]
    if entry.expensive:
        return None
    return "gradient" if entry.uses_gradients else "gradient-free"


class StepTimes:
    """Measured seconds per step kind (the last measurement wins); thread-safe."""

    def __init__(self) -> None:
        self._seconds: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def record(self, job: Job, seconds: float) -> None:
        """Remember how long ``job`` took (ignored for a cache hit)."""
        if seconds >= CACHE_HIT_S:
            with self._lock:
                self._seconds[step_kind(job)] = seconds

    def estimate(self, job: Job) -> float | None:
        """Seconds ``job`` will probably take, or None when nothing says."""
        with self._lock:
            known = self._seconds.get(step_kind(job))
            if known is not None or isinstance(job, Type2Job):
                return known
            forward = [
                seconds / RELATIVE_COST[family]
                for kind, seconds in self._seconds.items()
                if kind[0] == "cam"
                and kind[1:3] == (job.choice.name, job.choice.input_size)
                and (family := _family(kind[3])) is not None
            ]
        family = _family(job.method)
        if family is None or not forward:
            return None
        return min(forward) * RELATIVE_COST[family]

    def remaining(self, jobs: Sequence[Job], elapsed: float) -> tuple[float, bool]:
        """Seconds left for ``jobs`` (the first one running for ``elapsed`` s), and whether every
        step had an estimate (when not, the figure is a lower bound)."""
        total, complete = 0.0, True
        for index, job in enumerate(jobs):
            guess = self.estimate(job)
            if guess is None:
                complete = False
                continue
            total += max(guess - elapsed, 0.0) if index == 0 else guess
        return total, complete


def describe(seconds: float, complete: bool) -> str:
    """ "about 40 s left", "at least 2 min left" (rounded up; minutes from 100 s on)."""
    if not complete and seconds == 0:
        return "time left not known yet"
    amount = f"{math.ceil(seconds)} s" if seconds < 100 else f"{math.ceil(seconds / 60)} min"
    return f"{'about' if complete else 'at least'} {amount} left"


TIMES = StepTimes()
"""The process-wide record (the Explore page's jobs share what they measured)."""
