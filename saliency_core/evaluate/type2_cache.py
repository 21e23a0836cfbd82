"""Type-2 maps cached on disk, keyed by (image hash, model, weights, weights-file stamp, input
range; a readout's file stamp): a rerun, or a run with other detectors, reuses every DeepGaze
IIE map it has computed.
The engine fills it a batch of images at a time (:meth:`DiskType2Cache.compute`: one forward
per model for same-sized images) before asking for each image's maps.

The cache lives in ``$SALIENCY_CACHE_DIR/type2`` (default ``~/.cache/saliency_explorer/type2``).
Each entry is one ``.npz`` (the float32 log density, its label and notes), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from saliency_core.data.atomic import write_atomically
from saliency_core.data.images import Sample
from saliency_core.models.gaze import TYPE2_MODELS
from saliency_core.models.gaze.maps import Type2Map, type2_map
from saliency_core.models.weights import file_stamp
from saliency_core.pipeline import Type2Step, direct_type2, direct_type2s, type2_steps
from saliency_core.settings import Settings

CACHE_VARIABLE = "SALIENCY_CACHE_DIR"


def cache_dir() -> Path:
    root = os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "saliency_explorer"
    return Path(root).expanduser() / "type2"


def entry_key(sample: Sample, job: Type2Step) -> str:
    """A file name naming the image content, the model and everything its weights depend on."""
    parts = [
        sample.key,
        job.model,
        job.source.value,
        json.dumps(file_stamp(job.weights_file)),
        str(job.study_input_range),
        str(job.max_side),
    ]
    stamp = TYPE2_MODELS[job.model].stamp()
    if stamp is not None:  # a readout's file: retrained into the same path, its maps change
        parts.append(json.dumps(stamp))
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:24]


class DiskType2Cache:
    """A :class:`~saliency_core.pipeline.MapFunctions` ``type2`` function with a disk cache.

    ``hits`` and ``misses`` count the maps read from disk and those computed.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._fresh: dict[Path, Type2Map] = {}
        self.hits = 0
        self.misses = 0

    @property
    def root(self) -> Path:
        """The given folder, else :func:`cache_dir` at the time of the lookup."""
        return self._root or cache_dir()

    def _path(self, sample: Sample, job: Type2Step) -> Path:
        return self.root / f"{entry_key(sample, job)}.npz"

    def compute(self, samples: Sequence[Sample], settings: Settings) -> None:
        """Every type-2 map of ``settings`` that ``samples`` lack on disk, in one batch per
        model, stored and kept for the next lookup of each. A failed batch is left to the
        per-image lookups, which report their own errors."""
        self._fresh.clear()  # the previous batch's: served, or left by an image that failed
        for job in type2_steps(settings):
            missing = [sample for sample in samples if not self._path(sample, job).is_file()]
            if len(missing) < 2:
                continue
            try:
                maps = direct_type2s(missing, job)
            except Exception:  # noqa: BLE001 - each image retries alone and reports its error
                continue
            for sample, predicted in zip(missing, maps, strict=True):
                path = self._path(sample, job)
                self._store(path, predicted)
                self._fresh[path] = predicted

    def __call__(self, sample: Sample, job: Type2Step) -> Type2Map:
        path = self._path(sample, job)
        if (fresh := self._fresh.pop(path, None)) is not None:
            return fresh
        if path.is_file():
            try:
                with np.load(path) as stored:
                    meta = json.loads(str(stored["meta"]))
                    predicted = type2_map(
                        stored["log_density"], meta["label"], meta["notes"], meta["trained"]
                    )
                self.hits += 1
                return predicted
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # a damaged entry is recomputed
        predicted = direct_type2(sample, job)
        self._store(path, predicted)
        return predicted

    def _store(self, path: Path, predicted: Type2Map) -> None:
        self.misses += 1
        meta = json.dumps(
            {"label": predicted.label, "notes": predicted.notes, "trained": predicted.trained}
        )

        def save(temporary: Path) -> None:
            with temporary.open("wb") as handle:
                np.savez(handle, log_density=predicted.log_density, meta=np.array(meta))

        write_atomically(path, save)
