"""The selective-erasing rule as data: erase when ``metric(CAM, reference) <op> threshold``.

The metric itself is evaluated by ``saliency_core.scoring.metrics.compute`` (default) or by any
callable with the same signature passed as ``evaluate``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from saliency_core.maps.references import REFERENCES
from saliency_core.scoring import metrics
from saliency_core.study import TIES_INCLUDE, TOP_PERCENT

RULE_METRICS = ("IoU@top-p%", "MAE")
"""Metric names understood by the rule (names of ``saliency_core.scoring.metrics``)."""
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}
"""Comparator registry: ``COMPARATORS[op](value, threshold) -> erase?``."""
_SYMBOLS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


class MetricResult(Protocol):
    """What a metric evaluation returns (``saliency_core.scoring.metrics.MetricValue``)."""

    value: float
    reason: str | None


class MetricEvaluator(Protocol):
    """The signature of ``saliency_core.scoring.metrics.compute`` that the rule relies on."""

    def __call__(
        self, name: str, saliency: np.ndarray, *, reference: np.ndarray, percent: float
    ) -> MetricResult: ...


@dataclass(frozen=True)
class EraseRule:
    """Erase when ``metric(cam, reference) <comparator> threshold``.

    ``percent`` is the top-p% of each map binarised for "IoU@top-p%" (ignored by "MAE");
    ``reference`` names the human map the caller passes to :func:`decide`.
    """

    metric: str = "IoU@top-p%"
    comparator: str = "<="
    threshold: float = 0.1
    percent: float = TOP_PERCENT
    reference: str = "deepgaze"

    def __post_init__(self) -> None:
        if self.metric not in RULE_METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}; choose one of {RULE_METRICS}.")
        if self.comparator not in COMPARATORS:
            raise ValueError(
                f"Unknown comparator {self.comparator!r}; choose one of {tuple(COMPARATORS)}."
            )
        if self.reference not in REFERENCES:
            raise ValueError(
                f"Unknown reference {self.reference!r}; choose one of {', '.join(REFERENCES)}."
            )
        if not 0.0 < self.percent <= 100.0:
            raise ValueError(f"percent must be in (0, 100], got {self.percent}.")
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold}.")

    @property
    def metric_label(self) -> str:
        """The metric as shown to users, e.g. "IoU@top-10%" or "MAE"."""
        return self.metric.replace("p%", f"{self.percent:g}%")

    def describe(self) -> str:
        """The condition in words, e.g. "IoU@top-10% ≤ 0.1"."""
        return f"{self.metric_label} {_SYMBOLS[self.comparator]} {self.threshold:g}"


@dataclass(frozen=True)
class RulePreset:
    rule: EraseRule
    explanation: str


DEFAULT_PRESET = "Study (code): IoU@top-10% ≤ 0.1"
PRESETS: dict[str, RulePreset] = {
    DEFAULT_PRESET: RulePreset(
        EraseRule(metric="IoU@top-p%", comparator="<=", threshold=0.1, percent=TOP_PERCENT),
        "What the study's code does: binarise the CAM and the DeepGaze IIE map at their top 10% "
        "(map ≥ its 90th percentile), and erase when the IoU of the two is at most 0.1 — i.e. "
        "when the detector looks somewhere people do not (LOW agreement).",
    ),
    "Study (blog text): MAE < 0.1": RulePreset(
        EraseRule(metric="MAE", comparator="<", threshold=0.1, percent=TOP_PERCENT),
        "What the study's blog post says: erase when the MAE between the CAM and the DeepGaze "
        "IIE map is below 0.1, calling such maps 'significantly different'. But MAE < 0.1 means "
        "the two [0, 1] maps differ by less than 0.1 per pixel on average — they are nearly "
        "identical — so this erases on HIGH agreement, the opposite of the code's rule. Offered "
        "for comparison only.",
    ),
}


@dataclass(frozen=True)
class RuleDecision:
    """The metric's value, whether to erase, why the value is missing (if so), and a summary."""

    value: float
    erase: bool
    reason: str | None
    text: str


def decide(
    rule: EraseRule,
    cam: np.ndarray,
    reference_map: np.ndarray,
    *,
    evaluate: MetricEvaluator | None = None,
) -> RuleDecision:
    """Evaluate ``rule`` on a CAM and the reference map it names (both (H, W), in [0, 1]).

    ``evaluate`` defaults to ``metrics.compute`` with the study's tie rule (ties at the top-p%
    threshold included, ``TIES_INCLUDE``).

    A NaN metric (e.g. a constant map) never erases; its reason is passed on.
    """
    evaluate = evaluate or partial(metrics.compute, ties=TIES_INCLUDE)
    result = evaluate(rule.metric, cam, reference=reference_map, percent=rule.percent)
    value = float(result.value)
    label = rule.metric_label
    if math.isnan(value):
        reason = result.reason or f"{label} is undefined for these maps"
        return RuleDecision(value, False, reason, f"{label} undefined ({reason}): not erased.")
    erase = COMPARATORS[rule.comparator](value, rule.threshold)
    verdict = "erase" if erase else "keep"
    condition = "" if erase else "not "
    text = f"{label} = {value:.3f}, {condition}{_SYMBOLS[rule.comparator]} {rule.threshold:g}"
    return RuleDecision(value, erase, result.reason, f"{text}: {verdict}.")
