"""The settings form shared by Explore's sidebar and the Dataset report's run panel: the same
widgets (labels, order, help) build the same :class:`Settings` fields on both pages.

Each page keeps its own widget keys (:class:`FormKeys`: links and tests name them) and its own
other widgets (Explore: score, explain, type-2 models, ties, sigma, consensus; the run panel:
dataset, references, limit, output folder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from saliency_core.maps.cams import CAM_METHODS
from saliency_core.models.detectors import DETECTORS, DetectorSpec
from saliency_core.models.weights import WeightSource, finetuned_tags
from saliency_core.settings import TARGETS, Settings
from saliency_core.study import WORKING_SIZE
from ui import widgets


@dataclass(frozen=True)
class FormKeys:
    """A page's session keys of the form's widgets: ``{prefix}_{name}``, or the page's own name
    for it in ``renamed`` (Explore's CAM methods are ``explore_methods``)."""

    prefix: str
    renamed: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> str:
        return f"{self.prefix}_{self.renamed.get(name, name)}"


@dataclass(frozen=True)
class DetectorFields:
    """The detector section's choices, named as the :class:`Settings` fields they set."""

    detectors: tuple[str, ...]
    cams: tuple[str, ...]
    target: str
    input_size: int | None
    weights: WeightSource
    weights_files: tuple[tuple[str, str], ...]
    untrained_twins: bool
    finetuned: tuple[tuple[str, str], ...] = ()

    def settings_fields(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Type2Weights:
    """The DeepGaze weight choice, named as the :class:`Settings` fields it sets."""

    type2_weights: WeightSource = WeightSource.UNTRAINED
    type2_weights_file: str | None = None
    study_input_range: bool = False

    def settings_fields(self) -> dict[str, Any]:
        return dict(vars(self))


def widget_values(keys: FormKeys, settings: Settings) -> dict[str, Any]:
    """The session-state value of every form widget that shows ``settings``."""
    return {
        keys("detectors"): list(settings.detectors),
        keys("cams"): list(settings.cams),
        keys("target"): settings.target if settings.target in TARGETS else TARGETS[0],
        keys("size"): widgets.size_label(settings.input_size),
        keys("weights"): settings.weights,
        keys("twins"): settings.untrained_twins,
        keys("type2_weights"): settings.type2_weights,
        keys("study_range"): settings.study_input_range,
        keys("working"): settings.working_size is not None,
        keys("finetuned"): [_entry(pair) for pair in settings.finetuned],
    } | ({keys(OFFERED): [_entry(p) for p in settings.finetuned]} if settings.finetuned else {})


OFFERED = "finetuned_offered"
"""The fine-tuned models a link brought: the choices of the "Fine-tuned models" widget (kept
when a preset clears the choice, so they can be ticked again)."""


def _entry(pair: tuple[str, str]) -> str:
    """A fine-tuned (detector, file) pair as the widget holds it: "NAME=FILE"."""
    return "=".join(pair)


def finetuned_section(keys: FormKeys, container) -> tuple[tuple[str, str], ...]:
    """The fine-tuned models a link brought (the Experiments page's "Open in Explore"), each
    a row after the detector it started from; unticking one drops its row. Nothing is drawn
    without one."""
    offered = st.session_state.get(keys(OFFERED), [])
    if not offered:
        return ()
    pairs = [tuple(entry.split("=", 1)) for entry in offered]
    labels = dict(zip(offered, finetuned_tags([path for _, path in pairs]), strict=True))
    chosen = container.multiselect(
        "Fine-tuned models",
        offered,
        key=keys("finetuned"),
        format_func=lambda entry: f"{entry.split('=', 1)[0]} (fine-tuned: {labels[entry]})",
        help="Each is a row after the detector it started from, so the change in its maps is "
        "seen image by image.",
    )
    return tuple(tuple(entry.split("=", 1)) for entry in chosen)


UNSEEDED = ("weights", "type2_weights")
"""Widgets that keep their own default (a radio's index: seeding it too makes Streamlit warn)."""


def seed(keys: FormKeys, start: Settings) -> None:
    """Widgets not shown yet (first visit, or state dropped by Streamlit) start at ``start``."""
    skipped = {keys(name) for name in UNSEEDED}
    for key, value in widget_values(keys, start).items():
        if key not in skipped:
            st.session_state.setdefault(key, value)


def detector_section(keys: FormKeys, container) -> DetectorFields:
    """Detectors (uninstalled ones named, with the install command), CAM methods, target layer,
    input size, and the weight source with per-detector weights files."""
    unavailable = {name: spec for name, spec in DETECTORS.items() if spec.unavailable_reason}
    detectors = container.multiselect(
        "Detectors",
        list(DETECTORS),
        format_func=lambda name: f"{name} (not installed)" if name in unavailable else name,
        key=keys("detectors"),
    )
    install_hints(container, unavailable, detectors)
    cams = container.multiselect(
        "CAM methods",
        list(CAM_METHODS),
        key=keys("cams"),
        help="\n".join(f"- **{m.name}** ({m.cost}): {m.description}" for m in CAM_METHODS.values()),
    )
    target = container.radio("Target layer", list(TARGETS), key=keys("target"))
    size = widgets.input_size(keys("size"), container)
    with container:
        weights = widgets.detector_weights(keys.prefix, detectors)
    return DetectorFields(
        tuple(detectors),
        tuple(cams),
        target,
        size,
        weights.source,
        weights.files,
        weights.untrained_twins,
        finetuned_section(keys, container),
    )


def install_hints(container, unavailable: dict[str, DetectorSpec], chosen: list[str]) -> None:
    """Which listed detectors need an optional package, with the install command (and the
    package's licence); a chosen one is named as a warning (its maps are skipped)."""
    by_command: dict[str, list[DetectorSpec]] = {}
    for spec in unavailable.values():
        by_command.setdefault(spec.install, []).append(spec)
    for command, specs in by_command.items():
        licence = f" (licence: {specs[0].licence})" if specs[0].licence else ""
        names = ", ".join(spec.name for spec in specs)
        container.caption(f"Not installed: {names}. Install with `.venv/bin/{command}`{licence}.")
    for name in chosen:
        if name in unavailable:
            container.warning(f"{unavailable[name].unavailable_reason}.")


def type2_weights(keys: FormKeys, container) -> Type2Weights:
    """DeepGaze's weight source, its checkpoint file, and the study's input-range toggle (drawn
    only where a chosen type-2 model or reference needs weights)."""
    with container:
        source = widgets.weight_source(keys("type2_weights"), "DeepGaze weights", "MIT1003")
    path = None
    if source is WeightSource.FILE:
        path = container.text_input("DeepGaze checkpoint file", key=keys("type2_path"))
    study_range = container.toggle(
        "Study input range (0..1, reproduces the study's bug)", key=keys("study_range")
    )
    return Type2Weights(source, path or None, study_range)


def working_size(keys: FormKeys, container) -> int | None:
    """The study's resize toggle: every image N×N first (None: kept as it is)."""
    label = f"Resize to {WORKING_SIZE}×{WORKING_SIZE} (study)"
    return WORKING_SIZE if container.toggle(label, key=keys("working")) else None
