"""The path from a detector's name to its model call stays short (issue 15's measure).

Measured on the library's own map functions: ``pipeline.compute_bundle`` → ``_add_cam`` →
``direct_cam`` → ``maps.detector_maps.compute_cam`` → ``compute_cams`` → ``guard_memory`` (and its
callable) → ``maps.cams.run_cams`` → the model: 8 calls through 3 modules, the value changing
form 4 times (str → ModelChoice → CamStep → CamResult → MapEntry). The app adds its cache
(``ui.cached``: 2 calls) and the background job that calls ``compute_bundle``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import FCOS

from saliency_core import pipeline
from saliency_core.data.images import Sample
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings

PACKAGE = Path(pipeline.__file__).parent


def test_a_detector_name_reaches_its_model_in_eight_calls_through_three_modules():
    frames: list[tuple[str, str]] = []

    def record(module: torch.nn.Module, _inputs) -> None:
        if isinstance(module, FCOS) and not frames:
            for info in reversed(inspect.stack()):
                path = Path(info.filename)
                if path.is_relative_to(PACKAGE):
                    frames.append((path.relative_to(PACKAGE).as_posix(), info.function))

    rgb = (np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8)
    settings = Settings(
        detectors=("FCOS R50-FPN",),
        weights=WeightSource.UNTRAINED,
        input_size=64,
        cams=("EigenCAM",),
        type2=(),
        references=(),
    )
    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        bundle = pipeline.compute_bundle(Sample("x", rgb, "upload"), settings)
    finally:
        handle.remove()
    assert frames[0] == ("pipeline.py", "compute_bundle")
    assert frames[-1] == ("maps/cams.py", "run_cams")
    assert len(frames) == 8, frames
    assert {module for module, _ in frames} == {
        "pipeline.py",
        "maps/detector_maps.py",
        "maps/cams.py",
    }
    entry = next(iter(bundle.maps.values()))
    assert entry.model_label == "FCOS R50-FPN (UNTRAINED)"
