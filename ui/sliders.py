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


SHOWN_WITH = {"consensus_sigma": "consensus"}
"""A slider drawn only while another setting is on (its value matters only then)."""


def on_slider(field: str, value: float) -> float:
    """``value`` as the slider of ``field`` can show it: the nearest of its steps within its
    range (``low + k · step``), whole when its steps are whole."""
    _, low, high, step = SLIDERS[field]
    nearest = low + round((min(max(value, low), high) - low) / step) * step
    return type(low)(round(min(nearest, high), 9))


def off_slider_notes(settings: Settings) -> list[str]:
    """What a link asks that its slider cannot show, and what is shown instead (a slider the
    view does not draw says nothing)."""
    notes = []
    for field, (label, low, high, step) in SLIDERS.items():
        if field in SHOWN_WITH and not getattr(settings, SHOWN_WITH[field]):
            continue
        value, shown = getattr(settings, field), on_slider(field, getattr(settings, field))
        if shown != value:
            notes.append(
                f"The link's {label} {value:g} is not a value of its slider ({low:g}–{high:g} "
                f"in steps of {step:g}): showing {shown:g}."
            )
    return notes


def slider_range(field: str) -> dict:
    """The ``st.slider`` range arguments of ``field``'s slider."""
    _, low, high, step = SLIDERS[field]
    return {"min_value": low, "max_value": high, "step": step}
