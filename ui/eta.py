"""Time estimates for the steps of :func:`saliency_core.pipeline.compute_bundle`.

A step's duration is remembered per kind (model, input size and method) in a
:class:`StepTimes` record. A kind not yet timed is estimated from the fastest timed step of the
same model, per forward pass, times the step's cost in forward passes, which every registry
entry declares (``forwards``: :data:`~saliency_core.maps.cams.CAM_METHODS`,
:data:`~saliency_core.maps.classifier_methods.METHOD_FORWARDS` for classifier CAMs and Captum's
gradient maps, :data:`~saliency_core.models.gaze.TYPE2_MODELS`; a trained readout: one forward
of its backbone at its input size, so its backbone's timed steps estimate it). A method whose cost
depends on more than the model (AblationCAM, ScoreCAM: one forward per channel of the layer), an
untimed type-2 network, or a method no registry knows has no estimate until one has run: a
missing estimate never raises. Cache hits (under :data:`CACHE_HIT_S`) are not recorded: they say
nothing about a computation's cost."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from saliency_core.maps.cams import CAM_METHODS
from saliency_core.maps.classifier_maps import ClassifierStep
from saliency_core.maps.classifier_methods import METHOD_FORWARDS
from saliency_core.models.gaze import TYPE2_MODELS
from saliency_core.pipeline import CamStep, MapStep, Type2Step

CACHE_HIT_S = 0.05
"""A step faster than this (seconds) was served from a cache."""


def _detector_step(job: CamStep) -> tuple[Hashable, float | None]:
    entry = CAM_METHODS.get(job.method)
    kind = ("detector", job.choice.name, job.choice.input_size, job.method)
    return kind, None if entry is None else entry.forwards


def _classifier_step(job: ClassifierStep) -> tuple[Hashable, float | None]:
    kind = ("classifier", job.choice.name, job.choice.input_size, job.method)
    return kind, METHOD_FORWARDS.get(job.method)


def _type2_step(job: Type2Step) -> tuple[Hashable, float | None]:
    """A type-2 model's kind; a readout's is its backbone's (family, model, input size) with
    itself as the method, so that the backbone's timed forwards estimate it before it has run
    (its input's long side is that size: the square classifier input is an upper bound)."""
    entry = TYPE2_MODELS.get(job.model)
    if entry is None:
        return ("type-2", job.model, job.max_side, ""), None
    if entry.timed_like:
        return (*entry.timed_like, f"type-2 {job.model}"), entry.forwards
    return ("type-2", job.model, job.max_side, ""), entry.forwards


STEP_COSTS: dict[type, Callable[[Any], tuple[Hashable, float | None]]] = {
    CamStep: _detector_step,
    ClassifierStep: _classifier_step,
    Type2Step: _type2_step,
}
"""Step type -> (the step's kind: family, model, input size, method; its cost in forwards)."""


def step_cost(job: MapStep) -> tuple[Hashable, float | None]:
    """What a step's duration depends on (besides the image and the device), whose first three
    items name the model, and its cost in forward passes of that model (None: not known)."""
    cost = STEP_COSTS.get(type(job))
    return cost(job) if cost else ((type(job).__name__,), None)


class StepTimes:
    """Measured seconds per step kind (the last measurement wins); thread-safe."""

    def __init__(self) -> None:
        self._seconds: dict[Hashable, tuple[float, float | None]] = {}
        """Kind -> (seconds, the step's cost in forwards)."""
        self._lock = threading.Lock()

    def record(self, job: MapStep, seconds: float) -> None:
        """Remember how long ``job`` took (ignored for a cache hit)."""
        if seconds >= CACHE_HIT_S:
            kind, forwards = step_cost(job)
            with self._lock:
                self._seconds[kind] = (seconds, forwards)

    def estimate(self, job: MapStep) -> float | None:
        """Seconds ``job`` will probably take, or None when nothing says: its kind's last time,
        else min over the model's timed steps of (seconds / forwards) × the job's forwards."""
        kind, forwards = step_cost(job)
        with self._lock:
            if kind in self._seconds:
                return self._seconds[kind][0]
            per_forward = [
                seconds / timed
                for other, (seconds, timed) in self._seconds.items()
                if other[:3] == kind[:3] and timed
            ]
        if forwards == 0:
            return 0.0
        if forwards is None or not per_forward:
            return None
        return min(per_forward) * forwards

    def remaining(self, jobs: Sequence[MapStep], elapsed: float) -> tuple[float, bool]:
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
