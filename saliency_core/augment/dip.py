"""Deep Image Prior inpainting (Ulyanov, Vedaldi & Lempitsky, CVPR 2018).

An untrained network f_θ maps a fixed random tensor z to an image. θ is fitted with Adam to the
known pixels only (k = 1 outside the hole, 0 inside; x the image in [0, 1]):

    L(θ) = Σ_p k_p ‖f_θ(z + σ·ε)_p − x_p‖² / (3 Σ_p k_p),   ε ~ N(0, I) redrawn every iteration,

and the hole is read from f_θ(z): the convolutional structure fills it with plausible content
long before the network could fit noise. σ is the noise regularisation std.

Working size: the fit runs on the image downscaled to a longer side ≤ ``max_side`` (by default
512 px on a CPU, the full image up to 2048 px on CUDA:
:mod:`saliency_core.augment.working_size`), and the result is resized back and used inside the
mask only. One iteration costs about ``CPU_SECONDS_PER_ITERATION`` s plus
``CPU_SECONDS_PER_MEGAPIXEL`` s per padded megapixel on a quiet CPU (a loaded one is several
times slower), so the default iteration count depends on the device and the working size
(:func:`default_iterations`).

Architecture — the paper's "skip" encoder–decoder, scaled down:

- input z: 32 channels, uniform in [0, 0.1), seeded, at the (padded) image size;
- 5 scales with 16, 32, 64, 128, 128 channels; scale i works at resolution H / 2^i:
    down_i: conv3×3 stride 2 → BN → LeakyReLU(0.2) → conv3×3 → BN → LeakyReLU (to H / 2^(i+1));
    skip_i: conv1×1 to 4 channels → BN → LeakyReLU (at H / 2^i);
    up_i:   bilinear ×2 of scale i+1's output (of down_i at the coarsest scale), concatenated
            with skip_i → BN → conv3×3 → BN → LeakyReLU → conv1×1 → BN → LeakyReLU;
- head: conv1×1 to 3 channels → sigmoid (RGB in [0, 1]).

Convolutions pad by reflection. Sizes not divisible by 2^5 are reflect-padded (image and
known-pixel mask alike, so a mirrored hole stays unknown) to a multiple of 32 — at least 64, so
the coarsest scale is ≥ 2×2 as BatchNorm needs — and cropped back. Runs on
``default_device()``; on CUDA under autocast (bf16 where supported, else fp16 with a gradient
scaler); the loss is computed in float32.
"""

from __future__ import annotations

import math
import threading
from functools import partial

import numpy as np
import torch
from torch import nn

from saliency_core.augment.result import InpaintResult, ProgressCallback
from saliency_core.augment.working_size import (
    composite_back,
    default_max_side,
    downscale,
    working_shape,
)
from saliency_core.models.cache import default_device

