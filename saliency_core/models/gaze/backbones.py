"""The four DeepGaze IIE backbones and the intermediate layers each one contributes.

Each backbone runs as ``Sequential(normaliser, network)``; ``taps`` name modules inside that
Sequential (so they start with ``1.``), in the order their outputs are concatenated.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
from efficientnet_pytorch import EfficientNet
from efficientnet_pytorch.utils import Conv2dStaticSamePadding
from torch import nn
from torchvision.models import densenet201, resnet50, resnext50_32x4d

from saliency_core.study import IMAGENET_MEAN, IMAGENET_STD


class ImageNormaliser(nn.Module):
    """RGB in 0..255 → ImageNet-standardised input: (x / 255 − mean[c]) / std[c].

    The arithmetic follows the official normaliser exactly: x / 255 in the input's dtype, then
    in-place ``−= mean`` and ``/= std`` with float64 (3, 1, 1) constants, so each step is
    computed in float64 and rounded back to the input's dtype (float32 constants differ by
    1 ulp in most pixels, 2.4e-5 in log density). The constants are made in ``forward``, not
    registered as buffers: the checkpoint stores none, and building on the meta device (see
    ``deepgaze.build_deepgaze``) would leave unstored buffers without values.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64, device=x.device).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=torch.float64, device=x.device).view(3, 1, 1)
        x = x / 255.0
        x -= mean
        x /= std
        return x


@dataclass(frozen=True)
class Backbone:
    """One backbone: how to build its network, which layers to tap, their total channels."""

    name: str
    build: Callable[[], nn.Module]
    taps: tuple[str, ...]
    channels: int


def _shapenet_resnet50() -> nn.Module:
    """ResNet-50 (trained on Stylized ImageNet, "ShapeNet"), saved wrapped in ``module``."""
    return nn.Sequential(OrderedDict(module=resnet50()))


def _same_padding(conv: Conv2dStaticSamePadding, image_size: int) -> nn.Module:
    """TensorFlow 'SAME' padding of ``conv`` for an ``image_size`` input: total pad per axis
    max((ceil(n / s) − 1)·s + (k − 1)·d + 1 − n, 0), split floor-first (left/top)."""
    pads = []
    for k, s, d in zip(conv.weight.shape[-2:], conv.stride, conv.dilation, strict=True):
        total = max((math.ceil(image_size / s) - 1) * s + (k - 1) * d + 1 - image_size, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return nn.ZeroPad2d((left, right, top, bottom)) if any(sum(pads, ())) else nn.Identity()


def _efficientnet_b5() -> nn.Module:
    """EfficientNet-B5 of ``efficientnet_pytorch``, padded as in the released checkpoint.

    The checkpoint's EfficientNet computed every convolution's static 'same' padding for the
    full 456 px input; ``efficientnet_pytorch`` 0.7.1 uses each stage's own input size, which
    changes two stride-2 convolutions (blocks 13 and 27). The padding is recomputed to match.
    """
    network = EfficientNet.from_name("efficientnet-b5")
    image_size = network._global_params.image_size
    for module in network.modules():
        if isinstance(module, Conv2dStaticSamePadding):
            module.static_padding = _same_padding(module, image_size)
    return network


BACKBONES: tuple[Backbone, ...] = (
    Backbone(
        "ShapeNet ResNet-50",
        _shapenet_resnet50,
        (
            "1.module.layer3.0.conv2",
            "1.module.layer3.3.conv2",
            "1.module.layer3.5.conv1",
            "1.module.layer3.5.conv2",
            "1.module.layer4.1.conv2",
            "1.module.layer4.2.conv2",
        ),
        2048,
    ),
    Backbone(
        "EfficientNet-B5",
        _efficientnet_b5,
        (
            "1._blocks.24._depthwise_conv",
            "1._blocks.26._depthwise_conv",
            "1._blocks.35._project_conv",
        ),
        2416,
    ),
    Backbone(
        "DenseNet-201",
        densenet201,
        (
            "1.features.denseblock4.denselayer32.norm1",
            "1.features.denseblock4.denselayer32.conv1",
            "1.features.denseblock4.denselayer31.conv2",
        ),
        2048,
    ),
    Backbone(
        "ResNeXt-50 32x4d",
        resnext50_32x4d,
        ("1.layer3.5.conv1", "1.layer3.5.conv2", "1.layer3.4.conv2", "1.layer4.2.conv2"),
        2560,
    ),
)


class FeatureExtractor(nn.Module):
    """Runs ``Sequential(normaliser, backbone)`` and returns the tapped layers' outputs.

    Outputs are cloned when captured: DenseNet applies an in-place ReLU right after the tapped
    ``norm1``, and the model was trained on the un-rectified values.
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.features = nn.Sequential(ImageNormaliser(), backbone.build())
        self.taps = backbone.taps

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        modules = dict(self.features.named_modules())
        captured: dict[str, torch.Tensor] = {}

        def keep(name: str) -> Callable[..., None]:
            def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
                captured[name] = output.clone()

            return hook

        handles = [modules[name].register_forward_hook(keep(name)) for name in self.taps]
        try:
            self.features(image)
        finally:
            for handle in handles:
                handle.remove()
        return [captured[name] for name in self.taps]
