"""The Explore page's named presets, what "Reproduce the study" does, and what a preset changed.

The presets' settings are :mod:`saliency_core.presets` (the evaluate command's ``--preset``
starts from the same ones); here are their names on the page and the words about them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from saliency_core import presets
from saliency_core.settings import Settings
from saliency_core.study import TIES_INCLUDE, TIES_NO_OVERSHOOT

PAGE_PRESETS: dict[str, Settings] = {
    "Explore": presets.EXPLORE,
    "Reproduce the study": presets.STUDY,
}
"""The preset box's choices; each choice stays an editable control."""

STUDY_NOTES = (
    "Images and human masks are resized to 512×512 (aspect ratio not kept), as in the study.",
    "CAMs: EigenCAM at the study's target layers (Faster R-CNN layer4, SSD extra[1]); "
    "box targets from detections with score ≥ 0.9.",
    "IoU uses the top 10% of pixels: the notebooks' `map >= percentile(map, 90)` (the blog's "
    "'top 90%' wording means this 90th-percentile cut).",
    "The study fed DeepGaze IIE a 0..1 image although it expects 0..255, so its DeepGaze maps "
    "were computed on a near-black image and are dominated by the centre bias. Saliency Explorer "
    "does it right by default; the 'study input range' switch reproduces the original behaviour.",
    "EigenCAM's sign is arbitrary in pytorch-grad-cam 1.5.7 (issue #315): some of the study's "
    "maps may have been inverted. Saliency Explorer orients each map so that strongly activated "
    "pixels come out high, so its numbers can differ from the study's on such images.",
)

PRESET_FIELDS = (
    "detectors",
    "cams",
    "target",
    "score_threshold",
    "working_size",
    "study_input_range",
    "top_percent",
    "ties",
)
"""The settings a preset sets; every other field keeps the user's value."""

FIELD_LABELS = {
    "detectors": "detectors",
    "cams": "CAM methods",
    "target": "target layer",
    "score_threshold": "score threshold",
    "working_size": "working size",
    "study_input_range": "study input range",
    "top_percent": "top-p%",
    "ties": "top-p% ties",
}
"""Human-readable names of :data:`PRESET_FIELDS`."""

TIE_NAMES = {TIES_NO_OVERSHOOT: "never more than p%", TIES_INCLUDE: "include ties (study)"}


def apply_preset(settings: Settings, name: str) -> Settings:
    """``settings`` with the :data:`PRESET_FIELDS` of preset ``name``."""
    preset = PAGE_PRESETS[name]
    return settings.with_changes(**{field: getattr(preset, field) for field in PRESET_FIELDS})


def format_setting(field: str, value: Any) -> str:
    """A setting's value as a person reads it: lists joined, "on"/"off", sizes in px, p in %."""
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if field == "working_size":
        return "as loaded" if value is None else f"{value}×{value} px"
    if field == "top_percent":
        return f"{value:g}%"
    if field == "ties":
        return TIE_NAMES.get(value, str(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Change:
    """One field's value before and after, formatted (:func:`format_setting`)."""

    field: str
    old: str
    new: str


def changes(
    old: Settings, new: Settings, fields: Iterable[str] = PRESET_FIELDS
) -> tuple[list[Change], list[Change]]:
    """The ``fields`` whose value differs between ``old`` and ``new``, and those kept."""
    changed, kept = [], []
    for field in fields:
        before, after = getattr(old, field), getattr(new, field)
        entry = Change(field, format_setting(field, before), format_setting(field, after))
        (changed if before != after else kept).append(entry)
    return changed, kept


def describe_changes(old: Settings, new: Settings, fields: Iterable[str] = PRESET_FIELDS) -> str:
    """ "Changed: label: old → new; …. Kept: label: value; …." over ``fields``."""
    changed, kept = changes(old, new, fields)
    moved = "; ".join(f"{FIELD_LABELS.get(c.field, c.field)}: {c.old} → {c.new}" for c in changed)
    same = "; ".join(f"{FIELD_LABELS.get(c.field, c.field)}: {c.new}" for c in kept)
    return f"Changed: {moved or 'nothing'}. Kept: {same or 'nothing'}."
