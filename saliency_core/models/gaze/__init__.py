"""Type-2 saliency: where people look (DeepGaze IIE, centre bias, spectral residual, trained
readouts).

Every model returns a :class:`Type2Map` whose log density sums to 1 in probability; pick one by
name from :data:`TYPE2_MODELS` and run it with :func:`predict_type2`. A trained readout
(``saliency readout``) is named by its file or run folder: the registry takes the path as a name
and lists it from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from saliency_core.data import roots
from saliency_core.models.gaze.baselines import centre_bias_baseline, spectral_residual
from saliency_core.models.gaze.centerbias import GAUSSIAN_LABEL
from saliency_core.models.gaze.deepgaze import official_package_available
from saliency_core.models.gaze.inference import (
    Prediction,
    Type2Request,
    Variant,
    deepgaze_variant,
    load_variant,
    official_variant,
    run_deepgaze,
)
from saliency_core.models.gaze.maps import Type2Map, type2_map
from saliency_core.models.weights import MissingWeightsError, WeightSource, file_stamp
from saliency_core.study import DEEPGAZE_MAX_SIDE

__all__ = [
    "TYPE2_MODELS",
    "Type2Map",
    "Type2Model",
    "build_type2",
    "is_readout",
    "type2_display_name",
    "load_type2",
    "predict_type2",
    "predict_type2s",
]

Predict = Callable[[Sequence[np.ndarray], Type2Request], list[Prediction]]


@dataclass(frozen=True)
class Type2Model:
    """A registry entry: ``predict(images, request)`` → one prediction per image, and for a
    network, ``variant(request)``: which model to build (and batch images through)."""

    name: str
    needs_weights: bool
    description: str
    predict: Predict
    forwards: float
    """The cost in forward passes of its own network (1; the ETAs use its timed run), 0 for a
    weight-free model (milliseconds: estimated as 0 s)."""
    variant: Callable[[Type2Request], Variant] | None = None
    stamp: Callable[[], Hashable] = lambda: None
    """What its maps depend on besides the name and the request (a readout: its file's stamp)."""
    timed_like: tuple[str, str, int] | None = None
    """(family, model, input size) of the steps whose timed forwards estimate its cost before
    it has run (a readout: its backbone at its input size; the ETAs' ``ui/eta.py``)."""


def _baseline(label: str, compute: Callable[[np.ndarray], np.ndarray]) -> Predict:
    """A weight-free model: ignores the weight source, device and size options."""
    return lambda images, _request: [Prediction(compute(rgb), label, []) for rgb in images]


def _network(name: str, description: str, variant: Callable[[Type2Request], Variant]) -> Type2Model:
    """A DeepGaze IIE entry: predicts with (and can preload) the variant a request asks for."""

    def predict(images: Sequence[np.ndarray], request: Type2Request) -> list[Prediction]:
        return run_deepgaze(images, request, variant(request))

    return Type2Model(name, True, description, predict, 1.0, variant)


_ENTRIES = (
    _network(
        "DeepGaze IIE",
        "DeepGaze IIE (Linardos et al., ICCV 2021), this package's implementation",
        deepgaze_variant,
    ),
    Type2Model(
        "Centre bias (Gaussian)",
        needs_weights=False,
        description=f"Content-free centre prior: {GAUSSIAN_LABEL}",
        predict=_baseline("Centre bias (Gaussian)", centre_bias_baseline),
        forwards=0.0,
    ),
    Type2Model(
        "Spectral residual",
        needs_weights=False,
        description="Spectral residual (Hou & Zhang, CVPR 2007), computed at 64 px width",
        predict=_baseline("Spectral residual", spectral_residual),
        forwards=0.0,
    ),
)
_OPTIONAL_ENTRIES = (
    _network(
        "DeepGaze IIE (official package)",
        "The official deepgaze_pytorch package's pretrained DeepGaze IIE",
        official_variant,
    ),
)


def _readout_entry(path: str) -> Type2Model:
    """A trained readout (file or run folder ``path``) as a type-2 model; its network is cached
    by the file's stamp, so a readout retrained into the same folder is reloaded."""
    from saliency_core.models.readout import load_readout, predict_readout, read_recipe
    from saliency_core.models.readout.files import readout_file

    file = str(readout_file(path).resolve())
    recipe = read_recipe(file)

    def variant(_request: Type2Request) -> Variant:
        key = ("readout", file_stamp(file))
        return Variant(key, lambda: load_readout(file), recipe.label, download_centre_bias=False)

    def predict(images: Sequence[np.ndarray], request: Type2Request) -> list[Prediction]:
        entry = load_variant(variant(request), request)
        with entry.lock:
            maps = predict_readout(entry.value, images, next(entry.value.parameters()).device)
        return [Prediction(log_p, recipe.label, []) for log_p in maps]

    description = f"{recipe.label} — {path}"
    from saliency_core.models.readout.backbones import readout_backbone

    family = readout_backbone(recipe.backbone).family
    timed_like = (family, recipe.backbone, recipe.input_size)
    stamp = lambda: file_stamp(file)  # noqa: E731
    return Type2Model(path, True, description, predict, 1.0, variant, stamp, timed_like)


def is_readout(name: str) -> bool:
    """Whether ``name`` is the path of a trained readout file or run folder (where
    :func:`saliency_core.data.roots.check_read` allows; the file is not opened otherwise)."""
    if not roots.read_allowed(name):
        return False
    try:
        from saliency_core.models.readout import read_recipe

        read_recipe(Path(name))
    except (MissingWeightsError, OSError, ValueError, KeyError, TypeError):
        return False
    return True


V = TypeVar("V")


class ReadoutNamedRegistry(dict[str, V]):
    """Built-in entries, and one per trained readout named by its file or run folder: made by
    ``make(path)`` on first use, and known only while
    :func:`saliency_core.data.roots.read_allowed` (the app's folders)."""

    def __init__(self, entries: Mapping[str, V], make: Callable[[str], V]) -> None:
        super().__init__(entries)
        self.built_in = frozenset(self)
        self.make = make

    def __contains__(self, name: object) -> bool:
        if name in self.built_in:
            return True
        if not isinstance(name, str):
            return False
        if super().__contains__(name):  # a readout used before: still under the folders?
            return roots.read_allowed(name)
        return is_readout(name)

    def __missing__(self, name: str) -> V:
        if not is_readout(name):
            raise KeyError(name)
        self[name] = self.make(name)
        return self[name]

    def get(self, name: str, default: V | None = None) -> V | None:  # type: ignore[override]
        """The entry of ``name``, a readout not yet used too (dict's ``get`` skips
        ``__missing__``), or ``default``."""
        return self[name] if name in self else default  # noqa: SIM401 - this is get


TYPE2_MODELS: ReadoutNamedRegistry[Type2Model] = ReadoutNamedRegistry(
    {
        entry.name: entry
        for entry in (*_ENTRIES, *(_OPTIONAL_ENTRIES if official_package_available() else ()))
    },
    lambda path: _readout_entry(path),
)
"""Type-2 models by name; the official-package entry is listed only when it is installed; a
readout's path is a name too (:class:`Type2Registry`)."""


def _entry(name: str) -> Type2Model:
    if name not in TYPE2_MODELS:
        raise ValueError(
            f"Unknown type-2 model {name!r}; choose from {sorted(TYPE2_MODELS)} or the path of "
            "a trained readout (file or run folder)"
        )
    return TYPE2_MODELS[name]


def type2_display_name(name: str) -> str:
    """How a picker shows an entry: its name, a readout its label and path."""
    entry = TYPE2_MODELS[name]
    return name if entry.stamp() is None else entry.description


def _check_image(rgb: np.ndarray) -> None:
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3):
        raise ValueError("rgb must be a uint8 array of shape (H, W, 3)")
    if rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")


