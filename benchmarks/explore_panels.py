"""Explore grid panels: repainting and re-encoding every panel on each rerun vs cached bytes.

Before (the flat grid): every rerun composed each overlay (``viz.overlay``, ``draw_detections``)
and handed Streamlit the array, which encodes it (JPEG, full size). After (``ui.panels``): a
panel is painted and encoded once (``viz.jpeg_bytes`` at ≤ 640 px); a rerun hands Streamlit the
same bytes, which it passes through (it only reads the header). Both sides call Streamlit's own
``image_to_url`` (no server running: it encodes and returns without storing). Grid: 2 detectors
× 3 CAM methods + detections, 3 references, on the sample set's first image at 1024×768; median
of 7 reruns, ABBA order. Also prints the bytes sent per rerun (full-size arrays encoded by
Streamlit vs the cached JPEGs).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from streamlit.elements.lib.image_utils import image_to_url
from streamlit.elements.lib.layout_utils import LayoutConfig
from streamlit.logger import set_log_level

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
set_log_level("error")  # no "No runtime found" warnings from the cached functions' module

from saliency_core import viz  # noqa: E402
from saliency_core.data.datasets import sample_dataset  # noqa: E402
from saliency_core.maps.cams import Detections  # noqa: E402
from ui.panels import MAX_WIDTH  # noqa: E402

REPEATS = 7
LAYOUT = LayoutConfig(width="stretch")


def scene(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray], Detections]:
    rng = np.random.default_rng(seed)
    height, width = 768, 1024
    y, x = np.mgrid[0:height, 0:width]
    photo = sample_dataset().load(sample_dataset().ids[0]).image
    image = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    maps = []
    for _ in range(9):  # 6 CAMs + 3 references
        cy, cx = rng.uniform(0.2, 0.8, 2) * (height, width)
        maps.append(np.exp(-(((y - cy) / 150) ** 2 + ((x - cx) / 200) ** 2)).astype(np.float32))
    boxes = rng.uniform(0, 700, (12, 2)).astype(np.float32)
    boxes = np.concatenate([boxes, boxes + 120], axis=1)
    detections = Detections(
        boxes, rng.uniform(0.3, 1, 12).astype(np.float32), np.ones(12), ["x"] * 12
    )
    return image, maps, detections


def paint_all(image, maps, detections) -> list[np.ndarray]:
    pictures = [viz.draw_detections(image, detections.above(0.5)) for _ in range(2)]
    return pictures + [viz.overlay(image, values) for values in maps]


def rerun_before(image, maps, detections) -> None:
    for picture in paint_all(image, maps, detections):
        image_to_url(picture, LAYOUT, False, "RGB", "auto", "panel")


def rerun_after(encoded: list[bytes]) -> None:
    for data in encoded:
        image_to_url(data, LAYOUT, False, "RGB", "auto", "panel")


def main() -> None:
    image, maps, detections = scene()
    pictures = paint_all(image, maps, detections)
    encoded = [viz.jpeg_bytes(p, MAX_WIDTH) for p in pictures]
    # what Streamlit sends for an array: JPEG at PIL's default quality 75, full size
    sent_before = sum(len(viz.jpeg_bytes(p, quality=75)) for p in pictures)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for k in range(REPEATS):
        for side in ("before", "after") if k % 2 == 0 else ("after", "before"):
            start = time.perf_counter()
            if side == "before":
                rerun_before(image, maps, detections)
            else:
                rerun_after(encoded)
            times[side].append(time.perf_counter() - start)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"panels=11 image=1024x768 repeats={REPEATS} (medians)")
    rows = {
        "before: repaint, Streamlit encodes arrays": (b, sent_before),
        "after:  cached JPEG bytes passed through": (a, sum(map(len, encoded))),
    }
    for name, (seconds, sent) in rows.items():
        print(f"{name:44s} {1000 * seconds:8.1f} ms {sent / 1e6:6.2f} MB")
    print(f"RESULT panel_rerun_speedup={b / a:.1f}")


if __name__ == "__main__":
    main()