INPUT_CHANNELS = 32
CHANNELS = (16, 32, 64, 128, 128)
SKIP_CHANNELS = 4
NOISE_SCALE = 0.1
"""z ~ U[0, NOISE_SCALE), as in the paper's code."""
MIN_PADDED_SIDE = 2 ** (len(CHANNELS) + 1)
STUDY_ITERATIONS = 3000
"""The paper's inpainting iteration count, the default on CUDA."""
CPU_BUDGET_S = 60.0
"""A default run on a quiet CPU is sized to take about this long (s)."""
CPU_SECONDS_PER_ITERATION = 0.02
"""Fixed seconds per iteration on a CPU (operator dispatch and the optimiser step, whatever the
size): one thread's CPU time per iteration is 19 ms + 3.8 s per padded megapixel at 128×96,
128², 256×192 and 512×384 (benchmarks/README.md); it dominates at small working sizes."""
CPU_SECONDS_PER_MEGAPIXEL = 2.3
"""Seconds per iteration per padded megapixel on a quiet CPU: 1.63 it/s at 512² (2.34) and
7.4 it/s at 256² (2.06) on the 2-core development machine (benchmarks/inpaint.py)."""
MIN_ITERATIONS = 20


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """conv (reflection padding) → BatchNorm → LeakyReLU(0.2)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, padding_mode="reflect"),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    )


class _Scale(nn.Module):
    """One scale: ``up(concat(skip(x), upsample(deeper(down(x)))))``."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        skip_channels: int,
        deeper: nn.Module | None,
        deeper_channels: int,
    ) -> None:
        super().__init__()
        self.skip = _conv(in_channels, skip_channels, 1)
        self.down = nn.Sequential(_conv(in_channels, channels, 3, 2), _conv(channels, channels, 3))
        self.deeper = deeper if deeper is not None else nn.Identity()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        merged = skip_channels + deeper_channels
        self.up = nn.Sequential(
            nn.BatchNorm2d(merged), _conv(merged, channels, 3), _conv(channels, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = self.upsample(self.deeper(self.down(x)))
        return self.up(torch.cat([self.skip(x), deep], dim=1))


def build_network(
    channels: tuple[int, ...] = CHANNELS,
    skip_channels: int = SKIP_CHANNELS,
    input_channels: int = INPUT_CHANNELS,
) -> nn.Module:
    """The skip encoder–decoder described in the module docstring (randomly initialised)."""
    inputs = (input_channels, *channels[:-1])
    deeper: nn.Module | None = None
    deeper_channels = channels[-1]
    for in_channels, width in reversed(list(zip(inputs, channels, strict=True))):
        deeper = _Scale(in_channels, width, skip_channels, deeper, deeper_channels)
        deeper_channels = width
    return nn.Sequential(deeper, nn.Conv2d(channels[0], 3, 1), nn.Sigmoid())


def initialise(net: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation, drawn from ``generator``: Conv2d weights
    Kaiming-uniform (a = √5), biases U(±1/√fan_in); BatchNorm weight 1, bias 0, fresh stats."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()


def seeded_network(seed: int) -> tuple[nn.Module, torch.Generator]:
    """The network initialised from ``seed`` (built on the meta device, so the global RNG is
    never used) on the CPU, and the generator, ready to draw z next."""
    with torch.device("meta"):
        net = build_network()
    net.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    initialise(net, generator)
    return net, generator


def padded_side(side: int) -> int:
    """The smallest multiple of 2^depth that is ≥ ``side`` and ≥ ``MIN_PADDED_SIDE``."""
    divisor = 2 ** len(CHANNELS)
    return max(-(-side // divisor) * divisor, MIN_PADDED_SIDE)


def default_iterations(device_type: str, shape: tuple[int, int]) -> int:
    """The default iteration count for a working ``shape`` (height, width) on a device type.

    CUDA: ``STUDY_ITERATIONS``. Elsewhere: ``CPU_BUDGET_S / (CPU_SECONDS_PER_ITERATION +
    CPU_SECONDS_PER_MEGAPIXEL × padded megapixels)`` rounded to a multiple of 10, clamped to
    [MIN_ITERATIONS, STUDY_ITERATIONS] (512×512: 100; 512×384: 130; 256×256: 350; 128×128:
    1040).
    """
    if device_type == "cuda":
        return STUDY_ITERATIONS
    megapixels = padded_side(shape[0]) * padded_side(shape[1]) / 1e6
    seconds = CPU_SECONDS_PER_ITERATION + CPU_SECONDS_PER_MEGAPIXEL * megapixels
    count = 10 * round(CPU_BUDGET_S / seconds / 10)
    return min(max(count, MIN_ITERATIONS), STUDY_ITERATIONS)


def _pad(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reflect-pad the first two axes at the bottom and right to (height, width)."""
    widths = [(0, height - array.shape[0]), (0, width - array.shape[1])]
    return np.pad(array, widths + [(0, 0)] * (array.ndim - 2), mode="reflect")


def _composite(output: torch.Tensor, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Network output (1, 3, H', W') in [0, 1] → uint8, cropped, known pixels from ``image``."""
    height, width = mask.shape
    rgb = output[0, :, :height, :width].float().permute(1, 2, 0).clamp(0, 1) * 255
    predicted = rgb.round().to(torch.uint8).cpu().numpy()
    return np.where(mask[..., None], predicted, image)


def _mixed_precision(device: torch.device) -> tuple[partial, torch.amp.GradScaler]:
    """An autocast factory (active on CUDA only) and a gradient scaler (fp16 only)."""
    on_cuda = device.type == "cuda"
    bf16 = not on_cuda or torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if bf16 else torch.float16
    autocast = partial(torch.autocast, device_type=device.type, dtype=dtype, enabled=on_cuda)
    return autocast, torch.amp.GradScaler(device.type, enabled=on_cuda and not bf16)


def deep_image_prior(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    iterations: int | None = None,
    max_side: int | None = None,
    learning_rate: float = 0.01,
    seed: int = 0,
    reg_noise_std: float = 0.03,
    progress_every: int = 50,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> InpaintResult:
    """Fill the ``mask`` pixels of a uint8 (H, W, 3) image with a Deep Image Prior.

    Defaults follow the paper's inpainting setup: Adam with learning rate 0.01, noise
    regularisation std 0.03 (z in [0, 0.1)); ``seed`` fixes z, the initial weights and ε.
    ``max_side`` is the working size (None: :func:`default_max_side` of the device);
    ``iterations`` None means :func:`default_iterations` for the device and working size.

    ``progress(iteration, iterations, loss, preview)`` is called after every iteration; the
    preview (the current result at full size) and the loss are computed after the first
    iteration, every ``progress_every``-th and the last (elsewhere preview is None and loss the
    latest computed one). ``cancel`` is checked before every iteration, and a set event stops
    the fit and returns the current result (``stopped_early=True``).
    """
    device = default_device()
    shape = working_shape(
        mask.shape, default_max_side(device.type) if max_side is None else max_side
    )
    if iterations is None:
        iterations = default_iterations(device.type, shape)
    if iterations < 1 or progress_every < 1:
        raise ValueError("iterations and progress_every must be ≥ 1.")
    small_image, small_mask = downscale(image, mask, shape)
    if small_mask.all():
        raise ValueError(
            f"At the working size {shape[1]}×{shape[0]} the mask covers every pixel: choose a "
            "larger working size."
        )
    size = (padded_side(shape[0]), padded_side(shape[1]))
    target_np = _pad(small_image.astype(np.float32) / 255.0, *size)
    known_np = _pad(~small_mask, *size).astype(np.float32)
    target = torch.from_numpy(target_np).permute(2, 0, 1)[None].to(device)
    known = torch.from_numpy(known_np)[None, None].to(device)
    net, seeded = seeded_network(seed)
    net.to(device)
    z = (torch.rand(1, INPUT_CHANNELS, *size, generator=seeded) * NOISE_SCALE).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
    autocast, scaler = _mixed_precision(device)
    normaliser = known.sum() * 3

    def full_size(output: torch.Tensor) -> np.ndarray:
        return composite_back(_composite(output, small_image, small_mask), image, mask)

    losses = torch.zeros(iterations, device=device)
    loss_value = math.nan
    done = 0
    for step in range(iterations):
        if cancel is not None and cancel.is_set():
            break
        jitter = torch.randn(z.shape, generator=generator, device=device) * reg_noise_std
        optimiser.zero_grad(set_to_none=True)
        with autocast():
            output = net(z + jitter)
        loss = ((output.float() - target) ** 2 * known).sum() / normaliser
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        losses[step] = loss.detach()
        done = step + 1
        if progress is None:
            continue
        preview = None
        if done == 1 or done % progress_every == 0 or done == iterations:
            loss_value = losses[step].item()
            preview = full_size(output.detach())
        progress(done, iterations, loss_value, preview)
    if done == 0:
        filled = image.copy()
    else:
        with torch.no_grad(), autocast():
            filled = full_size(net(z))
    return InpaintResult(
        image=filled,
        stopped_early=done < iterations,
        iterations_run=done,
        history=tuple(losses[:done].tolist()),
        working_shape=shape,
    )
