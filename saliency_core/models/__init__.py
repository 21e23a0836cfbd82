"""Models: registries of detectors, classifiers and type-2 (gaze) models, their weight sources,
downloads and the model cache.

One registry API in torchvision's style over :data:`~saliency_core.models.detectors.DETECTORS`,
:data:`~saliency_core.models.classifiers.CLASSIFIERS` and
:data:`~saliency_core.models.gaze.TYPE2_MODELS`: :func:`list_models` names a kind's entries,
:func:`get_model` builds one by name with a weight source (``pretrained``, ``file`` or
``untrained``) and its loader's options. For example::

    from saliency_core.models import get_model, list_models

    list_models("classifier")  # ['ResNet-50', 'DenseNet-201', 'ConvNeXt-T', ...]
    detector = get_model("FCOS R50-FPN", weights="untrained", input_size=320)
    detector.label  # 'FCOS R50-FPN (UNTRAINED)'
    resnet = get_model("ResNet-50", weights="file", weights_path="fine-tuned.pth")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from saliency_core.models.weights import WeightSource

if TYPE_CHECKING:
    from torch import nn

    from saliency_core.models.classifiers import LoadedClassifier
    from saliency_core.models.detectors import LoadedDetector

__all__ = ["ModelKind", "get_model", "list_models", "model_kinds"]


@dataclass(frozen=True)
class ModelKind:
    """A registry (name -> entry) and its loader, ``load(name, weights, **options)``."""

    registry: Mapping[str, object]
    load: Callable[..., LoadedDetector | LoadedClassifier | nn.Module]


@cache
def model_kinds() -> dict[str, ModelKind]:
    """The kinds of model, each with its registry: a name belongs to one kind. Imported on first
    use, so that importing one module of this package (``weights``, ``cache``) does not load
    every model family."""
    from saliency_core.models.classifiers import CLASSIFIERS, load_classifier
    from saliency_core.models.detectors import DETECTORS, load_detector
    from saliency_core.models.gaze import TYPE2_MODELS, build_type2

    return {
        "detector": ModelKind(DETECTORS, load_detector),
        "classifier": ModelKind(CLASSIFIERS, load_classifier),
        "type2": ModelKind(TYPE2_MODELS, build_type2),
    }


def list_models(kind: str | None = None) -> list[str]:
    """The names of ``kind``'s entries ("detector", "classifier" or "type2"; None: every
    kind's), in registry order."""
    if kind is not None and kind not in model_kinds():
        raise ValueError(f"Unknown kind of model {kind!r}; choose from {list(model_kinds())}")
    kinds = model_kinds().values() if kind is None else [model_kinds()[kind]]
    return [name for entry in kinds for name in entry.registry]


def get_model(
    name: str, weights: WeightSource | str = WeightSource.UNTRAINED, **options: object
) -> LoadedDetector | LoadedClassifier | nn.Module:
    """A new model ``name`` with ``weights`` (eval mode), built by its kind's loader with
    ``options`` (``weights_path``, ``input_size``, ``device``, ``progress``, ``seed``, as that
    loader takes them): a :class:`~saliency_core.models.detectors.LoadedDetector`, a
    :class:`~saliency_core.models.classifiers.LoadedClassifier` or a type-2 network."""
    for kind in model_kinds().values():
        if name in kind.registry:
            return kind.load(name, weights, **options)
    raise ValueError(f"Unknown model {name!r}; choose from {list_models()}")
