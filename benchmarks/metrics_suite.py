"""Time the whole metric suite (metrics.compute_all) on one 512×512 map with 500 fixations.

Inputs: float32 maps as the app makes them (a smooth saliency map, a reference map, a centre-bias
baseline), 500 fixations, and 1,000 fixations of "other images" for sAUC (the MIT benchmark pools
~10 other images). Prints per-metric medians, then the suite's median over RUNS runs after one
warm-up; the last line is ``RESULT metric_suite_ms=<median>``. Budget: ≤ 50 ms.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE = 512
N_FIXATIONS = 500
N_OTHER_FIXATIONS = 1000
RUNS = 30


def _blobs(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth float32 map: sum of n random Gaussian blobs."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    for cx, cy, sigma in zip(*rng.uniform([0, 0, 10], [SIZE, SIZE, 60], (n, 3)).T, strict=True):
        out += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    return out


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def suite_inputs() -> tuple[np.ndarray, dict]:
    """One 512² saliency map and the suite's other inputs (reference, fixations, baseline)."""
    rng = np.random.default_rng(0)
    saliency, reference = _blobs(rng, 8), _blobs(rng, 8)
    centre = np.float32(SIZE / 2)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    baseline = np.exp(-((x - centre) ** 2 + (y - centre) ** 2) / (2 * (SIZE / 4) ** 2))
    fixations = rng.normal(SIZE / 2, SIZE / 6, (N_FIXATIONS, 2))
    others = rng.normal(SIZE / 2, SIZE / 6, (N_OTHER_FIXATIONS, 2))
    inputs = dict(
        reference=reference, fixations=fixations, other_fixations=others, baseline=baseline
    )
    return saliency, inputs


def suite_ms(runs: int = RUNS) -> float:
    """Median time (ms) of ``metrics.compute_all`` over the whole suite; checks every value."""
    from saliency_core.scoring import metrics

    saliency, inputs = suite_inputs()
    values = metrics.compute_all(saliency, **inputs, rng=0)
    assert len(values) == len(metrics.METRICS)
    assert all(value.reason is None for value in values.values()), values
    return _median_ms(lambda: metrics.compute_all(saliency, **inputs, rng=0), runs)


def main() -> None:
    from saliency_core.scoring import metrics

    saliency, inputs = suite_inputs()
    print(f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}")
    print(
        f"{SIZE}x{SIZE} float32 maps, {N_FIXATIONS} fixations, {N_OTHER_FIXATIONS} other fixations"
    )
    for name in metrics.METRICS:
        ms = _median_ms(lambda name=name: metrics.compute(name, saliency, **inputs, rng=0), RUNS)
        print(f"  {name:<11} {ms:6.2f} ms")
    suite = suite_ms()
    print(f"compute_all, median of {RUNS} runs: {suite:.1f} ms")
    print(f"RESULT metric_suite_ms={suite:.1f}")


if __name__ == "__main__":
    main()
