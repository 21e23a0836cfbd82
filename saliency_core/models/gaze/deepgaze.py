"""DeepGaze IIE (Linardos, Kümmerer, Press, Bethge, ICCV 2021), written to load ``deepgaze2e.pth``.

The model mixes 4 backbones × 30 readout components. For an image x (B×3×H×W, RGB 0..255) and a
centre-bias log density c (B×H×W), branch b and component k give a log density p_bk; then

    log p_b = logsumexp_k(p_bk) − log 30,    log p = logsumexp_b(log p_b) − log 4,

i.e. averages in probability space. The result has logsumexp 0 over each image.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from saliency_core.models.gaze.backbones import BACKBONES, FeatureExtractor
from saliency_core.models.gaze.layers import Finalizer, fixation_selection_network, saliency_network
from saliency_core.models.weights import (
    Checkpoint,
    MissingWeightsError,
    WeightSource,
    hub_checkpoint_dir,
    load_state_dict_file,
    weights_file,
)

CHECKPOINT_NAME = "deepgaze2e.pth"
CHECKPOINT = Checkpoint(
    f"https://github.com/matthias-k/DeepGaze/releases/download/v1.0.0/{CHECKPOINT_NAME}",
    "Pretrained DeepGaze IIE weights",
)
COMPONENTS = 30
"""Readout components per backbone: 3 training instances × 10 cross-validation folds."""
DOWNSAMPLE = 2
"""The image is halved (nearest) before the backbones."""
READOUT_FACTOR = 16
"""Readout grid: ceil(H / 2 / 16) × ceil(W / 2 / 16)."""
UNTRAINED_SEED = 0
"""Random initialisation seed, so that untrained maps are the same in every process."""
OFFICIAL_PACKAGE = "deepgaze_pytorch"


class DeepGazeBranch(nn.Module):
    """One backbone and its readout components (a ``DeepGazeIIIMixture`` in the checkpoint).

    ``features=None`` builds the readout part alone; :meth:`readout` then takes feature maps
    directly.
    """

    def __init__(
        self, channels: int, components: int = COMPONENTS, features: FeatureExtractor | None = None
    ) -> None:
        super().__init__()
        self.features = features
        self.saliency_networks = nn.ModuleList(
            saliency_network(channels) for _ in range(components)
        )
        self.fixation_selection_networks = nn.ModuleList(
            fixation_selection_network() for _ in range(components)
        )
        self.finalizers = nn.ModuleList(Finalizer(factor=DOWNSAMPLE) for _ in range(components))

    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) RGB 0..255, (B,H,W) log density → (B,H,W) log density."""
        height, width = image.shape[-2:]
        small = F.interpolate(image, scale_factor=1 / DOWNSAMPLE, recompute_scale_factor=False)
        grid = (
            math.ceil(height / DOWNSAMPLE / READOUT_FACTOR),
            math.ceil(width / DOWNSAMPLE / READOUT_FACTOR),
        )
        maps = [F.interpolate(tap, size=grid) for tap in self.features(small)]
        return self.readout(torch.cat(maps, dim=1), centerbias)

    def readout(self, features: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        """(B,C,h,w) features → (B,H,W) log density: the components' mean in probability."""
        log_densities = [
            finalizer(fixation(saliency(features)), centerbias)
            for saliency, fixation, finalizer in zip(
                self.saliency_networks,
                self.fixation_selection_networks,
                self.finalizers,
                strict=True,
            )
        ]
        return torch.stack(log_densities).logsumexp(dim=0) - math.log(len(log_densities))


class DeepGazeIIE(nn.Module):
    """Mixture of the four backbone branches (``models.0`` … ``models.3``)."""

    def __init__(self, components: int = COMPONENTS) -> None:
        super().__init__()
        self.models = nn.ModuleList(
            DeepGazeBranch(backbone.channels, components, FeatureExtractor(backbone))
            for backbone in BACKBONES
        )

    def forward(self, image: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) float RGB 0..255, (B,H,W) centre-bias log density → (B,1,H,W) log density."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an image batch (B, 3, H, W), got {tuple(image.shape)}")
        if centerbias.shape != (image.shape[0], *image.shape[2:]):
            raise ValueError(
                f"centre bias {tuple(centerbias.shape)} does not match the image "
                f"{tuple(image.shape)}: expected (B, H, W)"
            )
        branches = torch.stack([branch(image, centerbias) for branch in self.models])
        return (branches.logsumexp(dim=0) - math.log(len(self.models)))[:, None]


