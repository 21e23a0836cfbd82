"""Inpainting speed: Deep Image Prior iterations/s at 256² and 512², Telea time at 512².

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
from saliency_core.backend import default_device  # noqa: E402
from saliency_core.images import load_image, resize_image  # noqa: E402

IMAGE = ROOT / "assets" / "sample" / "images" / "004.jpg"
DIP_COUNTS = {"cuda": (10, 100), "cpu": (2, 5)}
"""(warm-up, measured) DIP iterations per device type."""
TELEA_RUNS = 5


def _sample(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The sample image at size×size, erased where an off-centre Gaussian CAM is in its top 2.5%."""
    image = resize_image(load_image(IMAGE).rgb, (size, size))
    y, x = np.mgrid[0:size, 0:size] / size
    cam = np.exp(-((x - 0.6) ** 2 + (y - 0.4) ** 2) / 0.02)
    mask = erase_mask(cam, top_percent=2.5)
    return erase(image, mask), mask


def dip_iterations_per_second(size: int, warmup: int, measured: int) -> float:
    """Iterations/s between the end of the warm-up and the last iteration (progress timestamps)."""
    image, mask = _sample(size)
    stamps: dict[int, float] = {}
    inpaint(
        image,
        mask,
        "Deep Image Prior",
        iterations=warmup + measured,
        progress_every=warmup,
        progress=lambda iteration, *_: stamps.__setitem__(iteration, time.perf_counter()),
    )
    return measured / (stamps[warmup + measured] - stamps[warmup])


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
    rows.append(("", "512×512", "3000 iterations (default), min", f"{3000 / dip_512 / 60:.1f}"))
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
