"""One settings object for every front end: the app, the commands and the dataset engine.

:class:`Settings` says which maps to compute (detectors × weights × CAM methods, type-2 models),
what to compare them with (references) and how (top-p%, sigma, working size, score threshold).
It round-trips through TOML, JSON and a compact URL query string, so a run, a preset and a
bookmarked view are the same object.
"""

from __future__ import annotations

import importlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
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
    from saliency_core.maps.cams import ExplainedDetections

TARGETS = ("study default", "FPN")
"""CAM target layer choice: each detector's study layer, or its FPN where it has one (a layer
name of the detector registry, e.g. "features", is accepted too)."""
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


@dataclass(frozen=True)
class Declaration:
    """One setting's declaration; with the field's type and default it is everything the front
    ends derive: ``url`` its query key (None: never in a URL, e.g. file paths), ``flag`` its
    command-line flag (True: the field's name with dashes; False: none), ``one`` the flag of
    commands that take one value of a list (``--detector``), ``range`` its numeric bounds,
    ``choices`` or ``registry`` (``"module:NAME"``, imported when needed) its allowed values,
    ``section`` its group in ``--help`` (a key of :data:`SECTIONS`), ``exclusive`` a set of flags
    of which one may be given. ``name``, ``type`` (None stripped) and ``default`` are filled in
    from the dataclass field."""

    help: str = ""
    url: str | None = None
    flag: str | bool = True
    one: str | None = None
    metavar: str | None = None
    section: str = ""
    range: Range | None = None
    choices: tuple[str, ...] = ()
    registry: str = ""
    exclusive: str = ""
    name: str = ""
    type: Any = None
    default: Any = None

    @property
    def flag_name(self) -> str | None:
        """The command-line flag without ``--`` (None: the commands do not take it)."""
        if self.flag is True:
            return self.name.replace("_", "-")
        return self.flag or None

    @property
    def is_list(self) -> bool:
        """A list of registry names (duplicates dropped, order kept)."""
        return self.type == tuple[str, ...]

    def names(self) -> Mapping[str, Any]:
        """The registry the values must be keys of (imported now: maps and models are above
        this module)."""
        module, attribute = self.registry.split(":")
        return getattr(importlib.import_module(module), attribute)


def setting(default: Any, **declared: Any) -> Any:
    """A :class:`Settings` field with its :class:`Declaration`."""
    return field(default=default, metadata={DECLARED: Declaration(**declared)})


