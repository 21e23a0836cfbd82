"""One settings object for every front end: the Explore page, the commands and the dataset engine.

:class:`Settings` says which maps to compute (detectors × weights × CAM methods, type-2 models),
what to compare them with (references) and how (top-p%, sigma, working size, score threshold).
It round-trips through TOML, JSON and a compact URL query string, so a run, a preset and a
bookmarked view are the same object.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from saliency_core.models.weights import WeightSource
from saliency_core.study import (
    DEEPGAZE_MAX_SIDE,
    SCORE_THRESHOLD,
    TIE_POLICIES,
    TIES_NO_OVERSHOOT,
    TOP_PERCENT,
)

if TYPE_CHECKING:
    from saliency_core.maps.cams import Explain

TARGETS = ("study default", "FPN")
"""CAM target layer choice: each detector's study layer, or its FPN where it has one (a layer
name of the detector registry, e.g. "features", is accepted too)."""
TIES = TIE_POLICIES
"""Top-p% masks: never exceed p% by ties (default), or the study's ``map >= percentile`` rule."""
MAX_WORKING_SIZE = 4096


class SettingsError(ValueError):
    """Settings that cannot run; the message names the field and the allowed values."""


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: finite, ``low`` ≤ value ≤ ``high`` (``low`` itself
    excluded when ``open_low``), a whole number when ``integer``; ``unit`` for messages."""

    low: float
    high: float
    integer: bool = False
    open_low: bool = False
    unit: str = ""

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.integer:
            return f"a whole number in {self.low}..{self.high}{unit}"
        return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}]{unit}"

    def holds(self, value: Any) -> bool:
        kind = Integral if self.integer else Real
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        return above and value <= self.high


RANGES: dict[str, Range] = {
    "input_size": Range(32, 2048, integer=True, unit="px"),
    "score_threshold": Range(0, 1),
    "type2_max_side": Range(32, 4096, integer=True, unit="px"),
    "top_percent": Range(0, 100, open_low=True),
    "sigma": Range(0, 1000, unit="px"),
    "working_size": Range(8, MAX_WORKING_SIZE, integer=True, unit="px"),
    "consensus_sigma": Range(0, 1000, unit="px"),
    "classifier_input_size": Range(32, 1024, integer=True, unit="px"),
    "classifier_class": Range(0, 99_999, integer=True),
    "classifier_top_k": Range(1, 1000, integer=True),
    "explain_detection": Range(0, 999, integer=True),
}
"""Every numeric setting's one declaration of its range: :class:`Settings` refuses a value
outside it, whatever the front end (URL, TOML/JSON, command-line flags); the widgets take their
bounds from it. The bounds keep a link from asking for unbounded work (a 12,000 px classifier
input, a 10^8-long list of detection ranks)."""


@dataclass(frozen=True)
class Settings:
    """Everything that defines a computed view or a dataset run.

    ``weights`` applies to every detector; ``weights_files`` maps a detector name to its
    state-dict file (``weights="file"``). ``references`` are keys of
    :data:`saliency_core.maps.references.REFERENCES` ("deepgaze", "fixations", "mask", …).
    ``sigma`` is the fixation-density blur in pixels (None: one degree, ``max(H, W) / 30``);
    ``working_size`` resizes every image to N×N first (the study: 512; None keeps the size).

    Classifiers (:data:`saliency_core.models.classifiers.CLASSIFIERS`) × ``classifier_methods``
    (CAMs and Captum's gradient maps, :data:`saliency_core.maps.classifier_methods.METHOD_COSTS`)
    are type-1 maps too, with their own weight source (a file's path in ``weights_files`` under the
    classifier's name) and input side (None: the weights' 224 px). They explain the top-1 class, the
    class ``classifier_class`` (an index), or the sum of the ``classifier_top_k`` top logits."""

    detectors: tuple[str, ...] = ("Faster R-CNN R50-FPN",)
    weights: WeightSource = WeightSource.UNTRAINED
    weights_files: tuple[tuple[str, str], ...] = ()
    untrained_twins: bool = False
    input_size: int | None = None
    cams: tuple[str, ...] = ("EigenCAM",)
    target: str = "study default"
    score_threshold: float = SCORE_THRESHOLD
    type2: tuple[str, ...] = ("DeepGaze IIE",)
    type2_weights: WeightSource = WeightSource.UNTRAINED
    type2_weights_file: str | None = None
    study_input_range: bool = False
    type2_max_side: int = DEEPGAZE_MAX_SIDE
    references: tuple[str, ...] = ("deepgaze", "fixations", "mask")
    top_percent: float = TOP_PERCENT
    ties: str = TIES_NO_OVERSHOOT
    sigma: float | None = None
    working_size: int | None = None
    consensus: bool = False
    consensus_sigma: float = 0.0
    classifiers: tuple[str, ...] = ()
    classifier_methods: tuple[str, ...] = ("GradCAM",)
    classifier_weights: WeightSource = WeightSource.UNTRAINED
    classifier_input_size: int | None = None
    classifier_class: int | None = None
    classifier_top_k: int = 1
    explain_detection: int | None = None
    """Gradient and perturbation CAMs explain only this detection: its rank by decreasing score
    (0 = the best), whatever its score. None: all detections ≥ ``score_threshold``."""
    explain_class: str | None = None
    """Gradient and perturbation CAMs explain only this class's detections ≥ the threshold."""

    def __post_init__(self) -> None:
        for name in LIST_FIELDS:
            object.__setattr__(self, name, tuple(dict.fromkeys(getattr(self, name))))
        object.__setattr__(self, "weights", _weight_source(self.weights, "weights"))
        for name in ("type2_weights", "classifier_weights"):
            object.__setattr__(self, name, _weight_source(getattr(self, name), name))
        object.__setattr__(self, "weights_files", tuple(sorted(dict(self.weights_files).items())))
        _check(self)

    @property
    def explain(self) -> Explain:
        """What class-discriminative CAMs explain, as :class:`saliency_core.maps.cams.Explain`."""
        from saliency_core.maps.cams import Explain

        return Explain(detection=self.explain_detection, category=self.explain_class)

    def weights_file(self, detector: str) -> str | None:
        """The state-dict file given for ``detector`` (``weights="file"``), or None."""
        return dict(self.weights_files).get(detector)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML values; None fields are left out (TOML has no null)."""
        values = asdict(self)
        values["weights_files"] = dict(self.weights_files)
        values["weights"] = self.weights.value
        values["type2_weights"] = self.type2_weights.value
        values["classifier_weights"] = self.classifier_weights.value
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in values.items()
            if value is not None
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from plain values; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        converted = dict(values)
        for name in LIST_FIELDS:
            if name in converted:
                converted[name] = tuple(_as_list(converted[name]))
        if "weights_files" in converted:
            converted["weights_files"] = tuple(dict(converted["weights_files"]).items())
        return cls(**converted)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


LIST_FIELDS = ("detectors", "cams", "type2", "references", "classifiers", "classifier_methods")
"""The settings that hold lists of registry names (duplicates dropped, order kept)."""


def _as_list(value: Any) -> list:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _weight_source(value: Any, name: str) -> WeightSource:
    try:
        return WeightSource(value)
    except ValueError:
        choices = ", ".join(s.value for s in WeightSource)
        raise SettingsError(f"{name}: {value!r} is not one of {choices}") from None


def _check(settings: Settings) -> None:
    """Raise :class:`SettingsError` for values no front end can run."""
    from saliency_core.maps.cams import CAM_METHODS
    from saliency_core.maps.classifier_methods import METHOD_COSTS
    from saliency_core.maps.references import REFERENCES
    from saliency_core.models.classifiers import CLASSIFIERS
    from saliency_core.models.detectors import DETECTORS
    from saliency_core.models.gaze import TYPE2_MODELS

    registries = {
        "detectors": DETECTORS,
        "cams": CAM_METHODS,
        "type2": TYPE2_MODELS,
        "references": REFERENCES,
        "classifiers": CLASSIFIERS,
        "classifier_methods": METHOD_COSTS,
    }
    for name, registry in registries.items():
        unknown = [value for value in getattr(settings, name) if value not in registry]
        if unknown:
            raise SettingsError(
                f"{name}: unknown {', '.join(map(repr, unknown))}; choose from "
                f"{', '.join(registry)}"
            )
    layers = {name for spec in DETECTORS.values() for name in spec.targets}
    if settings.target not in {*TARGETS, *layers}:
        raise SettingsError(
            f"target: {settings.target!r} is not one of {', '.join([*TARGETS, *sorted(layers)])}"
        )
    if settings.ties not in TIES:
        raise SettingsError(f"ties: {settings.ties!r} is not one of {', '.join(TIES)}")
    _check_ranges(settings)
    if settings.explain_detection is not None and settings.explain_class is not None:
        raise SettingsError("explain one detection (explain_detection) or one class, not both")
    if settings.explain_class == "":
        raise SettingsError("explain_class: give a class name, or leave it out")
    _check_classifier_target(settings)


def _check_ranges(settings: Settings) -> None:
    """Each numeric setting within its :data:`RANGES` entry (None where None is the default)."""
    defaults = {f.name: f.default for f in fields(Settings)}
    for name, allowed in RANGES.items():
        value = getattr(settings, name)
        if (value is None and defaults[name] is None) or allowed.holds(value):
            continue
        raise SettingsError(f"{name} must be {allowed}, got {value!r}")


def _check_classifier_target(settings: Settings) -> None:
    if settings.classifier_class is not None and settings.classifier_top_k != 1:
        raise SettingsError(
            "classifier_class and classifier_top_k > 1 exclude each other: explain one chosen "
            "class or the top-k classes"
        )


def load_settings(path: str | Path) -> Settings:
    """Settings from a ``.toml`` or ``.json`` file (a ``[settings]`` table is accepted too)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        values = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(
            f"{path.name} is not valid {path.suffix.lstrip('.')}: {error}"
        ) from error
    return Settings.from_dict(values.get("settings", values))


# --- URL query string ------------------------------------------------------------------------

QUERY_KEYS: dict[str, str] = {
    "detectors": "det",
    "weights": "w",
    "untrained_twins": "twins",
    "input_size": "insize",
    "cams": "cam",
    "target": "layer",
    "score_threshold": "score",
    "type2": "t2",
    "type2_weights": "t2w",
    "study_input_range": "range01",
    "type2_max_side": "t2side",
    "references": "ref",
    "top_percent": "p",
    "ties": "ties",
    "sigma": "sigma",
    "working_size": "size",
    "consensus": "cons",
    "consensus_sigma": "cons_sigma",
    "classifiers": "cls",
    "classifier_methods": "clsm",
    "classifier_weights": "clsw",
    "classifier_input_size": "clssize",
    "classifier_class": "clsc",
    "classifier_top_k": "clsk",
    "explain_detection": "xdet",
    "explain_class": "xcls",
}
"""Setting -> short query parameter. File paths (weights files) are never put in a URL."""
LIST_SEPARATOR = "~"
"""Joins list values in a query parameter (registry names contain commas and spaces, not ~)."""


INTEGER_FIELDS = tuple(name for name, allowed in RANGES.items() if allowed.integer)


def _encode(value: Any) -> str:
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_query(settings: Settings) -> dict[str, str]:
    """The settings that differ from the defaults, as short query parameters (compact URLs)."""
    default = Settings()
    return {
        key: _encode(getattr(settings, name))
        for name, key in QUERY_KEYS.items()
        if getattr(settings, name) != getattr(default, name)
    }


def _decode(name: str, text: str, default: Any) -> Any:
    kind = type(default) if default is not None else None
    if isinstance(default, tuple):
        return tuple(part for part in text.split(LIST_SEPARATOR) if part)
    if isinstance(default, bool):
        if text not in ("0", "1"):
            raise ValueError("expected 0 or 1")
        return text == "1"
    if name in INTEGER_FIELDS:
        return int(text)
    if name == "sigma" or kind is float:
        return float(text)
    return text


def from_query(
    params: Mapping[str, str], base: Settings | None = None
) -> tuple[Settings, list[str]]:
    """Settings from query parameters over ``base``; each bad parameter is skipped with a note.

    A hand-edited or stale link never breaks the page: what cannot be read is named in the notes
    and the rest of the view is restored.
    """
    settings = base or Settings()
    notes: list[str] = []
    for name, key in QUERY_KEYS.items():
        if key not in params:
            continue
        text = str(params[key])
        try:
            value = _decode(name, text, getattr(Settings(), name))
            if isinstance(value, tuple):
                value = _known(name, value, notes)
            settings = replace(settings, **{name: value})
        except (ValueError, SettingsError) as error:
            notes.append(f"URL parameter {key}={text[:60]!r} ignored: {error}")
    return settings, notes


def _known(name: str, values: tuple[str, ...], notes: list[str]) -> tuple[str, ...]:
    """``values`` less the names no registry knows (each named in ``notes``)."""
    try:
        Settings(**{name: values})
        return values
    except SettingsError:
        kept = []
        for value in values:
            try:
                Settings(**{name: (value,)})
                kept.append(value)
            except SettingsError as error:
                notes.append(f"URL: {error}")
        return tuple(kept)
