"""A training run's folder: what is written there, atomically, and how a rerun resumes. Both
training commands use it (``saliency train`` writes every file below; ``saliency readout`` the
manifest, ``checkpoint_last.pt``, ``train_log.parquet`` and its own ``val_log.csv`` and
``readout.pt``): a run's identity is its dataset and any settings object with ``to_dict()``.

    settings.toml          the run's TrainSettings
    manifest.json          identity (dataset, settings), versions, device, data summary, seconds
    checkpoint_last.pt     model, optimizer, scheduler, scaler, RNG states, position (epoch, step)
    checkpoint_best.pt     the same at the epoch of the best validation mAP
    model_final.pt         the final weights as a plain state dict (``--weights file`` loads it)
    classes.txt            the dataset's classes, one a line, background excluded
    train_log.parquet      one row per step: epoch, step, loss and its parts, lr, images/s, waits
    val_map.csv            one row per epoch: mAP, mAP@.5, mAP@.75, per-class AP

Checkpoints hold only tensors and plain values, so ``torch.load(weights_only=True)`` reads them
(and the registry's ``file`` source reads a checkpoint's ``model`` entry).
"""

from __future__ import annotations

import io
import json
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
import torchvision

from saliency_core.data import runs
from saliency_core.data.atomic import write_atomically, write_bytes_atomic
from saliency_core.train.recipe import TrainSettings, write_settings

SETTINGS = "settings.toml"
MANIFEST = "manifest.json"
LAST = "checkpoint_last.pt"
BEST = "checkpoint_best.pt"
FINAL = "model_final.pt"
CLASSES = "classes.txt"
LOG = "train_log.parquet"
VALIDATION = "val_map.csv"
NOT_IDENTITY = ("workers",)
"""Settings that do not change a run's result (each sample has its own seeded generator)."""


class RunRefused(ValueError):
    """The folder holds another run (or overlaps the dataset); the message says what to do."""


class RunSettings(Protocol):
    """What decides a run's result: TrainSettings, ReadoutTraining, …"""

    def to_dict(self) -> dict[str, Any]: ...


def identity(settings: RunSettings, dataset_root: Path) -> dict[str, Any]:
    """What must match for a rerun to resume: the dataset folder and the settings that decide
    the result."""
    values = {k: v for k, v in settings.to_dict().items() if k not in NOT_IDENTITY}
    return {"dataset": str(Path(dataset_root).resolve()), "settings": values}


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings spread out by dotted name (``recipe.kind``)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        elif key not in NOT_IDENTITY:
            flat[f"{prefix}{key}"] = value
    return flat


def spread(record: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded identity with its settings spread out by name (so a refusal names them)."""
    settings = record.get("settings")
    spread = _flat(settings) if isinstance(settings, Mapping) else {"settings": settings}
    return {"dataset": record.get("dataset"), **spread}


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }


@dataclass(frozen=True)
class RunFolder:
    root: Path

    def path(self, name: str) -> Path:
        return self.root / name

    def check(self, settings: RunSettings, dataset_root: Path) -> None:
        """Refuse a folder overlapping the dataset, or holding a run of other settings."""
        refusal = runs.overlap_refusal(Path(dataset_root), self.root) or runs.resume_refusal(
            self.path(MANIFEST), identity(settings, dataset_root), spread
        )
        if refusal:
            raise RunRefused(refusal.replace("--out", "The run folder", 1))

    def write_settings(self, settings: TrainSettings) -> None:
        write_settings(settings, self.path(SETTINGS))

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(manifest, indent=2, default=str, allow_nan=False) + "\n"
        write_bytes_atomic(self.path(MANIFEST), text.encode())

    def save(self, name: str, state: Mapping[str, Any]) -> None:
        """``torch.save`` to ``name``, atomically."""
        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        write_bytes_atomic(self.path(name), buffer.getvalue())

    def load_last(self) -> dict[str, Any] | None:
        """The last checkpoint (tensors and plain values only), or None before the first."""
        path = self.path(LAST)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable checkpoint
            raise RunRefused(
                f"{path} cannot be read ({error.__class__.__name__}); delete it to start over."
            ) from error

    def write_final(self, model_state: Mapping[str, torch.Tensor], classes: tuple[str, ...]):
        self.save(FINAL, model_state)
        write_bytes_atomic(self.path(CLASSES), "".join(f"{c}\n" for c in classes).encode())

    def write_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """``rows`` as Parquet or CSV (by ``name``'s suffix), atomically."""
        frame = pd.DataFrame(rows)
        if name.endswith(".parquet"):
            write_atomically(self.path(name), lambda tmp: frame.to_parquet(tmp, index=False))
        else:
            write_atomically(self.path(name), lambda tmp: frame.to_csv(tmp, index=False))

    def read_table(self, name: str) -> list[dict[str, Any]]:
        path = self.path(name)
        if not path.is_file():
            return []
        frame = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        return frame.to_dict("records")


def accuracy_row(epoch: int, accuracy) -> dict[str, Any]:
    """One ``val_map.csv`` row from a DetectionAccuracy (per-class AP as ``ap/<class>`` and
    ``ap50/<class>`` columns)."""
    row = {
        "epoch": epoch,
        "map": accuracy.map,
        "map_50": accuracy.map_50,
        "map_75": accuracy.map_75,
        "images": accuracy.images,
    }
    row |= {f"ap/{name}": value for name, value in accuracy.per_class.items()}
    row |= {f"ap50/{name}": value for name, value in accuracy.per_class_50.items()}
    return row


def better(value: float, best: float | None) -> bool:
    """Whether a validation mAP beats the best so far (NaN never does)."""
    return not math.isnan(value) and (best is None or value > best)
