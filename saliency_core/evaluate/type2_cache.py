"""Type-2 maps cached on disk, keyed by (image hash, model, weights, weights-file stamp, input
range): a rerun, or a run with other detectors, reuses every DeepGaze IIE map it has computed.

The cache lives in ``$SALIENCY_CACHE_DIR/type2`` (default ``~/.cache/saliency_explorer/type2``).
Each entry is one ``.npz`` (the float32 log density, its label and notes), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from saliency_core.analysis import Type2Job, direct_type2
from saliency_core.atomic import write_atomically
from saliency_core.gaze.maps import Type2Map, type2_map
from saliency_core.images import Sample
from saliency_core.weights import file_stamp

CACHE_VARIABLE = "SALIENCY_CACHE_DIR"


def cache_dir() -> Path:
    root = os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "saliency_explorer"
    return Path(root).expanduser() / "type2"


def entry_key(sample: Sample, job: Type2Job) -> str:
    """A file name naming the image content, the model and everything its weights depend on."""
    parts = [
        sample.key,
        job.model,
        job.source.value,
        json.dumps(file_stamp(job.weights_file)),
        str(job.study_input_range),
        str(job.max_side),
    ]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:24]


class DiskType2Cache:
    """A :class:`~saliency_core.analysis.MapFunctions` ``type2`` function with a disk cache.

    ``hits`` and ``misses`` count lookups (the engine's manifest reports them).
    """

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self.hits = 0
        self.misses = 0

    @property
    def root(self) -> Path:
        """The given folder, else :func:`cache_dir` at the time of the lookup."""
        return self._root or cache_dir()

    def __call__(self, sample: Sample, job: Type2Job) -> Type2Map:
        path = self.root / f"{entry_key(sample, job)}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    meta = json.loads(str(stored["meta"]))
                    predicted = type2_map(stored["log_density"], meta["label"], meta["notes"])
                self.hits += 1
                return predicted
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # a damaged entry is recomputed
        self.misses += 1
        predicted = direct_type2(sample, job)
        meta = json.dumps({"label": predicted.label, "notes": predicted.notes})

        def save(temporary: Path) -> None:
            with temporary.open("wb") as handle:
                np.savez(handle, log_density=predicted.log_density, meta=np.array(meta))

        write_atomically(path, save)
        return predicted