DECLARED = "declaration"
SECTIONS = {
    "type-1": "type-1: detectors and CAMs",
    "classifiers": "type-1: classifiers (CAMs and gradient maps)",
    "type-2": "type-2 and references",
    "scoring": "scoring",
}
"""``Declaration.section`` -> the title of its flags' group in ``--help`` (in this order)."""


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

    detectors: tuple[str, ...] = setting(
        ("Faster R-CNN R50-FPN",),
        url="det",
        one="detector",
        metavar="NAME",
        section="type-1",
        registry="saliency_core.models.detectors:DETECTORS",
    )
    weights: WeightSource = setting(
        WeightSource.UNTRAINED,
        url="w",
        section="type-1",
        help="detectors' weights (untrained = random, a sanity-check baseline)",
    )
    weights_files: tuple[tuple[str, str], ...] = setting(
        (),
        flag="weights-file",
        metavar="NAME=PATH",
        section="type-1",
        help="state-dict file of a detector or classifier (with --weights file or "
        "--classifier-weights file); repeat per model",
    )
    finetuned: tuple[tuple[str, str], ...] = setting(
        (),
        url="ft",
        metavar="NAME=FILE",
        section="type-1",
        help="a fine-tuned state-dict file of detector NAME (a training run's model_final.pt), "
        "shown as its own row after NAME, labelled by its run; repeat per model",
    )
    untrained_twins: bool = setting(
        False,
        url="twins",
        section="type-1",
        help="also run each detector untrained (sanity check)",
    )
    input_size: int | None = setting(
        None,
        url="insize",
        section="type-1",
        range=Range(32, 2048, integer=True, unit="px"),
        help="detectors' internal input size (px; default: torchvision's)",
    )
    cams: tuple[str, ...] = setting(
        ("EigenCAM",),
        url="cam",
        one="cam",
        metavar="METHOD",
        section="type-1",
        registry="saliency_core.maps.cams:CAM_METHODS",
        help="study: EigenCAM",
    )
    target: str = setting(
        "study default",
        url="layer",
        section="type-1",
        choices=TARGETS,
        help="CAM target layer (study default: each detector's study layer)",
    )
    score_threshold: float = setting(
        SCORE_THRESHOLD,
        url="score",
        section="type-1",
        range=Range(0, 1),
        help="detections scored ≥ this are the gradient methods' target "
        f"(study: {SCORE_THRESHOLD})",
    )
    type2: tuple[str, ...] = setting(
        ("DeepGaze IIE",),
        url="t2",
        metavar="MODEL",
        section="type-2",
        registry="saliency_core.models.gaze:TYPE2_MODELS",
        help="or a trained readout's file or run folder (saliency readout)",
    )
    type2_weights: WeightSource = setting(
        WeightSource.UNTRAINED, url="t2w", section="type-2", help="DeepGaze IIE weights"
    )
    type2_weights_file: str | None = setting(
        None, section="type-2", help="DeepGaze IIE checkpoint (file)"
    )
    study_input_range: bool = setting(
        False,
        url="range01",
        section="type-2",
        help="feed DeepGaze the image as 0..1 (reproduces the study's bug)",
    )
    type2_max_side: int = setting(
        DEEPGAZE_MAX_SIDE,
        url="t2side",
        section="type-2",
        range=Range(32, 4096, integer=True, unit="px"),
        help="images with a longer side are downscaled before DeepGaze IIE "
        f"(px; default {DEEPGAZE_MAX_SIDE})",
    )
    references: tuple[str, ...] = setting(
        ("deepgaze", "fixations", "mask"),
        url="ref",
        one="reference",
        metavar="KEY",
        section="type-2",
        registry="saliency_core.maps.references:REFERENCES",
    )
    top_percent: float = setting(
        TOP_PERCENT,
        url="p",
        flag=False,  # the evaluate command's --top-percents sets its IoU rows
        range=Range(0, 100, open_low=True),
    )
    ties: str = setting(
        TIES_NO_OVERSHOOT,
        url="ties",
        section="scoring",
        choices=TIE_POLICIES,
        help="top-p% masks: never exceed p% through ties at the cut (default), or include them "
        "(the study's map >= percentile rule)",
    )
    sigma: float | None = setting(
        None,
        url="sigma",
        section="scoring",
        range=Range(0, 1000, unit="px"),
        help="fixation density blur in px (default: max(H, W) / 30)",
    )
    working_size: int | None = setting(
        None,
        url="size",
        section="scoring",
        range=Range(8, MAX_WORKING_SIZE, integer=True, unit="px"),
        help="resize every image to N×N first",
    )
    consensus: bool = setting(False, url="cons", flag=False)
    consensus_sigma: float = setting(
        0.0, url="cons_sigma", flag=False, range=Range(0, 1000, unit="px")
    )
    classifiers: tuple[str, ...] = setting(
        (),
        url="cls",
        metavar="NAME",
        section="classifiers",
        registry="saliency_core.models.classifiers:CLASSIFIERS",
    )
    classifier_methods: tuple[str, ...] = setting(
        ("GradCAM",),
        url="clsm",
        metavar="METHOD",
        section="classifiers",
        registry="saliency_core.maps.classifier_methods:METHOD_COSTS",
        help="default GradCAM",
    )
    classifier_weights: WeightSource = setting(
        WeightSource.UNTRAINED,
        url="clsw",
        section="classifiers",
        help="classifiers' weights (file: --weights-file NAME=PATH per classifier)",
    )
    classifier_input_size: int | None = setting(
        None,
        url="clssize",
        section="classifiers",
        range=Range(32, 1024, integer=True, unit="px"),
        help="side the image is resized to (default 224)",
    )
    classifier_class: int | None = setting(
        None,
        url="clsc",
        section="classifiers",
        exclusive="classifier target",
        range=Range(0, 99_999, integer=True),
        help="explain this class index",
    )
    classifier_top_k: int = setting(
        1,
        url="clsk",
        section="classifiers",
        exclusive="classifier target",
        range=Range(1, 1000, integer=True),
        help="explain the sum of the top-k logits (default 1)",
    )
    explain_detection: int | None = setting(
        None, url="xdet", flag=False, range=Range(0, 999, integer=True)
    )
    """Gradient and perturbation CAMs explain only this detection: its rank by decreasing score
    (0 = the best), whatever its score. None: all detections ≥ ``score_threshold``."""
    explain_class: str | None = setting(None, url="xcls", flag=False)
    """Gradient and perturbation CAMs explain only this class's detections ≥ the threshold."""

    def __post_init__(self) -> None:
        for name in LIST_FIELDS:
            object.__setattr__(self, name, tuple(dict.fromkeys(getattr(self, name))))
        for name in WEIGHT_FIELDS:
            object.__setattr__(self, name, _weight_source(getattr(self, name), name))
        object.__setattr__(self, "weights_files", tuple(sorted(dict(self.weights_files).items())))
        finetuned = dict.fromkeys((str(name), str(path)) for name, path in self.finetuned)
        object.__setattr__(self, "finetuned", tuple(finetuned))
        _check(self)

    @property
    def explain(self) -> ExplainedDetections:
        """What class-discriminative CAMs explain (an :class:`ExplainedDetections`)."""
        from saliency_core.maps.cams import ExplainedDetections

        return ExplainedDetections(detection=self.explain_detection, category=self.explain_class)

    def weights_file(self, detector: str) -> str | None:
        """The state-dict file given for ``detector`` (``weights="file"``), or None."""
        return dict(self.weights_files).get(detector)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML values; None fields are left out (TOML has no null)."""
        values = asdict(self)
        values["weights_files"] = dict(self.weights_files)
        values |= {name: getattr(self, name).value for name in WEIGHT_FIELDS}
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


def _base(kind: Any) -> Any:
    """``kind`` without its ``| None``."""
    kept = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return kept[0] if isinstance(kind, types.UnionType) and len(kept) == 1 else kind


DECLARATIONS: dict[str, Declaration] = {
    spec.name: replace(
        spec.metadata[DECLARED],
        name=spec.name,
        type=_base(typing.get_type_hints(Settings)[spec.name]),
        default=spec.default,
    )
    for spec in fields(Settings)
}
"""Every :class:`Settings` field's declaration, in field order: the tables below, the URL
round trip and the commands' flags (``commands.common.add_setting_flags``) are derived from it."""
RANGES: dict[str, Range] = {name: d.range for name, d in DECLARATIONS.items() if d.range}
"""Every numeric setting's range, from its declaration: :class:`Settings` refuses a value
outside it, whatever the front end (URL, TOML/JSON, command-line flags); the widgets take their
bounds from it. The bounds keep a link from asking for unbounded work (a 12,000 px classifier
input, a 10^8-long list of detection ranks)."""
LIST_FIELDS = tuple(name for name, declared in DECLARATIONS.items() if declared.is_list)
"""The settings that hold lists of registry names (duplicates dropped, order kept)."""
WEIGHT_FIELDS = tuple(name for name, d in DECLARATIONS.items() if d.type is WeightSource)
"""The settings that name a weight source (``pretrained`` / ``file`` / ``untrained``)."""


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
    for name in LIST_FIELDS:
        registry = DECLARATIONS[name].names()
        unknown = [value for value in getattr(settings, name) if value not in registry]
        if unknown:
            raise SettingsError(
                f"{name}: unknown {', '.join(map(repr, unknown))}; choose from "
                f"{', '.join(registry)}"
            )
    detectors = DECLARATIONS["detectors"].names()
    unknown = [name for name, _ in settings.finetuned if name not in detectors]
    if unknown:
        raise SettingsError(
            f"finetuned: unknown detector {unknown[0]!r}; choose from {', '.join(detectors)}"
        )
    layers = {name for spec in detectors.values() for name in spec.targets}
    if settings.target not in {*TARGETS, *layers}:
        raise SettingsError(
            f"target: {settings.target!r} is not one of {', '.join([*TARGETS, *sorted(layers)])}"
        )
    if settings.ties not in TIE_POLICIES:
        raise SettingsError(f"ties: {settings.ties!r} is not one of {', '.join(TIE_POLICIES)}")
    _check_ranges(settings)
    if settings.explain_detection is not None and settings.explain_class is not None:
        raise SettingsError("explain one detection (explain_detection) or one class, not both")
    if settings.explain_class == "":
        raise SettingsError("explain_class: give a class name, or leave it out")
    _check_classifier_target(settings)


