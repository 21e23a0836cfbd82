"""CAM overhead: (detections + EigenCAM in one pass) / (bare detection forward), per detector.

Also times one top-p% update of the Explore page (masks, IoU table and agreement pictures for 8
maps against 2 references at 512²), the work its fragment redoes when the slider moves.
Run: `.venv/bin/python benchmarks/cam_overhead.py [--repeats 5] [--detectors NAME ...]`.
Last line: `RESULT max_ratio=<largest ratio>`.
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
from saliency_core.scoring import agreement  # noqa: E402
from saliency_core.viz import AgreementPainter  # noqa: E402
from ui import matrix  # noqa: E402

SIZE = 512


def overhead(name: str, image: np.ndarray, repeats: int, device: torch.device) -> tuple:
    detector = load_detector(name, "untrained", device=device)
    bare = lambda: detect(detector, image)  # noqa: E731
    cam = lambda: run_cam(detector, image, "EigenCAM")  # noqa: E731
    bare(), cam()  # warm-up
    bare_times, cam_times = [], []
    for index in range(repeats):  # interleaved ABBA, so neither always runs after the other
        order = ((bare, bare_times), (cam, cam_times))
        for function, times in order if index % 2 == 0 else order[::-1]:
            times.append(timed(function))
    return statistics.median(bare_times), statistics.median(cam_times)


def threshold_update_ms(image: np.ndarray, repeats: int = 30) -> float:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE

    def blob() -> np.ndarray:
        cx, cy, s = rng.random(3) * [1, 1, 0.3] + [0, 0, 0.05]
        return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s**2)).astype(np.float32)

    maps = {f"map {k}": agreement.RankedMap(blob()) for k in range(8)}
    refs = {f"ref {k}": agreement.RankedMap(blob()) for k in range(2)}
    paint = AgreementPainter(image)  # once per image, as the page caches it
    times = []
    for k in range(repeats):
        percent = 5.0 + k % 20
        times.append(timed(lambda p=percent: matrix.threshold_view(paint, maps, refs, "ref 0", p)))
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    installed = [name for name, spec in DETECTORS.items() if spec.unavailable_reason is None]
    parser.add_argument("--detectors", nargs="*", default=installed)
    args = parser.parse_args()
    device = default_device()
    image = resize_image(sample_dataset().load("024").image, (SIZE, SIZE))
    print(
        f"device={device.type} threads={torch.get_num_threads()} image={SIZE}x{SIZE} "
        f"weights=untrained (random) repeats={args.repeats} (medians)"
    )
    print(f"{'detector':28s} {'bare (s)':>9s} {'+EigenCAM (s)':>14s} {'ratio':>6s}")
    ratios = []
    for name in args.detectors:
        bare, cam = overhead(name, image, args.repeats, device)
        ratios.append(cam / bare)
        print(f"{name:28s} {bare:9.3f} {cam:14.3f} {cam / bare:6.3f}", flush=True)
    print(f"threshold update (8 maps, 2 references, {SIZE}²): {threshold_update_ms(image):.1f} ms")
    print(f"RESULT max_ratio={max(ratios):.3f}")


if __name__ == "__main__":
    main()
