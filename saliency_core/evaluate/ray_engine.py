"""Scale-out on Ray: the engine's per-image work (maps, then :func:`engine.score`) on actors.

Each actor is one model replica: it builds the detectors and DeepGaze once (its process's model
cache) and keeps its own type-2 disk cache; one actor per GPU when the cluster has GPUs, else one
per CPU (with one torch thread each). Actors get images in batches (``Options.batch_size``, else
8 per GPU actor and 1 per CPU actor), whose detector and DeepGaze IIE passes run together as in
the local engine (:class:`engine.BatchMaps`). The driver writes every result as the local
engine does, so the table is the same. Ray is optional: ``pip install -r requirements-ray.txt``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

from saliency_core.data.datasets import Dataset
from saliency_core.evaluate.batching import GPU_BATCH
from saliency_core.evaluate.engine import ImageResult, Options, Timings
from saliency_core.models.extras import require
from saliency_core.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UPLOAD_EXCLUDES = [".venv", ".git", "tests", "benchmarks", "assets/screenshots", "*.parquet"]


def _ray():
    return require("ray", "requirements-ray.txt", "The Ray engine (--engine ray)")


class _Worker:
    """Holds the models (built on first use, then reused for every image it gets)."""

    def __init__(self, root: str, name: str, settings: dict, options: dict, threads: int) -> None:
        import torch

        from saliency_core.evaluate.engine import BatchMaps
        from saliency_core.models.cache import MODELS
        from saliency_core.pipeline import models_needed

        if threads:
            torch.set_num_threads(threads)
        self.dataset = Dataset(name, Path(root))
        self.settings = Settings.from_dict(settings)
        # This process serves the run alone: room for every model it uses, for good.
        MODELS.capacity = max(MODELS.capacity, models_needed(self.settings))
        self.options = Options(**options)
        self.maps = BatchMaps()

    def evaluate(self, stems: list[str]) -> list[ImageResult | tuple[str, str]]:
        """A batch of images (:meth:`engine.BatchMaps.bundles`), each then scored; an image that
        fails is reported and the others go on. The batch's own passes are counted with its
        first image's timings."""
        from saliency_core.evaluate import engine

        batch = Timings()
        loaders = [(stem, partial(self.dataset.load, stem)) for stem in stems]
        results: list[ImageResult | tuple[str, str]] = []
        for item in self.maps.bundles(loaders, self.settings, batch):
            if not isinstance(item, engine.Computed):
                results.append(item)
                continue
            try:
                results.append(engine.score(item, self.options))
            except Exception as error:  # noqa: BLE001 - one bad image must not end the run
                results.append(engine.failure(item.stem, error))
        for index, result in enumerate(results):
            if isinstance(result, ImageResult):
                batch.add(result.seconds)
                results[index] = replace(result, seconds=batch.stages)
                break
        return results


def _runtime_env(address: str | None) -> dict:
    """A local Ray imports this checkout; a cluster gets it uploaded as the working dir."""
    if address is None:
        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        return {"env_vars": {"PYTHONPATH": path}}
    return {"working_dir": str(PROJECT_ROOT), "excludes": UPLOAD_EXCLUDES}


def ray_executor(address: str | None = None, num_cpus: int | None = None) -> Callable:
    """An executor for :func:`engine.run` on Ray: a local Ray (started here, without the
    dashboard, and shut down afterwards) or the cluster at ``address``."""
    ray = _ray()

    def execute(
        stems: list[str], dataset: Dataset, settings: Settings, options: Options, timings: Timings
    ) -> Iterator[ImageResult | tuple[str, str]]:
        if not stems:
            return
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                runtime_env=_runtime_env(address),
                log_to_driver=False,
                configure_logging=False,
            )
        try:
            yield from _map(ray, stems, dataset, settings, options)
        finally:
            if started_here:
                ray.shutdown()

    return execute


def _map(ray, stems, dataset: Dataset, settings: Settings, options: Options):
    from ray.util import ActorPool

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    replicas = max(1, min(len(stems), gpus or int(resources.get("CPU", 1))))
    actor = ray.remote(num_gpus=1, num_cpus=0)(_Worker) if gpus else ray.remote(num_cpus=1)(_Worker)
    args = (
        str(dataset.root.resolve()),
        dataset.name,
        settings.to_dict(),
        {
            "metrics": options.metrics,
            "top_percents": options.top_percents,
            "finegrained": options.finegrained,
        },
        0 if gpus else 1,
    )
    size = options.batch_size or (GPU_BATCH if gpus else 1)
    batches = [stems[start : start + size] for start in range(0, len(stems), size)]
    pool = ActorPool([actor.remote(*args) for _ in range(min(replicas, len(batches)))])
    for results in pool.map_unordered(lambda worker, batch: worker.evaluate.remote(batch), batches):
        yield from results
