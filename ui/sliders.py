"""Sliders that show a :class:`~saliency_core.settings.Settings` field: each one's range and
step (one table), and a link's value as its slider can show it, with a note when that differs
(no Streamlit here)."""

from __future__ import annotations

from saliency_core.settings import Settings
from ui import live_threshold

SLIDERS = {
    "score_threshold": ("detection score threshold", 0.05, 1.0, 0.05),
    "top_percent": ("top-p%", *(live_threshold.SLIDER[k] for k in ("min", "max", "step"))),
    "consensus_sigma": ("consensus smoothing sigma (px)", 0, 40, 1),
}
"""Per :class:`Settings` field a slider shows: what it is, its lowest and highest value and
its step."""


def on_slider(field: str, value: float) -> float:
    """``value`` as the slider of ``field`` can show it: clamped to its range, whole when its
    step is whole."""
    _, low, high, _ = SLIDERS[field]
    return type(low)(min(max(value, low), high))


def off_slider_notes(settings: Settings) -> list[str]:
    """What a link asks that its slider cannot show, and what is shown instead."""
    notes = []
    for field, (label, low, high, _) in SLIDERS.items():
        value, shown = getattr(settings, field), on_slider(field, getattr(settings, field))
        if shown != value:
            notes.append(
                f"The link's {label} {value:g} is not on its slider ({low:g}–{high:g}): "
                f"showing {shown:g}."
            )
    return notes


def slider_range(field: str) -> dict:
    """The ``st.slider`` range arguments of ``field``'s slider."""
    _, low, high, step = SLIDERS[field]
    return {"min_value": low, "max_value": high, "step": step}