def predict_type2s(
    name: str,
    images: Sequence[np.ndarray],
    source: WeightSource | str = "untrained",
    weights_path: str | None = None,
    max_side: int = DEEPGAZE_MAX_SIDE,
    study_input_range: bool = False,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Type2Map]:
    """Type-2 maps of ``images`` (each uint8, H×W×3) by the model ``name`` of
    :data:`TYPE2_MODELS`; a network runs images of one inference size as one batch.

    ``source``/``weights_path`` choose DeepGaze weights; ``max_side`` bounds the inference size
    (each map is resized back); ``study_input_range`` feeds the images as 0..1 (the study's
    bug); ``device`` defaults to ``backend.default_device()``; ``progress(bytes_done,
    bytes_total)`` reports a first-use weights download.
    """
    model = _entry(name)
    request = Type2Request(
        WeightSource(source), weights_path, max_side, study_input_range, device, progress
    )
    for rgb in images:
        _check_image(rgb)
    predictions = model.predict(images, request)
    return [type2_map(p.log_density, p.label, p.notes, p.trained) for p in predictions]


def predict_type2(name: str, rgb: np.ndarray, *args, **kwargs) -> Type2Map:
    """The type-2 map of one image: :func:`predict_type2s` with ``[rgb]``."""
    return predict_type2s(name, [rgb], *args, **kwargs)[0]


def load_type2(
    name: str,
    source: WeightSource | str = "untrained",
    weights_path: str | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Build a network of :data:`TYPE2_MODELS` into the shared model cache now (nothing for a
    weight-free model), so the first image does not pay for it."""
    variant = _entry(name).variant
    request = Type2Request(WeightSource(source), weights_path, device=device, progress=progress)
    if variant is not None:
        load_variant(variant(request), request)


def build_type2(
    name: str,
    source: WeightSource | str = "untrained",
    weights_path: str | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.nn.Module:
    """A new network of :data:`TYPE2_MODELS` on ``device`` (default: the CPU), in eval mode
    without gradients, outside the shared model cache. A weight-free model has no network:
    ValueError (its maps come from :func:`predict_type2`)."""
    variant = _entry(name).variant
    if variant is None:
        raise ValueError(f"{name} is weight-free: it has no network; use predict_type2.")
    request = Type2Request(WeightSource(source), weights_path, progress=progress)
    return variant(request).build().to(device or "cpu")
