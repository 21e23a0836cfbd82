"""What every detector registry entry provides, whatever library builds the model.

A :class:`DetectorSpec` names the model, its CAM target layers and how to get it with each
weight source (:class:`~saliency_core.models.weights.WeightSource`). The torchvision families live
in :mod:`saliency_core.models.detectors`, DETR in :mod:`saliency_core.models.detr`, YOLO in
:mod:`saliency_core.models.yolo`; :data:`saliency_core.models.detectors.DETECTORS` joins them.

Every built model is an ``nn.Module`` that takes a float RGB batch in [0, 1], shape
(B, 3, H, W), and returns torchvision's detection format: one dict per image with ``boxes``
(x1, y1, x2, y2 in input pixels), ``scores`` in [0, 1] and ``labels`` (indices into the
entry's categories). pytorch-grad-cam can then run every entry the same way.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

from saliency_core.models.weights import MissingPackageError

INTERNAL_SCORE_THRESHOLD = 0.005
"""Score floor inside the model; the app filters with its own (user-set) threshold afterwards.

Low enough that untrained models (class scores ≈ 1/91) still return candidate boxes."""

COCO_CATEGORIES: list[str] = list(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])
"""torchvision's 91 COCO names, indexed by COCO category id (0 = background, gaps = "N/A")."""

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)`` while weights download."""


@dataclass(frozen=True)
class TargetLayer:
    """Where a CAM is taken: module path(s), and how an output becomes one (B, C, h, w) tensor.

    ``also`` lists further module paths: pytorch-grad-cam takes a CAM at each layer, scales
    each to [0, 1] and averages them. ``reshape_transform`` is a fixed function of the output;
    ``reshape_factory(model)`` builds one that needs the model's state of the current forward
    (e.g. the feature-grid size that a token sequence is reshaped to). ``no_ablation`` says
    why AblationCAM cannot swap the module for its ablation layer, where it cannot.
    """

    path: str
    description: str
    reshape_transform: Callable | None = None
    reshape_factory: Callable[[nn.Module], Callable] | None = None
    also: tuple[str, ...] = ()
    no_ablation: str | None = None

    def resolve(self, model: nn.Module, path: str | None = None) -> nn.Module:
        module: nn.Module = model
        for part in (path or self.path).split("."):
            module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)
        return module

    def resolve_all(self, model: nn.Module) -> list[nn.Module]:
        """The modules pytorch-grad-cam hooks: ``path`` and then ``also``."""
        return [self.resolve(model, path) for path in (self.path, *self.also)]

    def reshape_for(self, model: nn.Module) -> Callable | None:
        """The reshape transform to hand pytorch-grad-cam for ``model``."""
        if self.reshape_factory is not None:
            return self.reshape_factory(model)
        return self.reshape_transform


@dataclass(frozen=True, kw_only=True)
class DetectorSpec(ABC):
    """One registry entry. ``targets``' first item is the default CAM target (the study's).

    ``packages`` are the import names an optional entry needs and ``install`` the command that
    installs them; without them the entry stays listed with :attr:`unavailable_reason`.
    ``licence`` names an optional package's licence where it binds the user (e.g. AGPL-3.0).
    """

    name: str
    targets: dict[str, TargetLayer]
    family: str
    notes: str = ""
    packages: tuple[str, ...] = ()
    install: str = ""
    licence: str = ""

    @property
    def default_target(self) -> str:
        return next(iter(self.targets))

    @property
    def unavailable_reason(self) -> str | None:
        """Why this entry cannot be built here (a package is missing), with the install command."""
        missing = [name for name in self.packages if importlib.util.find_spec(name) is None]
        if not missing:
            return None
        return f"{self.name} needs the optional package(s) {', '.join(missing)}: " f"{self.install}"

    def require(self) -> None:
        """Raise :class:`MissingPackageError` when :attr:`unavailable_reason` says so."""
        reason = self.unavailable_reason
        if reason:
            raise MissingPackageError(reason)

    @property
    @abstractmethod
    def categories(self) -> list[str]:
        """Class names of the official weights, indexed by the model's label ids."""

    @property
    @abstractmethod
    def checkpoint_name(self) -> str:
        """The official weights' file name (or Hugging Face repository id)."""

    @abstractmethod
    def pretrained_path(self) -> Path:
        """Where the official weights live once downloaded (a file or a cache folder)."""

    @abstractmethod
    def build_untrained(self, input_size: int | None) -> tuple[nn.Module, list[str]]:
        """A randomly initialised model (the caller seeds torch) and its categories."""

    @abstractmethod
    def load_file(self, path: Path, input_size: int | None) -> tuple[nn.Module, list[str]]:
        """The model with weights from a local file; the class count is read off the file."""

    @abstractmethod
    def load_pretrained(
        self, input_size: int | None, progress: Progress | None
    ) -> tuple[nn.Module, list[str]]:
        """The model with the official weights (downloaded once, offline afterwards)."""


BACKGROUND = "__background__"
CLASSES_FILE = "classes.txt"
"""Beside a fine-tuned weights file: its class names, one per line, background excluded (what
``saliency train`` writes next to ``model_final.pt``)."""


def numbered_categories(count: int) -> list[str]:
    """Names for a model fine-tuned on another class set: background, then "class k"."""
    return [BACKGROUND] + [f"class {k}" for k in range(1, count)]


def categories_beside(weights: Path, count: int) -> list[str] | None:
    """``[BACKGROUND, *names]`` from :data:`CLASSES_FILE` in the weights file's folder when it
    names ``count - 1`` classes (blank lines and surrounding spaces ignored); otherwise None
    (no such file, or it is for another class count)."""
    try:
        lines = (weights.parent / CLASSES_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    names = [line.strip() for line in lines if line.strip()]
    return [BACKGROUND, *names] if len(names) == count - 1 else None


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` from every key when all keys carry it (a wrapper's state dict)."""
    if state and all(key.startswith(prefix) for key in state):
        return {key[len(prefix) :]: value for key, value in state.items()}
    return state
