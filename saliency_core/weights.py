"""Weight sources shared by every model registry (detectors, DeepGaze IIE, ...).

- ``pretrained``: official weights through torchvision's weights API / the torch hub cache
  (downloaded once with a progress bar, offline afterwards);
- ``file``: a local state-dict file loaded with ``torch.load(..., weights_only=True)``;
- ``untrained``: random initialisation, always available, always labelled "untrained".
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import torch


class WeightSource(StrEnum):
    PRETRAINED = "pretrained"
    FILE = "file"
    UNTRAINED = "untrained"


class MissingWeightsError(RuntimeError):
    """Weights that cannot be had (offline, missing file). The message says what to do."""


class MissingPackageError(MissingWeightsError):
    """An optional package a model needs is not installed. The message gives the pip command."""


def hub_checkpoint_dir() -> Path:
    """Where torch hub keeps downloaded checkpoints (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def file_stamp(path: str | Path | None) -> tuple[str, int, int] | None:
    """(resolved path, mtime in ns, size) of a weights file, or None: a cache key that changes
    when a new checkpoint is saved over the same path."""
    if not path:
        return None
    try:
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat()
    except OSError:
        return None
    return str(resolved), stat.st_mtime_ns, stat.st_size


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a saved state dict (bare, or under a "state_dict" / "model" key)."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"Weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise MissingWeightsError(
            f"{path.name} is not a readable PyTorch state dict ({error})"
        ) from error
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MissingWeightsError(f"{path.name} does not hold a state dict of tensors")
    return obj


def display_label(source: WeightSource | str) -> str:
    """Short label shown next to every result; untrained models are always marked."""
    return {"pretrained": "pretrained", "file": "weights file", "untrained": "UNTRAINED"}[
        WeightSource(source).value
    ]
