"""Optional analyses of the dataset engine: they add to an image's results, never cost them.

An image's main results are its maps' rows (MAE, IoU, CC, SIM, KLD and the MIT fixation
metrics). Everything else the engine computes for it is optional: the human ceiling, the
onset-window curves, the region shares, a classifier's map, and whatever is added later. Each
runs through one :class:`Guard` per image: an analysis that cannot run for the image (bad or
missing data, a model failing on it) leaves the image's other results as they are and records
a notice naming the analysis and why; the run writes it to its ``notices`` table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from saliency_core.pipeline import Bundle

if TYPE_CHECKING:
    from saliency_core.evaluate.options import Options


def _always(options: Options) -> bool:
    return True


@dataclass(frozen=True)
class OptionalAnalysis:
    """One optional analysis: ``compute(bundle, options)`` gives its rows for an image."""

    name: str
    """How its notices name it, e.g. "Time curves"."""
    compute: Callable[[Bundle, Options], pd.DataFrame]
    part: str | None = None
    """The results folder's table its rows go to (``temporal``, …); None: the main table."""
    stage: str = "metrics"
    """The timing stage its seconds are added to."""
    wanted: Callable[[Options], bool] = _always
    """Whether the run's options ask for it."""


def reason(error: Exception) -> str:
    """An error as a notice says it: the message of a ValueError (bad input, said for the
    user), else "ErrorClass: message"."""
    return str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"


@dataclass
class Guard:
    """The one place an image's optional analyses run: failures become notices."""

    notices: list[str] = field(default_factory=list)

    def record(self, name: str, error: Exception) -> None:
        """Note that the analysis ``name`` was left out for this image, and why."""
        self.notices.append(f"{name} left out for this image: {reason(error)}")

    def run(self, analysis: OptionalAnalysis, bundle: Bundle, options: Options) -> pd.DataFrame:
        """The analysis' rows, or no rows and a notice when it raises."""
        try:
            return analysis.compute(bundle, options)
        except Exception as error:  # noqa: BLE001 - an optional analysis never costs the image
            self.record(analysis.name, error)
            return pd.DataFrame()
