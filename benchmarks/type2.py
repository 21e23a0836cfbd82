"""DeepGaze IIE: bare model forward vs. the ``predict_type2`` wrapper, at 512×512.

Bare: ``model(image, centerbias)`` under ``torch.no_grad`` on tensors already on the device.
Wrapper: ``predict_type2("DeepGaze IIE", rgb)`` end to end (uint8 image in, Type2Map out: centre
bias, tensor conversion, forward, normalisation, display map). Runs alternate, after warm-up;
the medians and their ratio are printed. Target: ratio ≤ 1.05.

Usage: ``python benchmarks/type2.py [--runs 7] [--size 512]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from _timing import timed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from metrics_suite import suite_ms  # noqa: E402 - benchmarks/ is this script's folder

from saliency_core.models.cache import default_device  # noqa: E402
from saliency_core.models.gaze import predict_type2  # noqa: E402
from saliency_core.models.gaze.centerbias import centre_bias  # noqa: E402
from saliency_core.models.gaze.deepgaze import CHECKPOINT_NAME, build_deepgaze  # noqa: E402
from saliency_core.models.weights import WeightSource, hub_checkpoint_dir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (≥ 5)")
    parser.add_argument("--size", type=int, default=512, help="image side in px")
    args = parser.parse_args()

    has_weights = (hub_checkpoint_dir() / CHECKPOINT_NAME).is_file()
    source = WeightSource.PRETRAINED if has_weights else WeightSource.UNTRAINED
    device = default_device()
    print(f"weights: {source.value} ({'found' if has_weights else 'not found'}: {CHECKPOINT_NAME})")
    print(f"device: {device}, torch {torch.__version__}, CPU threads {torch.get_num_threads()}")

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    model = build_deepgaze(source).to(device)
    image = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float()[None].to(device)
    bias = torch.from_numpy(np.array(centre_bias(rgb.shape[:2]).log_density))[None].to(device)

    def bare() -> None:
        with torch.no_grad():
            model(image, bias)

    def wrapper() -> None:
        predict_type2("DeepGaze IIE", rgb, source=source, device=device)

    for _ in range(2):  # warm-up (and the wrapper's one-off model build)
        bare()
        wrapper()
    bare_times, wrapper_times = [], []
    for _ in range(max(5, args.runs)):
        bare_times.append(timed(bare))
        wrapper_times.append(timed(wrapper))

    bare_median = statistics.median(bare_times)
    wrapper_median = statistics.median(wrapper_times)
    ratio = wrapper_median / bare_median
    print(f"input: {args.size}×{args.size} px, {len(bare_times)} timed runs each (alternating)")
    print(f"bare forward (no_grad):      median {bare_median * 1000:8.1f} ms")
    print(f"predict_type2 end to end:    median {wrapper_median * 1000:8.1f} ms")
    print(f"ratio wrapper / bare: {ratio:.3f} (target ≤ 1.05)")
    print(f"metric suite (10 metrics, 512² map, 500 fixations): {suite_ms():.1f} ms (≤ 50 ms)")
    print(f"RESULT deepgaze_wrapper_overhead={ratio:.3f}")


if __name__ == "__main__":
    main()
