"""The classifier registry: torchvision ImageNet classifiers with their CAM target layers.

Each :class:`ClassifierSpec` carries the torchvision builder and weights enum (official
ImageNet-1K weights: file name, the 1,000 categories, the top-1 accuracy in the weights'
metadata, the normalisation), the CAM target layers (with pytorch-grad-cam's documented
reshape transforms for ViT and Swin) and the state-dict key that reveals a file's class count.
Models are built with one of three weight sources
(:class:`~saliency_core.models.weights.WeightSource`), like the detectors.

Input convention: the whole image resized (no crop, so the CAM covers the whole image) to
``input_size``² (224 for the official weights), scaled to [0, 1] and normalised with the
weights' ImageNet mean and standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit
from pytorch_grad_cam.utils.reshape_transforms import (
    swinT_reshape_transform,
    vit_reshape_transform,
)
from torch import nn
from torchvision.models import get_model_builder, get_model_weights
from torchvision.models._api import WeightsEnum
from torchvision.transforms.v2 import functional as TF

from saliency_core.models.detectors import TargetLayer
from saliency_core.models.weights import (
    Checkpoint,
    Labelled,
    WeightSource,
    load_state_dict_file,
    load_strict,
    weights_file,
)


def vit_tokens_to_grid(tensor: torch.Tensor) -> torch.Tensor:
    """ViT tokens (B, 1 + h·w, C) → (B, C, h, w): pytorch-grad-cam's ``vit_reshape_transform``
    (class token dropped) with the square grid side h = w = √(tokens − 1) read off the input."""
    side = math.isqrt(tensor.shape[1] - 1)
    return vit_reshape_transform(tensor, side, side)


def swin_channels_last_to_grid(tensor: torch.Tensor) -> torch.Tensor:
    """torchvision Swin activations (B, h, w, C) → (B, C, h, w): pytorch-grad-cam's
    ``swinT_reshape_transform`` (written for (B, h·w, C) tokens) with h, w read off the input."""
    return swinT_reshape_transform(tensor.flatten(1, 2), tensor.shape[1], tensor.shape[2])


@dataclass(frozen=True)
class ClassifierSpec:
    """One registry entry. ``targets``' first item is the default CAM target."""

    name: str
    model_name: str
    targets: dict[str, TargetLayer]
    class_count_key: str
    family: str
    relu_network: bool
    size_kwarg: str | None = None
    zero_init_head: str | None = None
    notes: str = ""
    extra_kwargs: dict = field(default_factory=dict)

    @property
    def builder(self) -> Callable[..., nn.Module]:
        return get_model_builder(self.model_name)

    @property
    def weights(self) -> WeightsEnum:
        """The official ImageNet-1K weights (torchvision's DEFAULT entry)."""
        return get_model_weights(self.model_name).DEFAULT

    @property
    def categories(self) -> list[str]:
        return list(self.weights.meta["categories"])

    @property
    def checkpoint(self) -> Checkpoint:
        """The official ImageNet checkpoint (torchvision's weights URL)."""
        return Checkpoint(self.weights.url, f"Pretrained ImageNet weights for {self.name}")

    @property
    def checkpoint_name(self) -> str:
        return self.checkpoint.name

    @property
    def native_size(self) -> int:
        """The input side the official weights were evaluated at (their centre crop)."""
        return int(self.weights.transforms().crop_size[0])

    @property
    def default_target(self) -> str:
        return next(iter(self.targets))

    @property
    def is_transformer(self) -> bool:
        return self.family == "transformer"

    def ablation_layer(self) -> AblationLayer:
        """pytorch-grad-cam's ablation layer for this family (channels-last for transformers)."""
        return AblationLayerVit() if self.is_transformer else AblationLayer()


CLASSIFIERS: dict[str, ClassifierSpec] = {
    spec.name: spec
    for spec in (
        ClassifierSpec(
            "ResNet-50",
            "resnet50",
            {"layer4": TargetLayer("layer4", "last residual stage (stride 32)")},
            "fc.weight",
            "CNN",
            relu_network=True,
        ),
        ClassifierSpec(
            "DenseNet-201",
            "densenet201",
            {"features": TargetLayer("features", "last dense block + norm5 (stride 32)")},
            "classifier.weight",
            "CNN",
            relu_network=True,
        ),
        ClassifierSpec(
            "ConvNeXt-T",
            "convnext_tiny",
            {"features[-1]": TargetLayer("features.-1", "last ConvNeXt stage (stride 32)")},
            "classifier.2.weight",
            "CNN",
            relu_network=False,
            notes="GELU activations.",
        ),
        ClassifierSpec(
            "EfficientNet-B0",
            "efficientnet_b0",
            {"features[-1]": TargetLayer("features.-1", "last 1×1 conv stage (stride 32)")},
            "classifier.1.weight",
            "CNN",
            relu_network=False,
            notes="SiLU activations.",
        ),
        ClassifierSpec(
            "ViT-B/16",
            "vit_b_16",
            {
                "last block ln_1": TargetLayer(
                    "encoder.layers.-1.ln_1",
                    "last encoder block's first LayerNorm (14×14 patch grid at 224²)",
                    vit_tokens_to_grid,
                )
            },
            "heads.head.weight",
            "transformer",
            relu_network=False,
            size_kwarg="image_size",
            zero_init_head="heads.head",
            notes="Patch size 16: the input side must be a multiple of 16 (224 for the "
            "official weights).",
        ),
        ClassifierSpec(
            "Swin-T",
            "swin_t",
            {
                "last block norm1": TargetLayer(
                    "features.-1.-1.norm1",
                    "last Swin block's first LayerNorm (7×7 grid at 224²)",
                    swin_channels_last_to_grid,
                )
            },
            "head.weight",
            "transformer",
            relu_network=False,
            notes="GELU activations.",
        ),
    )
}


