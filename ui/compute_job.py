"""Explore's maps computed in a background thread (:class:`ui.jobs.BackgroundJob`): cheap maps
first (:func:`saliency_core.pipeline.planned_steps`), a partial bundle after every step, Stop
keeps what is done, and every step is timed (:data:`ui.eta.TIMES`) for the ETAs.

The thread draws nothing: its maps go through the app's caches without the download bars, so
the page fetches pretrained weights (with a bar) before it starts a job.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from saliency_core import pipeline
from saliency_core.data.images import Sample
from saliency_core.pipeline import Bundle, MapStep
from saliency_core.settings import Settings
from ui import cached, eta
from ui.jobs import BackgroundJob


@dataclass(frozen=True)
class Progress:
    """Where a job is: ``done`` of ``total`` steps, the running one (``label``, started at
    ``step_started``, a ``time.monotonic`` value), the steps not finished (the running one first)
    and the partial bundle of the steps done (None before the first)."""

    done: int
    total: int
    label: str
    step_started: float
    left: tuple[MapStep, ...]
    partial: Bundle | None = None

    def text(self, times: eta.StepTimes = eta.TIMES) -> str:
        """ "Map 3 of 7: FCOS R50-FPN (UNTRAINED) · GradCAM — 4 s, about 12 s left"."""
        elapsed = time.monotonic() - self.step_started
        seconds, complete = times.remaining(self.left, elapsed)
        return (
            f"Map {min(self.done + 1, self.total)} of {self.total}: {self.label} — "
            f"{elapsed:.0f} s, {eta.describe(seconds, complete)}"
        )


@dataclass
class Outcome:
    """A finished job: its bundle (partial when ``stopped``), how many of the ``total`` steps
    ran, and every step's error (label, exception) for the page to report."""

    bundle: Bundle
    done: int
    total: int
    stopped: bool
    errors: list[tuple[str, Exception]] = field(default_factory=list)

    @property
    def note(self) -> str:
        return f"stopped: {self.done} of {self.total} maps"


class ComputeJob(BackgroundJob[Progress, Outcome]):
    """``analysis.compute_bundle`` of ``sample`` under ``settings`` in a daemon thread."""

    def __init__(
        self,
        key: Hashable,
        sample: Sample,
        settings: Settings,
        functions: pipeline.MapFunctions = cached.SILENT_CACHED_MAPS,
        times: eta.StepTimes = eta.TIMES,
    ) -> None:
        steps, _ = pipeline.planned_steps(settings)

        def work(update, cancel) -> Outcome:
            errors: list[tuple[str, Exception]] = []
            state = {"partial": None, "done": 0, "started": time.monotonic()}

            def progress(done: int, total: int, label: str) -> None:
                now = time.monotonic()
                if done > 0:
                    times.record(steps[done - 1], now - state["started"])
                state["started"] = now
                update(Progress(done, total, label, now, tuple(steps[done:]), state["partial"]))

            def partial(bundle: Bundle) -> None:
                state["partial"], state["done"] = bundle, state["done"] + 1

            try:
                bundle = pipeline.compute_bundle(
                    sample,
                    settings,
                    functions,
                    progress=progress,
                    cancel=cancel,
                    on_error=lambda label, error: errors.append((label, error)),
                    partial=partial,
                )
            except pipeline.Cancelled as stop:
                return Outcome(stop.bundle, state["done"], len(steps), True, errors)
            return Outcome(bundle, len(steps), len(steps), False, errors)

        label = pipeline.step_label(steps[0]) if steps else "references"
        initial = Progress(0, len(steps), label, time.monotonic(), tuple(steps))
        super().__init__(key, work, initial)
