"""Gradient CAMs: (detections + gradient CAM) / (bare detection forward), per detector and method.

For every detector (untrained, 512×512 image, torchvision's internal resize kept, default target
layer) and GradCAM, GradCAM++, HiResCAM and LayerCAM: `cams.run_cam` with the backward stopped
at the target layer (the app's path) and with pytorch-grad-cam's unmodified forward and backward
(`fast=False`; by default for GradCAM only: the library's forward and backward are the same for
all four methods, which differ only in how the gradients are weighted), each over `cams.detect`
(the bare no-grad forward). All calls of one detector are timed in one interleaved loop (the
order rotates every repeat) after a warm-up; medians.
Run: `.venv/bin/python benchmarks/gradient_cams.py [--repeats 3] [--detectors NAME ...]
[--library-methods METHOD ...]`.
Last line: `RESULT max_ratio=<largest fast ratio over the ResNet-50 detectors>` (target ≤ 2.0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from _timing import timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saliency_core.data.datasets import sample_dataset  # noqa: E402
from saliency_core.data.images import resize_image  # noqa: E402
from saliency_core.maps.cams import detect, run_cam  # noqa: E402
from saliency_core.models.cache import default_device  # noqa: E402
from saliency_core.models.detectors import DETECTORS, load_detector  # noqa: E402

SIZE = 512
METHODS = ("GradCAM", "GradCAM++", "HiResCAM", "LayerCAM")


def measure(
    name: str, image: np.ndarray, repeats: int, device: torch.device, library: list[str]
) -> dict[str, float]:
    """Median seconds of the bare forward and of each (method, path), interleaved."""
    detector = load_detector(name, "untrained", device=device)
    calls = {"bare": lambda: detect(detector, image)}
    for method in METHODS:
        calls[f"{method} fast"] = lambda m=method: run_cam(detector, image, m)
        if method in library:
            calls[f"{method} library"] = lambda m=method: run_cam(detector, image, m, fast=False)
    for function in calls.values():  # warm-up
        function()
    times: dict[str, list[float]] = {key: [] for key in calls}
    keys = list(calls)
    for index in range(repeats):
        shift = index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            times[key].append(timed(calls[key]))
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detectors", nargs="*", default=list(DETECTORS))
    parser.add_argument("--library-methods", nargs="*", default=["GradCAM"], choices=METHODS)
    args = parser.parse_args()
    device = default_device()
    image = resize_image(sample_dataset().load("024").image, (SIZE, SIZE))
    print(
        f"device={device.type} threads={torch.get_num_threads()} image={SIZE}x{SIZE} "
        f"weights=untrained (random) repeats={args.repeats} (medians)"
    )
    print(
        f"{'detector':26s} {'method':10s} {'bare (s)':>8s} {'fast (s)':>8s} {'ratio':>6s} "
        f"{'library (s)':>11s} {'ratio':>6s}"
    )
    resnet_ratios = []
    for name in args.detectors:
        median = measure(name, image, args.repeats, device, args.library_methods)
        bare = median["bare"]
        for method in METHODS:
            fast = median[f"{method} fast"]
            if "R50" in name:
                resnet_ratios.append(fast / bare)
            library = median.get(f"{method} library")
            versus = (
                f"{library:11.3f} {library / bare:6.2f}" if library else f"{'-':>11s} {'-':>6s}"
            )
            print(
                f"{name:26s} {method:10s} {bare:8.3f} {fast:8.3f} {fast / bare:6.2f} {versus}",
                flush=True,
            )
    print(f"RESULT max_ratio={max(resnet_ratios, default=float('nan')):.3f}")


if __name__ == "__main__":
    main()
