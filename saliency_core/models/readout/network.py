"""A readout network: a registry classifier's features from chosen layers, concatenated, and a
readout head (:data:`~saliency_core.models.readout.heads.READOUT_KINDS`) giving a log density.

Input convention: the image resized (bilinear, antialiased; aspect kept) so that its long side is
``input_size`` and both sides are multiples of :data:`SIDE_MULTIPLE` (ViT: the square
``input_size``², its position embeddings fix it), scaled to [0, 1] and normalised with the
weights' ImageNet mean and standard deviation. Each chosen layer's output (transformer tokens
turned into a grid) is resized bilinearly to the first layer's grid, and they are concatenated
along the channels (as DeepGaze IIE and Oyama & Yamanaka do).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.transforms.v2 import functional as TF

from saliency_core.models.classifiers import (
    ClassifierSpec,
    get_classifier_spec,
    load_classifier,
    swin_channels_last_to_grid,
    vit_tokens_to_grid,
)
from saliency_core.models.gaze.centerbias import GAUSSIAN_LABEL, gaussian_centre_bias
from saliency_core.models.readout.heads import READOUT_KINDS
from saliency_core.models.weights import WeightSource, display_label

SIDE_MULTIPLE = 32
"""Inference sides are rounded to multiples of the backbones' largest stride (px)."""
DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "ResNet-50": ("layer3", "layer4"),
    "DenseNet-201": ("features.denseblock3", "features.norm5"),
    "ConvNeXt-T": ("features.5", "features.7"),
    "EfficientNet-B0": ("features.6", "features.8"),
    "ViT-B/16": ("encoder.layers.encoder_layer_8", "encoder.layers.encoder_layer_11"),
    "Swin-T": ("features.5", "features.7"),
}
"""Each classifier's default layers (torchvision module names): a stride-16 and a stride-32
stage (ViT: two late encoder blocks)."""
CENTRE_BIAS = GAUSSIAN_LABEL
"""The centre bias readouts use and are scored against: the Gaussian prior (the same in every
process, whether or not the MIT1003 template is on disk)."""


@dataclass(frozen=True)
class ReadoutRecipe:
    """What rebuilds a readout: backbone (a classifier's registry name), its weight source,
    weights file and seed (untrained), the layers, the readout kind, the input's long side (px),
    whether the backbone was fine-tuned, and the training data's name."""

    backbone: str
    weights: str = WeightSource.UNTRAINED.value
    weights_file: str | None = None
    layers: tuple[str, ...] = ()
    kind: str = "dc"
    input_size: int = 96
    finetuned: bool = False
    trained_on: str = ""
    seed: int = 0
    centre_bias: str = field(default=CENTRE_BIAS)

    def __post_init__(self) -> None:
        spec = get_classifier_spec(self.backbone)  # KeyError naming the known ones
        if self.kind not in READOUT_KINDS:
            known = ", ".join(READOUT_KINDS)
            raise ValueError(f"Unknown readout {self.kind!r}; choose from {known}")
        WeightSource(self.weights)
        object.__setattr__(self, "layers", tuple(self.layers) or DEFAULT_LAYERS[spec.name])
        if self.input_size < SIDE_MULTIPLE:
            raise ValueError(
                f"input_size must be at least {SIDE_MULTIPLE} px, not {self.input_size}"
            )

    def to_dict(self) -> dict:
        return {**asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, values: dict) -> ReadoutRecipe:
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**{**known, "layers": tuple(known.get("layers", ()))})

    @property
    def label(self) -> str:
        """ "Readout (DC) on ResNet-50 [UNTRAINED backbone] · trained on <data>"."""
        tuned = ", fine-tuned" if self.finetuned else ""
        weights = display_label(self.weights)
        data = self.trained_on or "(no training data)"
        return (
            f"Readout ({READOUT_KINDS[self.kind].label}) on {self.backbone} "
            f"[{weights} backbone{tuned}] · trained on {data}"
        )


def _to_grid(spec: ClassifierSpec, output: torch.Tensor) -> torch.Tensor:
    """A layer's output as (B, C, h, w): ViT tokens and Swin's channels-last maps rearranged."""
    if output.ndim == 3:
        return vit_tokens_to_grid(output)
    if spec.is_transformer:
        return swin_channels_last_to_grid(output)
    return output


class ReadoutNet(nn.Module):
    """``features(x)``: the chosen layers concatenated (B, C, h, w); ``forward(x, centre_bias)``
    → (B, H, W) log density at x's size (``centre_bias``: the (B, H, W) log centre bias)."""

    def __init__(self, recipe: ReadoutRecipe, extractor: nn.Module, channels: int) -> None:
        super().__init__()
        self.recipe = recipe
        self.spec = get_classifier_spec(recipe.backbone)
        self.extractor = extractor
        self.head = READOUT_KINDS[recipe.kind].build(channels, recipe.input_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        outputs = self.extractor(x)
        grids = [_to_grid(self.spec, outputs[name]) for name in self.recipe.layers]
        size = grids[0].shape[-2:]
        resized = [
            g if g.shape[-2:] == size else F.interpolate(g, size=size, mode="bilinear")
            for g in grids
        ]
        return torch.cat(resized, dim=1)

    def forward(self, x: torch.Tensor, centre_bias: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), centre_bias)


def build_readout(recipe: ReadoutRecipe, device: torch.device | str = "cpu") -> ReadoutNet:
    """A new readout of ``recipe``: the backbone with its weights (seeded when untrained), the
    head freshly initialised from ``recipe.seed``; the backbone frozen unless fine-tuned."""
    classifier = load_classifier(
        recipe.backbone,
        recipe.weights,
        recipe.weights_file,
        input_size=recipe.input_size,
        seed=recipe.seed,
    )
    extractor = create_feature_extractor(
        classifier.model, return_nodes={name: name for name in recipe.layers}
    )
    extractor.requires_grad_(recipe.finetuned)
    probe = torch.zeros(1, 3, *input_shape((recipe.input_size,) * 2, recipe))
    with torch.no_grad():
        outputs = extractor.eval()(probe)
    spec = get_classifier_spec(recipe.backbone)
    channels = sum(_to_grid(spec, outputs[name]).shape[1] for name in recipe.layers)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ReadoutNet(recipe, extractor, channels)
    return net.to(device)


def input_shape(shape: tuple[int, int], recipe: ReadoutRecipe) -> tuple[int, int]:
    """The (H, W) an image of ``shape`` is resized to (see the module docstring)."""
    side = recipe.input_size
    if get_classifier_spec(recipe.backbone).size_kwarg:
        return side, side
    scale = side / max(shape)
    return tuple(  # type: ignore[return-value]
        max(SIDE_MULTIPLE, round(n * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE) for n in shape
    )


def to_input(rgb: np.ndarray, recipe: ReadoutRecipe) -> torch.Tensor:
    """uint8 (H, W, 3) → normalised float (3, h, w) at :func:`input_shape`."""
    transform = get_classifier_spec(recipe.backbone).weights.transforms()
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    size = list(input_shape(rgb.shape[:2], recipe))
    tensor = TF.resize(tensor, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.normalize(tensor, mean=list(transform.mean), std=list(transform.std))


def centre_bias_tensor(shape: tuple[int, int], count: int = 1) -> torch.Tensor:
    """The (count, H, W) log centre bias (:data:`CENTRE_BIAS`) as float32."""
    bias = torch.from_numpy(np.array(gaussian_centre_bias(shape)))
    return bias.expand(count, *bias.shape)