@dataclass
class LoadedClassifier(Labelled):
    """A built classifier in eval mode with the facts needed to run and label it."""

    spec: ClassifierSpec
    model: nn.Module
    source: WeightSource
    categories: list[str]
    device: torch.device
    input_size: int

    @property
    def name(self) -> str:
        return self.spec.name


def get_classifier_spec(name: str) -> ClassifierSpec:
    try:
        return CLASSIFIERS[name]
    except KeyError:
        known = ", ".join(CLASSIFIERS)
        raise KeyError(f"Unknown classifier {name!r}; known: {known}") from None


def _build(spec: ClassifierSpec, num_classes: int, input_size: int) -> tuple[nn.Module, list]:
    kwargs = dict(spec.extra_kwargs)
    if spec.size_kwarg:
        kwargs[spec.size_kwarg] = input_size
    model = spec.builder(weights=None, num_classes=num_classes, **kwargs)
    if num_classes == len(spec.categories):
        return model, spec.categories
    return model, [f"class {k}" for k in range(num_classes)]


def _randomise_head(model: nn.Module, path: str) -> None:
    """Untrained baseline: torchvision zero-initialises ViT's head (for fine-tuning), which makes
    every logit 0 and every gradient 0; draw it like the other linear layers (trunc-normal,
    σ = 0.02) so the model-randomisation baseline has a signal."""
    head = TargetLayer(path, "classification head").resolve(model)
    nn.init.trunc_normal_(head.weight, std=0.02)


def _check_size(spec: ClassifierSpec, input_size: int, source: WeightSource) -> None:
    if input_size < 32:
        raise ValueError(f"{spec.name} needs an input side of at least 32 px, not {input_size}.")
    if spec.size_kwarg and input_size % 16:
        raise ValueError(f"{spec.name}: the input side must be a multiple of 16, not {input_size}.")
    if spec.size_kwarg and source is not WeightSource.UNTRAINED and input_size != spec.native_size:
        raise ValueError(
            f"{spec.name}'s weights fix the input side to {spec.native_size} px (its position "
            f"embeddings); {input_size} px works only untrained."
        )


def load_classifier(
    name: str,
    source: WeightSource | str = WeightSource.UNTRAINED,
    weights_path: str | Path | None = None,
    input_size: int | None = None,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> LoadedClassifier:
    """Build classifier ``name`` with weights from ``source``; eval mode, on ``device``.

    ``input_size`` (default: the weights' crop size, 224) is the side the image is resized to;
    ViT builds its position embeddings for it (a multiple of 16; only 224 with weights).
    Untrained models are seeded: the same name and seed always give the same random network.
    A ``file`` may hold another class count (read off its classification layer).
    """
    spec = get_classifier_spec(name)
    source = WeightSource(source)
    device = device or torch.device("cpu")
    input_size = input_size or spec.native_size
    _check_size(spec, input_size, source)
    if source is WeightSource.UNTRAINED:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model, categories = _build(spec, len(spec.categories), input_size)
            if spec.zero_init_head:
                _randomise_head(model, spec.zero_init_head)
    elif source is WeightSource.FILE:
        path = weights_file(weights_path)
        state = load_state_dict_file(path)
        head = state.get(spec.class_count_key)
        count = int(head.shape[0]) if head is not None else len(spec.categories)
        model, categories = _build(spec, count, input_size)
        load_strict(model, state, path.name)
    else:
        state = spec.checkpoint.load(progress)
        model, categories = _build(spec, len(spec.categories), input_size)
        load_strict(model, state, spec.checkpoint_name)
    model.eval().to(device)
    return LoadedClassifier(spec, model, source, categories, device, input_size)


def to_classifier_tensor(rgb: np.ndarray, classifier: LoadedClassifier) -> torch.Tensor:
    """uint8 (H, W, 3) → normalised float (1, 3, s, s): resized (bilinear, antialiased),
    x = (rgb / 255 − mean) / std with the weights' ImageNet mean and std."""
    transform = classifier.spec.weights.transforms()
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    size = [classifier.input_size] * 2
    tensor = TF.resize(tensor, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    tensor = TF.normalize(tensor, mean=list(transform.mean), std=list(transform.std))
    return tensor.unsqueeze(0).to(classifier.device)
