"""What a run did, in one line: images scored of the run's images, skipped ones and why.

A run's status is one of :data:`STATUSES`: "complete" (every image scored), "partial" (some
skipped with an error), "failed" (none scored), "stopped" (by the user). Skipped images are
summarised by cause (:data:`CAUSES`: the error's class, e.g. an unreadable file), e.g.
"failed: 0 of 5 images scored, 5 skipped (5 unreadable)". The advice fits the causes: a rerun
retries the skipped images, which cannot help a corrupt file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

STATUSES = ("running", "complete", "partial", "failed", "stopped")
CAUSES = {
    "ImageLoadError": "unreadable",
    "DatasetError": "not in the dataset",
    "OutOfMemoryError": "out of memory",
}
"""Error class (the text before ":" in an error message) -> the cause it is summarised as;
any other class is named as it is."""
PERMANENT = {"unreadable", "not in the dataset"}
"""Causes a rerun cannot cure: the file must be replaced or removed."""


def cause(reason: str) -> str:
    """The summarised cause of a skipped image's reason ("ImageLoadError: …" -> "unreadable")."""
    name = reason.split(":", 1)[0].strip()
    return CAUSES.get(name, name or "unknown error")


@dataclass(frozen=True)
class Outcome:
    """A run's counts: ``images`` in the run, ``scored`` (with results, earlier runs included),
    ``errors`` (image -> "ErrorClass: message") and whether it was ``stopped``."""

    images: int
    scored: int
    errors: Mapping[str, str] = field(default_factory=dict)
    stopped: bool = False

    @property
    def status(self) -> str:
        if self.stopped:
            return "stopped"
        if self.scored >= self.images:
            return "complete"
        return "failed" if self.scored == 0 else "partial"

    def causes(self) -> Counter:
        return Counter(cause(reason) for reason in self.errors.values())

    def text(self) -> str:
        """E.g. "failed: 0 of 5 images scored, 5 skipped (5 unreadable)"."""
        line = f"{self.status}: {self.scored} of {self.images} images scored"
        if self.errors:
            counts = ", ".join(f"{n} {name}" for name, n in self.causes().most_common())
            line += f", {len(self.errors)} skipped ({counts})"
        return line

    def advice(self) -> str:
        """What to do next ("" when nothing is left to do)."""
        if self.status == "complete":
            return ""
        if self.status == "stopped":
            return "Rerun with the same settings into the same folder to resume it."
        causes = set(self.causes())
        steps = []
        if causes & PERMANENT:
            steps.append(
                "replace or remove the unreadable files (a rerun cannot help them); the list of "
                "skipped images says which"
            )
        if causes - PERMANENT:
            steps.append("a rerun retries the other skipped images (see their reasons)")
        return (steps[0][0].upper() + "; ".join(steps)[1:] + ".") if steps else ""
