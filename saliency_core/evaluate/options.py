"""How a dataset run is done (what it computes is :class:`~saliency_core.settings.Settings`):
the metrics it writes, the top percents of its IoU, the images (a list, a limit), the
finer-grained tables, batches."""

from __future__ import annotations

from dataclasses import dataclass

from saliency_core.scoring import agreement
from saliency_core.study import TOP_PERCENT

MAP_METRIC_OPTIONS = ("MAE", "IoU", "CC", "SIM", "KLD")
"""The ``--metrics`` names of the map-vs-map metrics ("IoU": IoU@top-p% at each top percent)."""
FIXATION_METRICS = agreement.FIXATION_METRICS
DEFAULT_METRICS = (*MAP_METRIC_OPTIONS, *FIXATION_METRICS)
"""The study's MAE and top-p% IoU, CC, SIM, KLD, and the fixation metrics where fixations exist."""


@dataclass(frozen=True)
class Options:
    """How a run is done (what is computed is :class:`~saliency_core.settings.Settings`)."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    top_percents: tuple[float, ...] = (TOP_PERCENT,)
    limit: int | None = None
    images: tuple[str, ...] | None = None
    """Only these stems, in this order (None: every image, sorted); a stem the dataset lacks is
    named in the run's notices. Part of a run's identity."""
    finegrained: bool = True
    """Also the onset-window curves and region shares (``temporal``, ``regions`` tables)."""
    batch_size: int | None = None
    """Images per detector and DeepGaze IIE pass (None: ``batching.default_batch_size``: 8 on CUDA,
    1 on CPU).
    Not part of a run's identity: results equal one image at a time within float tolerance."""

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in DEFAULT_METRICS]
        if unknown:
            raise ValueError(
                f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(DEFAULT_METRICS)}"
            )
        if any(not 0 < p <= 100 for p in self.top_percents):
            raise ValueError(f"top-p% values must be in (0, 100], got {self.top_percents}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be ≥ 1")
        if self.images is not None:
            object.__setattr__(self, "images", tuple(dict.fromkeys(self.images)))
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError("batch size must be ≥ 1")
