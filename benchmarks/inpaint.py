"""Inpainting speed: Deep Image Prior iterations/s at 256² and 512², the time to its first
iteration on a 1024×768 image at full resolution and at the device's working size, and Telea's
time at 512².

Runs on ``default_device()``. The mask is the study's erase region (top 2.5% of a CAM-like
blob) on a sample image. Last line: ``RESULT dip_iters_per_s_256=<value>``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saliency_core.augment import erase, erase_mask, inpaint  # noqa: E402
from saliency_core.augment.dip import default_iterations  # noqa: E402
from saliency_core.augment.working_size import default_max_side, working_shape  # noqa: E402
from saliency_core.data.images import load_image, resize_image  # noqa: E402
from saliency_core.models.cache import default_device  # noqa: E402

IMAGE = ROOT / "assets" / "sample" / "images" / "004.jpg"
DIP_COUNTS = {"cuda": (10, 100), "cpu": (2, 5)}
"""(warm-up, measured) DIP iterations per device type."""
TELEA_RUNS = 5
LARGE = (768, 1024)
"""(height, width) of the image whose time to the first iteration is measured."""
OLD_PREVIEW_EVERY = 50
"""Before the working size, the page's first progress report came after this many iterations."""


def _sample(height: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The sample image at height×width, erased where an off-centre Gaussian CAM is in its top
    2.5%."""
    width = width or height
    image = resize_image(load_image(IMAGE).rgb, (height, width))
    y, x = np.mgrid[0:height, 0:width]
    cam = np.exp(-((x / width - 0.6) ** 2 + (y / height - 0.4) ** 2) / 0.02)
    mask = erase_mask(cam, top_percent=2.5)
    return erase(image, mask), mask


def _stamps(image: np.ndarray, mask: np.ndarray, iterations: int, **params) -> dict[int, float]:
    """Seconds from the call to the end of each iteration (progress timestamps)."""
    stamps: dict[int, float] = {}
    start = time.perf_counter()
    inpaint(
        image,
        mask,
        "Deep Image Prior",
        iterations=iterations,
        progress=lambda iteration, *_: stamps.__setitem__(iteration, time.perf_counter() - start),
        **params,
    )
    return stamps


def dip_iterations_per_second(size: int, warmup: int, measured: int) -> float:
    """Iterations/s between the end of the warm-up and the last iteration."""
    stamps = _stamps(*_sample(size), warmup + measured)
    return measured / (stamps[warmup + measured] - stamps[warmup])


def first_iteration(max_side: int, iterations: int) -> tuple[float, float]:
    """(seconds to the end of the first iteration, seconds per later iteration) on the LARGE
    image fitted at ``max_side``."""
    stamps = _stamps(*_sample(*LARGE), iterations, max_side=max_side)
    return stamps[1], (stamps[iterations] - stamps[1]) / (iterations - 1)


def telea_median_ms(size: int, runs: int) -> float:
    image, mask = _sample(size)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        inpaint(image, mask, "Telea", radius=3)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    device = default_device()
    warmup, measured = DIP_COUNTS[device.type]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device: {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    print(f"mask: top 2.5% of a Gaussian CAM; DIP: {measured} iterations after {warmup} warm-up")
    print()
    rows = []
    dip_256 = dip_iterations_per_second(256, warmup, measured)
    rows.append(("Deep Image Prior", "256×256", "iterations/s", f"{dip_256:.2f}"))
    dip_512 = dip_iterations_per_second(512, warmup, measured)
    rows.append(("Deep Image Prior", "512×512", "iterations/s", f"{dip_512:.2f}"))
    default = default_iterations(device.type, (512, 512))
    rows.append(
        ("", "512×512", f"default run ({default} iterations), s", f"{default / dip_512:.0f}")
    )
    side = default_max_side(device.type)
    height, width = working_shape(LARGE, side)
    full_first, full_rate = first_iteration(max(LARGE), warmup + measured)
    work_first, work_rate = first_iteration(side, warmup + measured)
    large = f"{LARGE[1]}×{LARGE[0]}"
    rows.append(("", f"{large} at full size", "first iteration, s", f"{full_first:.2f}"))
    rows.append(("", f"{large} at full size", "later iterations, s/it", f"{full_rate:.2f}"))
    rows.append(
        (
            "",
            f"{large} at full size",
            f"first report before (iteration {OLD_PREVIEW_EVERY}), s",
            f"{full_first + (OLD_PREVIEW_EVERY - 1) * full_rate:.0f}",
        )
    )
    working = f"{large} at {width}×{height}"
    rows.append(("", working, "first iteration (first report now), s", f"{work_first:.2f}"))
    rows.append(("", working, "later iterations, s/it", f"{work_rate:.2f}"))
    telea = telea_median_ms(512, TELEA_RUNS)
    rows.append(("Telea (radius 3)", "512×512", f"median of {TELEA_RUNS}, ms", f"{telea:.1f}"))
    print("| method | size | measure | value |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"RESULT dip_iters_per_s_256={dip_256:.3f}")


if __name__ == "__main__":
    main()
