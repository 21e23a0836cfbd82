"""Running DeepGaze IIE on one RGB image: sizing, centre bias, cached model, device, OOM."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from saliency_core.backend import MODELS, default_device, is_out_of_memory
from saliency_core.gaze.centerbias import centre_bias
from saliency_core.gaze.deepgaze import build_deepgaze, build_official_deepgaze
from saliency_core.images import resize_map
from saliency_core.weights import WeightSource, display_label, file_stamp

MIN_SIDE = 64
"""Smaller images are upscaled to this short side (px): EfficientNet-B5's fixed padding needs it."""
STUDY_INPUT_NOTE = (
    "study input range: image fed as 0..1 instead of 0..255 (near-black), reproducing the "
    "study's bug; the map is dominated by the centre bias"
)


@dataclass(frozen=True)
class Type2Request:
    """How to run a type-2 model (see ``saliency_core.gaze.predict_type2``)."""

    source: WeightSource = WeightSource.UNTRAINED
    weights_path: str | None = None
    max_side: int = 1024
    study_input_range: bool = False
    device: str | torch.device | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)
    """Called with (bytes_done, bytes_total) while pretrained weights download."""


@dataclass(frozen=True)
class Prediction:
    """A log density (not yet normalised) with its label and notes."""

    log_density: np.ndarray
    label: str
    notes: list[str]


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
    """Forward pass (inference mode) → float32 (H, W) log density on the CPU."""
    try:
        with torch.inference_mode():
            return model(image, centerbias)[0, 0].float().cpu().numpy()
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        if image.is_cuda:
            torch.cuda.empty_cache()
        height, width = image.shape[-2:]
        raise RuntimeError(
            f"DeepGaze IIE ran out of memory on {image.device} for a {width}×{height} px input. "
            "Lower the maximum inference side (max_side) or run on the CPU "
            "(SALIENCY_DEVICE=cpu)."
        ) from error


def run_deepgaze(
    rgb: np.ndarray,
    request: Type2Request,
    key: Hashable,
    build: Callable[[], nn.Module],
    label: str,
    download_centre_bias: bool,
) -> Prediction:
    """Predict with the model cached under ``key`` (built by ``build`` on first use)."""
    device = torch.device(request.device) if request.device is not None else default_device()
    entry = MODELS.get(("type2", key, str(device)), lambda: build().to(device).eval())
    small, notes = _resized(rgb, request.max_side)
    bias = centre_bias(small.shape[:2], download=download_centre_bias)
    if not bias.from_template:
        notes.append(f"centre bias: {bias.label} fallback (MIT1003 template not found)")
    # uint8 crosses to the device (4× less than float32) and is converted there.
    image = torch.from_numpy(np.ascontiguousarray(small)).to(device).permute(2, 0, 1)[None]
    image = image.to(dtype=torch.float32, memory_format=torch.contiguous_format)
    if request.study_input_range:
        image = image / 255.0
        notes.append(STUDY_INPUT_NOTE)
    centerbias = torch.from_numpy(np.array(bias.log_density))[None].to(device)
    with entry.lock:
        log_density = _run(entry.value, image, centerbias)
    if log_density.shape != rgb.shape[:2]:
        log_density = resize_map(log_density, rgb.shape[:2])
    return Prediction(log_density, label, notes)


def predict_deepgaze(rgb: np.ndarray, request: Type2Request) -> Prediction:
    """DeepGaze IIE (this package's implementation) with the requested weight source."""
    source = WeightSource(request.source)
    path = str(Path(request.weights_path).resolve()) if request.weights_path else None
    return run_deepgaze(
        rgb,
        request,
        key=("DeepGaze IIE", source.value, path, file_stamp(path)),
        build=lambda: build_deepgaze(source, path, request.progress),
        label=f"DeepGaze IIE ({display_label(source)})",
        download_centre_bias=source is WeightSource.PRETRAINED,
    )


def predict_official_deepgaze(rgb: np.ndarray, request: Type2Request) -> Prediction:
    """DeepGaze IIE from the official ``deepgaze_pytorch`` package (always pretrained)."""
    return run_deepgaze(
        rgb,
        request,
        key=("DeepGaze IIE (official package)",),
        build=build_official_deepgaze,
        label="DeepGaze IIE (official package, pretrained)",
        download_centre_bias=True,
    )
