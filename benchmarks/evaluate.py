"""Dataset engine speed, side by side on the same images, device and settings.

(a) images/s of ``saliency_core.evaluate.engine.run`` over a study-style loop (the study's
    notebooks: for each detector, the model is loaded again, every image gets a detection pass and
    a separate CAM pass, and DeepGaze IIE is recomputed per detector; one image at a time) —
    target ≥ 2×;
(b) the engine's time over the floor: the sum of each model's bare forward pass once per image
    (each detector's detection forward and one DeepGaze IIE forward; the faster of two
    measurements, first and last) — target ≤ 1.15.

Both score the same maps against the same references (MAE and top-10% IoU vs. DeepGaze). The
default detectors are the seven of the study's Tables 2–4 (YOLOv5u standing in for the study's
YOLOv5; DETR and YOLO need their optional requirements); ``--detectors`` picks others, e.g. the
two of the published notebooks. The loop's cost over the floor bounds (a): with k detectors
sharing one DeepGaze map the loop does about 2·Σdetectors + k·DeepGaze against the floor's
Σdetectors + DeepGaze, so for k = 2 it is ≈ 2× the floor and (a) ≥ 2× would ask the engine to
beat the bare forwards; the script prints that bound. Run:
``.venv/bin/python benchmarks/evaluate.py [--images 6] [--detectors NAME ...]``.
Last line: ``RESULT engine_speedup=<(a)>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch
from _timing import timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saliency_core.data.datasets import sample_dataset  # noqa: E402
from saliency_core.evaluate import engine  # noqa: E402
from saliency_core.evaluate.batching import default_batch_size  # noqa: E402
from saliency_core.maps.cams import detect, run_cam  # noqa: E402
from saliency_core.models.cache import MODELS, default_device  # noqa: E402
from saliency_core.models.detectors import DETECTORS, load_detector  # noqa: E402
from saliency_core.models.gaze import predict_type2  # noqa: E402
from saliency_core.scoring import metrics  # noqa: E402
from saliency_core.settings import Settings  # noqa: E402

SIZE = 512
STUDY_TABLES = (
    "Faster R-CNN R50-FPN",
    "SSD300 VGG16",
    "RetinaNet R50-FPN",
    "Mask R-CNN R50-FPN",
    "FCOS R50-FPN",
    "YOLOv5u n",
    "DETR R50",
)
"""The study's Tables 2–4: seven detectors' EigenCAM maps against DeepGaze IIE."""


def study_loop(samples, detectors) -> float:
    """The notebooks' order of work; returns seconds."""

    def work() -> None:
        for name in detectors:
            detector = load_detector(name, "untrained", device=default_device())
            for sample in samples:
                detect(detector, sample.image)  # the detection pass (boxes for the targets)
                cam = run_cam(detector, sample.image, "EigenCAM").cam  # a separate CAM pass
                reference = predict_type2("DeepGaze IIE", sample.image).display
                metrics.mae(cam, reference)
                metrics.top_percent_iou(cam, reference, 10)

    return timed(work)


def floor(samples, detectors) -> float:
    """Each model's bare forward pass once per image (models already loaded); seconds."""
    loaded = [load_detector(name, "untrained", device=default_device()) for name in detectors]
    for detector in loaded:
        detect(detector, samples[0].image)  # warm-up
    predict_type2("DeepGaze IIE", samples[0].image)

    def work() -> None:
        for sample in samples:
            for detector in loaded:
                detect(detector, sample.image)
            predict_type2("DeepGaze IIE", sample.image)

    return timed(work)


def engine_run(dataset, settings: Settings, limit: int, batch_size: int) -> tuple[float, float]:
    """(total seconds, of which model loading) of a fresh run (empty type-2 cache)."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["SALIENCY_CACHE_DIR"] = str(Path(folder) / "cache")
        MODELS.clear()
        options = engine.Options(
            metrics=("MAE", "IoU"), limit=limit, finegrained=False, batch_size=batch_size
        )
        reports = []
        seconds = timed(
            lambda: reports.append(engine.run(dataset, settings, Path(folder) / "out", options))
        )
        [report] = reports
        assert not report.errors, report.errors
        stages = ", ".join(f"{name} {spent:.2f}" for name, spent in report.timings.items())
        print(f"engine, batch {batch_size}: stages (s; scoring overlaps the models): {stages}")
        return seconds, report.timings["model loading"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--detectors", nargs="+", default=list(STUDY_TABLES))
    parser.add_argument(
        "--batch-size", type=int, help="engine images per detector pass (default: the engine's)"
    )
    args = parser.parse_args()
    missing = [DETECTORS[name].unavailable_reason for name in args.detectors]
    if any(missing):
        sys.exit("; ".join(filter(None, missing)))
    dataset = sample_dataset()
    settings = Settings(
        detectors=tuple(args.detectors),
        cams=("EigenCAM",),
        type2=(),
        references=("deepgaze",),
        working_size=SIZE,
    )
    samples = [dataset.load(stem).resized((SIZE, SIZE)) for stem in dataset.ids[: args.images]]
    bare = floor(samples, args.detectors)  # first: its untimed warm-up serves all three
    batch = args.batch_size or default_batch_size()
    ours, loading = engine_run(dataset, settings, args.images, batch)
    runs = [(f"engine (local, batch {batch})", ours)]
    if batch > 1:  # the batching's own gain, side by side
        runs.append(("engine (local, batch 1)", engine_run(dataset, settings, args.images, 1)[0]))
    study = study_loop(samples, args.detectors)
    bare = min(bare, floor(samples, args.detectors))  # measured first and last: the faster one
    n = len(samples)
    print(
        f"device={default_device()} "
        f"threads={torch.get_num_threads()} "
        f"images={n} at {SIZE}x{SIZE} detectors={', '.join(args.detectors)} EigenCAM "
        "vs DeepGaze IIE, untrained weights"
    )
    print(f"{'':34}{'seconds':>9}{'images/s':>10}")
    for label, seconds in (
        ("study-style loop", study),
        *runs,
        ("floor: bare forwards only", bare),
    ):
        print(f"{label:34}{seconds:9.2f}{n / seconds:10.3f}")
    print(
        f"engine / floor = {(ours - loading) / bare:.3f} (target ≤ 1.15; the engine's "
        f"{loading:.2f} s of model loading left out, as the floor loads its models untimed)"
    )
    print(
        f"study-style loop / floor = {study / bare:.3f}: (a) ≥ 2× needs the engine within "
        f"{study / bare / 2:.3f}× the floor, model loading included"
    )
    print(f"RESULT engine_speedup={study / ours:.2f}")


if __name__ == "__main__":
    main()