def _check_ranges(settings: Settings) -> None:
    """Each numeric setting within its :data:`RANGES` entry (None where None is the default)."""
    for name, allowed in RANGES.items():
        value = getattr(settings, name)
        if (value is None and DECLARATIONS[name].default is None) or allowed.holds(value):
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

QUERY_KEYS: dict[str, str] = {name: d.url for name, d in DECLARATIONS.items() if d.url}
"""Setting -> short query parameter. File paths (weights files) are never put in a URL."""
LIST_SEPARATOR = "~"
"""Joins list values in a query parameter (registry names contain commas and spaces, not ~)."""
PAIR_SEPARATOR = "="
"""Joins a NAME=FILE pair's parts in a query parameter (a file's ``%`` and ``~`` escaped)."""


def _encode(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return LIST_SEPARATOR.join(
            f"{name}{PAIR_SEPARATOR}{path.replace('%', '%25').replace('~', '%7E')}"
            for name, path in value
        )
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


def _decode(declared: Declaration, text: str) -> Any:
    """A query parameter's text as the setting's type (names and weight sources stay text)."""
    if declared.type == tuple[tuple[str, str], ...]:
        return tuple(_pair(part) for part in text.split(LIST_SEPARATOR) if part)
    if declared.is_list:
        return tuple(part for part in text.split(LIST_SEPARATOR) if part)
    if declared.type is bool:
        if text not in ("0", "1"):
            raise ValueError("expected 0 or 1")
        return text == "1"
    if declared.type in (int, float):
        return declared.type(text)
    return text


def _pair(text: str) -> tuple[str, str]:
    """ "NAME=FILE" (the file's ``%7E`` and ``%25`` unescaped) -> (NAME, FILE)."""
    name, separator, path = text.partition(PAIR_SEPARATOR)
    if not separator or not name or not path:
        raise ValueError(f"expected NAME{PAIR_SEPARATOR}FILE, got {text[:60]!r}")
    return name, path.replace("%7E", "~").replace("%25", "%")


def from_query(
    params: Mapping[str, str], base: Settings | None = None
) -> tuple[Settings, list[str]]:
    """Settings from query parameters over ``base``; each bad parameter is skipped with a note.

    A hand-edited or stale link never fails as a whole: what cannot be read is named in the notes
    and the rest of the view is restored.
    """
    settings = base or Settings()
    notes: list[str] = []
    for name, key in QUERY_KEYS.items():
        if key not in params:
            continue
        text = str(params[key])
        try:
            value = _decode(DECLARATIONS[name], text)
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