def fetch_checkpoint(progress: Callable[[int, int], None] | None = None) -> Path:
    """Path of the official checkpoint in the torch hub cache, downloaded there if missing.

    ``progress(bytes_done, bytes_total)`` is called during a download.
    """
    return CHECKPOINT.fetch(progress)


def _mismatch_message(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> str | None:
    """What keeps ``state_dict`` from loading strictly into ``model`` (None: nothing)."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    wrong_shape = [
        f"{key} {tuple(state_dict[key].shape)} (expected {tuple(value.shape)})"
        for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
    ]
    problems = [
        f"{len(items)} {what}: {', '.join(items[:3])}{' …' if len(items) > 3 else ''}"
        for what, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", wrong_shape),
        )
        if items
    ]
    return "; ".join(problems) or None


def _load_into_new_model(state_dict: dict[str, torch.Tensor], origin: str) -> DeepGazeIIE:
    """Build the architecture without initialising it (meta device) and adopt the tensors."""
    with torch.device("meta"):
        model = DeepGazeIIE()
    problem = _mismatch_message(model, state_dict)
    if problem:
        raise MissingWeightsError(f"{origin} is not a DeepGaze IIE checkpoint: {problem}.")
    tensors = {
        key: value.float() if value.is_floating_point() else value
        for key, value in state_dict.items()
    }
    model.load_state_dict(tensors, strict=True, assign=True)
    return model


def _load_file(path: Path) -> DeepGazeIIE:
    return _load_into_new_model(load_state_dict_file(path), path.name)


def _untrained() -> DeepGazeIIE:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return DeepGazeIIE()


def build_deepgaze(
    source: WeightSource | str,
    path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DeepGazeIIE:
    """DeepGaze IIE on the CPU in eval mode, without gradients.

    ``pretrained``: the official checkpoint via the torch hub cache (downloaded once, with
    ``progress(bytes_done, bytes_total)`` calls);
    ``file``: a local checkpoint loaded strictly; ``untrained``: seeded random initialisation.
    Raises :class:`MissingWeightsError` with what to do when weights cannot be had.
    """
    builders = {
        WeightSource.PRETRAINED: lambda: _load_into_new_model(
            CHECKPOINT.load(progress), CHECKPOINT_NAME
        ),
        WeightSource.FILE: lambda: _load_file(weights_file(path)),
        WeightSource.UNTRAINED: _untrained,
    }
    return builders[WeightSource(source)]().eval().requires_grad_(False)


def official_package_available() -> bool:
    """Whether the official ``deepgaze_pytorch`` package can be imported."""
    return importlib.util.find_spec(OFFICIAL_PACKAGE) is not None


def build_official_deepgaze() -> nn.Module:
    """The official package's ``DeepGazeIIE(pretrained=True)`` (same forward contract)."""
    package = importlib.import_module(OFFICIAL_PACKAGE)
    try:
        model = package.DeepGazeIIE(pretrained=True)
    except OSError as error:
        raise MissingWeightsError(
            f"The official DeepGaze IIE package could not fetch {CHECKPOINT_NAME} ({error}). Put "
            f"it into {hub_checkpoint_dir()}, or use the built-in 'DeepGaze IIE' entry with the "
            "weight source 'file' or 'untrained'."
        ) from error
    return model.eval().requires_grad_(False)
