"""What maps are compared with: the one definition of every reference.

A reference is a float32 (H, W) map in [0, 1] at the sample's size: a type-2 model's prediction
(its display map: exp(log density), min-max scaled), the density of the recorded fixations
(Gaussian blur, max-scaled) or the human attention mask. The app, the
augment command and the dataset engine all build their references here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from saliency_core.data import fixations
from saliency_core.data.images import Sample
from saliency_core.models.gaze import TYPE2_MODELS, Type2Map, is_readout, readout_allowed


@dataclass(frozen=True)
class ReferenceMap:
    """A built reference: its values, display label and notes."""

    key: str
    label: str
    values: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    """A registry entry.

    ``type2_model`` names the type-2 model whose prediction is the reference (None for human
    data); ``missing(sample)`` says why the sample has no such reference (None when it has);
    ``build(sample, sigma, type2_maps)`` makes it (``type2_maps``: model name -> display map,
    label and notes, computed by the caller); ``needs`` the sample's optional inputs it is
    built from (``datasets.OPTIONAL_INPUTS``: a mask or fixation file is read only for them).
    """

    key: str
    summary: str
    missing: Callable[[Sample], str | None]
    build: Callable[[Sample, float | None, Mapping[str, ReferenceMap]], ReferenceMap]
    type2_model: str | None = None
    human: bool = False
    needs: tuple[str, ...] = ()


def fixation_sigma(sample: Sample, sigma: float | None) -> float:
    """The density blur in px: ``sigma``, or one degree (``max(H, W) / 30``) when None."""
    return fixations.default_sigma(sample.shape) if sigma is None else float(sigma)


def _no_fixations(sample: Sample) -> str | None:
    if sample.fixations is None:
        return f"{sample.id} has no fixations file"
    if not len(sample.fixations):
        return f"{sample.id}'s fixations file has no fixations"
    return None


def _no_mask(sample: Sample) -> str | None:
    return None if sample.mask is not None else f"{sample.id} has no attention mask"


def _fixation_density(sample: Sample, sigma: float | None, _type2) -> ReferenceMap:
    width = fixation_sigma(sample, sigma)
    density = fixations.density_map(sample.fixations, sample.shape, width)
    return ReferenceMap("fixations", FIXATION_LABEL, fixations.display(density), [])


def _attention_mask(sample: Sample, _sigma, _type2) -> ReferenceMap:
    return ReferenceMap("mask", MASK_LABEL, sample.mask, [])


def _type2_reference(key: str, model: str) -> Callable:
    def build(_sample: Sample, _sigma, type2: Mapping[str, ReferenceMap]) -> ReferenceMap:
        if model not in type2:
            raise ValueError(f"the {model} map was not computed, so it cannot be a reference")
        predicted = type2[model]
        return ReferenceMap(key, predicted.label, predicted.values, list(predicted.notes))

    return build


FIXATION_LABEL = "human fixation density"
MASK_LABEL = "human attention mask"
TYPE2_REFERENCES = {
    key: model
    for key, model in {
        "deepgaze": "DeepGaze IIE",
        "centre-bias": "Centre bias (Gaussian)",
        "spectral-residual": "Spectral residual",
        "deepgaze-official": "DeepGaze IIE (official package)",
    }.items()
    if model in TYPE2_MODELS
}
"""Reference key -> type-2 model (its prediction is the reference); installed models only."""


def _type2_entry(key: str, model: str) -> Reference:
    summary = f"{model}'s prediction (min-max scaled density)"
    return Reference(key, summary, lambda sample: None, _type2_reference(key, model), model)


class ReferenceRegistry(dict[str, Reference]):
    """The built-in references, and each trained readout's prediction, named by the readout's
    file or run folder (added on first use, as in ``gaze.TYPE2_MODELS``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.built_in = frozenset(self)

    def __contains__(self, key: object) -> bool:
        if key in self.built_in:
            return True
        if not isinstance(key, str):
            return False
        if super().__contains__(key):  # a readout used before: still under the folders?
            return readout_allowed(key)
        return is_readout(key)

    def __missing__(self, key: str) -> Reference:
        if not is_readout(key):
            raise KeyError(key)
        self[key] = _type2_entry(key, key)
        return self[key]

    def get(self, key: str, default: Reference | None = None) -> Reference | None:  # type: ignore[override]
        """The entry of ``key``, a readout not yet used too (dict's ``get`` skips
        ``__missing__``), or ``default``."""
        return self[key] if key in self else default  # noqa: SIM401 - this is get


REFERENCES: ReferenceRegistry = ReferenceRegistry(
    {
        **{key: _type2_entry(key, model) for key, model in TYPE2_REFERENCES.items()},
        "fixations": Reference(
            "fixations",
            "the density of fixations/<stem>.csv (Gaussian, sigma px; max-scaled)",
            _no_fixations,
            _fixation_density,
            human=True,
            needs=("fixations",),
        ),
        "mask": Reference(
            "mask",
            "the attention mask masks/<stem>.png",
            _no_mask,
            _attention_mask,
            human=True,
            needs=("mask",),
        ),
    }
)


def predicted_reference(model: str, predicted: Type2Map) -> ReferenceMap:
    """``model``'s prediction (its display map, label and notes) as :func:`build_reference`'s
    ``type2_maps[model]``."""
    return ReferenceMap(model, predicted.label, predicted.display, list(predicted.notes))


def reference_key_for_model(model: str) -> str | None:
    """The reference key whose map is ``model``'s prediction (a readout: its path), or None."""
    known = next((key for key, name in TYPE2_REFERENCES.items() if name == model), None)
    return known or (model if is_readout(model) else None)


def build_reference(
    key: str,
    sample: Sample,
    sigma: float | None = None,
    type2_maps: Mapping[str, ReferenceMap] | None = None,
) -> ReferenceMap:
    """The reference ``key`` for ``sample``; ValueError saying what is missing."""
    entry = REFERENCES[key]
    reason = entry.missing(sample)
    if reason:
        raise ValueError(f"no {key} reference: {reason}")
    return entry.build(sample, sigma, type2_maps or {})
