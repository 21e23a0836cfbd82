"""A readout network: a backbone's features (:data:`~saliency_core.models.readout.backbones.
BACKBONES`: a registry classifier or a detector's backbone) from chosen layers, concatenated, and a
readout head (:data:`~saliency_core.models.readout.heads.READOUT_KINDS`) giving a log density.

Input convention: the image resized (bilinear, antialiased; aspect kept) so that its long side is
``input_size`` and both sides are multiples of :data:`SIDE_MULTIPLE` (ViT: the square
``input_size``², its position embeddings fix it), scaled to [0, 1] and normalised with the
backbone's mean and standard deviation. Each chosen layer's output (transformer tokens
turned into a grid) is resized bilinearly to the first layer's grid, and they are concatenated
along the channels (as DeepGaze IIE and Oyama & Yamanaka do).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF

from saliency_core.models.gaze.centerbias import GAUSSIAN_LABEL, gaussian_centre_bias
from saliency_core.models.readout.backbones import readout_backbone
from saliency_core.models.readout.heads import READOUT_KINDS
from saliency_core.models.weights import WeightSource, display_label

SIDE_MULTIPLE = 32
"""Inference sides are rounded to multiples of the backbones' largest stride (px)."""
CENTRE_BIAS = GAUSSIAN_LABEL
"""The centre bias readouts use and are scored against: the Gaussian prior (the same in every
process, whether or not the MIT1003 template is on disk)."""


@dataclass(frozen=True)
class ReadoutRecipe:
    """What rebuilds a readout: backbone (a classifier's or a detector's registry name), its
    weight source, weights file and seed (untrained), the layers, the readout kind, the input's
    long side (px), whether the backbone was fine-tuned, and the training data's name."""

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
        backbone = readout_backbone(self.backbone)  # KeyError naming the known ones
        if self.kind not in READOUT_KINDS:
            known = ", ".join(READOUT_KINDS)
            raise ValueError(f"Unknown readout {self.kind!r}; choose from {known}")
        WeightSource(self.weights)
        object.__setattr__(self, "layers", tuple(self.layers) or backbone.layers)
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
        """ "Readout (DC) on ResNet-50 [UNTRAINED backbone] · trained on <data>"; a detector's:
        "Readout (DC) on Faster R-CNN R50-FPN backbone [UNTRAINED] · trained on <data>"."""
        tuned = ", fine-tuned" if self.finetuned else ""
        weights = display_label(self.weights)
        data = self.trained_on or "(no training data)"
        named = readout_backbone(self.backbone).named
        on = named.format(name=self.backbone, weights=weights, tuned=tuned)
        return f"Readout ({READOUT_KINDS[self.kind].label}) on {on} · trained on {data}"


class ReadoutNet(nn.Module):
    """``features(x)``: the chosen layers concatenated (B, C, h, w); ``forward(x, centre_bias)``
    → (B, H, W) log density at x's size (``centre_bias``: the (B, H, W) log centre bias)."""

    def __init__(self, recipe: ReadoutRecipe, extractor: nn.Module, channels: int) -> None:
        super().__init__()
        self.recipe = recipe
        self.base = readout_backbone(recipe.backbone)
        self.extractor = extractor
        self.head = READOUT_KINDS[recipe.kind].build(channels, recipe.input_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        outputs = self.extractor(x)
        grids = [self.base.to_grid(outputs[name]) for name in self.recipe.layers]
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
    backbone = readout_backbone(recipe.backbone)
    extractor = backbone.extractor(recipe)
    extractor.requires_grad_(recipe.finetuned)
    probe = torch.zeros(1, 3, *input_shape((recipe.input_size,) * 2, recipe))
    with torch.no_grad():
        outputs = extractor.eval()(probe)
    channels = sum(backbone.to_grid(outputs[name]).shape[1] for name in recipe.layers)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ReadoutNet(recipe, extractor, channels)
    return net.to(device)


def input_shape(shape: tuple[int, int], recipe: ReadoutRecipe) -> tuple[int, int]:
    """The (H, W) an image of ``shape`` is resized to (see the module docstring)."""
    side = recipe.input_size
    if readout_backbone(recipe.backbone).square:
        return side, side
    scale = side / max(shape)
    return tuple(  # type: ignore[return-value]
        max(SIDE_MULTIPLE, round(n * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE) for n in shape
    )


def to_input(rgb: np.ndarray, recipe: ReadoutRecipe) -> torch.Tensor:
    """uint8 (H, W, 3) → normalised float (3, h, w) at :func:`input_shape`."""
    backbone = readout_backbone(recipe.backbone)
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    size = list(input_shape(rgb.shape[:2], recipe))
    tensor = TF.resize(tensor, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.normalize(tensor, mean=list(backbone.mean), std=list(backbone.std))


def centre_bias_tensor(shape: tuple[int, int], count: int = 1) -> torch.Tensor:
    """The (count, H, W) log centre bias (:data:`CENTRE_BIAS`) as float32."""
    bias = torch.from_numpy(np.array(gaussian_centre_bias(shape)))
    return bias.expand(count, *bias.shape)
