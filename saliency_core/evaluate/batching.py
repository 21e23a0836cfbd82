"""Batched detector passes for the engine: the CAMs of several same-sized images from one
forward (and, for gradient methods, one backward) per (detector, method).

On a GPU one image leaves most of the device idle; a batch of B images fills it (the engine's
default: :data:`GPU_BATCH` on CUDA, 1 on CPU, where a batch only adds memory traffic). Each
image keeps its own target and gets the map and detections of its own pass
(``cams.run_cams``; equal to one image at a time within float tolerance). Images are grouped
by size (at the study's working size all are 512×512); perturbation methods and anything a
failed batch left out are computed one image at a time, where an error is reported per image.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from saliency_core import pipeline
from saliency_core.data.images import Sample
from saliency_core.maps.cams import CamResult, ExplainedDetections, batchable
from saliency_core.maps.detector_maps import compute_cams
from saliency_core.models.cache import default_device
from saliency_core.models.weights import ModelChoice
from saliency_core.settings import Settings

GPU_BATCH = 8
"""Images per detector pass on CUDA (about 1 GiB of activations per 512² image for the
ResNet-50 FPN detectors' gradient methods)."""

Key = tuple[str, ModelChoice, str, str, float, ExplainedDetections]


def default_batch_size(device: torch.device | None = None) -> int:
    """:data:`GPU_BATCH` on CUDA, else 1."""
    return GPU_BATCH if (device or default_device()).type == "cuda" else 1


@dataclass
class BatchedCams:
    """A ``MapFunctions.cam`` that serves the CAMs :meth:`compute` made for a batch of
    samples (each result served once); any other call is computed directly."""

    results: dict[Key, CamResult] = field(default_factory=dict)

    def compute(self, samples: Sequence[Sample], settings: Settings) -> None:
        """Every batchable CAM job of ``settings`` over ``samples`` (already at the working
        size), one pass per (job, group of same-sized samples)."""
        groups: dict[tuple[int, ...], list[Sample]] = defaultdict(list)
        for sample in samples:
            groups[sample.image.shape].append(sample)
        jobs, _ = pipeline.cam_steps(settings)
        for job in jobs:
            if not batchable(job.method):
                continue
            score = job.target_score(settings.score_threshold)
            explain = job.explain(settings)
            for group in groups.values():
                if len(group) < 2:
                    continue
                try:
                    results = compute_cams(
                        [sample.image for sample in group],
                        job.choice,
                        job.method,
                        job.layer,
                        score,
                        explain=explain,
                    )
                except Exception:  # noqa: BLE001 - each image retries alone and reports its error
                    continue
                for sample, result in zip(group, results, strict=True):
                    key = (sample.id, job.choice, job.method, job.layer, score, explain)
                    self.results[key] = result

    def __call__(
        self,
        sample: Sample,
        choice: ModelChoice,
        method: str,
        layer: str,
        score: float,
        explain: ExplainedDetections | None = None,
    ) -> CamResult:
        explain = explain or ExplainedDetections()
        result = self.results.pop((sample.id, choice, method, layer, score, explain), None)
        return result or pipeline.direct_cam(sample, choice, method, layer, score, explain)
