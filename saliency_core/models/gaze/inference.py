"""Running DeepGaze IIE on RGB images: sizing, centre bias, cached model, batches, device, OOM."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from saliency_core.data.images import resize_map
from saliency_core.models.cache import MODELS, Locked, default_device, is_out_of_memory
from saliency_core.models.gaze.centerbias import centre_bias
from saliency_core.models.gaze.deepgaze import build_deepgaze, build_official_deepgaze
from saliency_core.models.weights import WeightSource, display_label, file_stamp
from saliency_core.study import DEEPGAZE_MAX_SIDE

MIN_SIDE = 64
"""Smaller images are upscaled to this short side (px): EfficientNet-B5's fixed padding needs it."""
STUDY_INPUT_NOTE = (
    "study input range: image fed as 0..1 instead of 0..255 (near-black), reproducing the "
    "study's bug; the map is dominated by the centre bias"
)


@dataclass(frozen=True)
class Type2Request:
    """How to run a type-2 model (see ``saliency_core.models.gaze.predict_type2``)."""

    source: WeightSource = WeightSource.UNTRAINED
    weights_path: str | None = None
    max_side: int = DEEPGAZE_MAX_SIDE
    study_input_range: bool = False
    device: str | torch.device | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)
    """Called with (bytes_done, bytes_total) while pretrained weights download."""


@dataclass(frozen=True)
class Prediction:
    """A log density (not yet normalised) with its label, notes and whether the model that
    made it has trained weights."""

    log_density: np.ndarray
    label: str
    notes: list[str]
    trained: bool = True


def inference_size(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(H, W) scaled so that the long side ≤ ``max_side`` and the short side ≥ MIN_SIDE."""
    height, width = shape
    scale = min(1.0, max_side / max(height, width))
    scale = max(scale, MIN_SIDE / min(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resized(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, list[str]]:
    size = inference_size(rgb.shape[:2], max_side)
    if size == rgb.shape[:2]:
        return rgb, []
    shrinking = size[0] < rgb.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (size[1], size[0]), interpolation=interpolation)
    why = f"long side ≤ {max_side} px" if shrinking else f"short side ≥ {MIN_SIDE} px"
    note = f"{'downscaled' if shrinking else 'upscaled'} to {size[1]}×{size[0]} px for inference"
    return small, [f"{note} ({why}); map resized back to the image"]


def _run(model: nn.Module, image: torch.Tensor, centerbias: torch.Tensor) -> np.ndarray:
    """Forward pass (inference mode) → float32 (B, H, W) log densities on the CPU."""
    try:
        with torch.inference_mode():
            return model(image, centerbias)[:, 0].float().cpu().numpy()
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        if image.is_cuda:
            torch.cuda.empty_cache()
        count, _, height, width = image.shape
        images = f"{count} images of " if count > 1 else "a "
        raise RuntimeError(
            f"DeepGaze IIE ran out of memory on {image.device} for {images}{width}×{height} px "
            "input. Lower the maximum inference side (max_side) or the batch size, or run on the "
            "CPU (SALIENCY_DEVICE=cpu)."
        ) from error


@dataclass(frozen=True)
class Variant:
    """One DeepGaze IIE: its model-cache key, builder, label and whether its centre bias may
    download the MIT1003 template."""

    key: Hashable
    build: Callable[[], nn.Module]
    label: str
    download_centre_bias: bool
    trained: bool = True


def _device(request: Type2Request) -> torch.device:
    return torch.device(request.device) if request.device is not None else default_device()


def load_variant(variant: Variant, request: Type2Request) -> Locked[nn.Module]:
    """The variant on the request's device from the shared model cache (built on first use)."""
    device = _device(request)
    return MODELS.get(
        ("type2", variant.key, str(device)), lambda: variant.build().to(device).eval()
    )


def run_deepgaze(
    images: Sequence[np.ndarray], request: Type2Request, variant: Variant
) -> list[Prediction]:
    """Predict every RGB image of ``images`` with ``variant``: images of one inference size
    share one forward pass and one centre bias; each map is resized back to its image."""
    device = _device(request)
    entry = load_variant(variant, request)
    prepared = [_resized(rgb, request.max_side) for rgb in images]
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, (small, _) in enumerate(prepared):
        groups.setdefault(small.shape, []).append(index)
    predictions: list[Prediction | None] = [None] * len(images)
    for shape, members in groups.items():
        bias = centre_bias(shape[:2], download=variant.download_centre_bias)
        shared = (
            []
            if bias.from_template
            else [f"centre bias: {bias.label} fallback (MIT1003 template not found)"]
        )
        if request.study_input_range:
            shared.append(STUDY_INPUT_NOTE)
        # uint8 crosses to the device (4× less than float32) and is converted there.
        stacked = np.stack([prepared[index][0] for index in members])
        batch = torch.from_numpy(stacked).to(device).permute(0, 3, 1, 2)
        batch = batch.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if request.study_input_range:
            batch = batch / 255.0
        centerbias = torch.from_numpy(np.array(bias.log_density)).to(device)
        centerbias = centerbias.expand(len(members), *centerbias.shape)
        with entry.lock:
            log_densities = _run(entry.value, batch, centerbias)
        for index, log_density in zip(members, log_densities, strict=True):
            shape_back = images[index].shape[:2]
            # its own array (resized, or copied): a view would keep the whole batch alive
            if log_density.shape != shape_back:
                log_density = resize_map(log_density, shape_back)
            else:
                log_density = log_density.copy()
            notes = [*prepared[index][1], *shared]
            predictions[index] = Prediction(log_density, variant.label, notes, variant.trained)
    return predictions


def deepgaze_variant(request: Type2Request) -> Variant:
    """This package's DeepGaze IIE with the requested weight source."""
    source = WeightSource(request.source)
    path = str(Path(request.weights_path).resolve()) if request.weights_path else None
    return Variant(
        key=("DeepGaze IIE", source.value, path, file_stamp(path)),
        build=lambda: build_deepgaze(source, path, request.progress),
        label=f"DeepGaze IIE ({display_label(source)})",
        download_centre_bias=source is WeightSource.PRETRAINED,
        trained=source is not WeightSource.UNTRAINED,
    )


def official_variant(request: Type2Request) -> Variant:
    """DeepGaze IIE from the official ``deepgaze_pytorch`` package (always pretrained)."""
    return Variant(
        key=("DeepGaze IIE (official package)",),
        build=build_official_deepgaze,
        label="DeepGaze IIE (official package, pretrained)",
        download_centre_bias=True,
    )
