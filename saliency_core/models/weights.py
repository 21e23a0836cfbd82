"""Weight sources shared by every model registry (detectors, classifiers, DeepGaze IIE, ...).

- ``pretrained``: official weights in the torch hub cache (:class:`Checkpoint`: downloaded once
  with a progress callback, offline afterwards);
- ``file``: a local state-dict file loaded with ``torch.load(..., weights_only=True)``
  (:func:`weights_file`);
- ``untrained``: random initialisation, always available, always labelled "untrained".

Weights that cannot be had raise :class:`MissingWeightsError`, whose message says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import torch

from saliency_core.data import roots
from saliency_core.models.download import download_checkpoint


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


_UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\s+Please use|\n\n|$)", re.S)


def _why_unreadable(error: Exception) -> str:
    """A short reason for a failed ``torch.load(..., weights_only=True)``, without PyTorch's
    advice to retry with ``weights_only=False`` (that would run code from the file)."""
    text = str(error)
    if "weights_only" not in text:
        return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__
    match = _UNPICKLER_REASON.search(text)
    detail = match.group(1).strip() if match else "unsupported content"
    return f"it holds Python objects other than tensors, never loaded for safety: {detail}"


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a saved state dict (bare, or under a "state_dict" / "model" key).

    Only tensors are unpickled (``weights_only=True``); any other file is refused with
    "<file> is not a state dict this model accepts (<reason>)".
    """
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"Weights file not found: {path}")
    refused = f"{path.name} is not a state dict this model accepts"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise MissingWeightsError(f"{refused} ({_why_unreadable(error)})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise MissingWeightsError(f"{refused} (it holds a {type(obj).__name__}, not a dict)")
    if others := [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]:
        listed = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
        raise MissingWeightsError(f"{refused} (entries that are not tensors: {listed})")
    return obj


def weights_file(path: str | Path | None) -> Path:
    """The ``file`` weight source's path, which must be given and may be read
    (:func:`saliency_core.data.roots.check_read`: the app's folders, in the app)."""
    if path is None:
        raise MissingWeightsError("The 'file' weight source needs the path of a state-dict file.")
    try:
        return roots.check_read(path)  # resolved when confined: the file checked is the one read
    except roots.OutsideRootsError as error:
        raise MissingWeightsError(str(error)) from None


@dataclass(frozen=True)
class Checkpoint:
    """Official weights, kept in the torch hub cache under the name of their ``url``."""

    url: str
    what: str
    """What they are, to start the messages: "Pretrained COCO weights for FCOS R50-FPN"."""

    @property
    def name(self) -> str:
        return Path(self.url).name

    @property
    def path(self) -> Path:
        return hub_checkpoint_dir() / self.name

    def fetch(self, progress: Callable[[int, int], None] | None = None) -> Path:
        """The cached file, downloaded first when missing (``progress(bytes_done,
        bytes_total)`` while it downloads). Offline: :class:`MissingWeightsError` naming the
        file, where it comes from and the folder to put it in."""
        path = self.path
        if not path.is_file():
            try:
                download_checkpoint(self.url, path, progress=progress)
            except OSError as error:
                raise MissingWeightsError(
                    f"{self.what} are not available offline ({error.__class__.__name__}). "
                    f"Put the file `{self.name}` (from {self.url}) into `{path.parent}`, or "
                    "choose the 'file' or 'untrained' weight source."
                ) from error
        return path

    def load(self, progress: Callable[[int, int], None] | None = None) -> dict[str, torch.Tensor]:
        """The state dict of :meth:`fetch`'s file; a cached file that cannot be read says to
        delete it (the next use downloads it again)."""
        path = self.fetch(progress)
        try:
            return load_state_dict_file(path)
        except MissingWeightsError as error:
            raise MissingWeightsError(f"{error}; delete {path} to download it again.") from error


def display_label(source: WeightSource | str) -> str:
    """Short label shown next to every result; untrained models are always marked."""
    return {"pretrained": "pretrained", "file": "weights file", "untrained": "UNTRAINED"}[
        WeightSource(source).value
    ]


FINE_TUNED = "fine-tuned"
FINAL_WEIGHTS = "model_final.pt"
"""The final state dict of a training run folder (``saliency train``): its tag is the folder's
name."""


def finetuned_tags(paths: list[str]) -> list[str]:
    """A distinct tag per fine-tuned weights file: a training run's :data:`FINAL_WEIGHTS` is
    tagged by its folder ("erase-s0"), another file by folder and stem ("erase-s0/model_best");
    tags that would repeat take their parent folders in front until they are distinct
    ("exp1/erase-s0", "exp2/erase-s0")."""
    parts = []
    for path in paths:
        named = Path(path).with_suffix("").parts
        final = Path(path).name == FINAL_WEIGHTS and len(named) > 1
        parts.append(named[:-1] if final else named)
    depth = [1 if Path(path).name == FINAL_WEIGHTS else 2 for path in paths]
    while True:
        tags = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        rows = zip(tags, depth, parts, strict=True)
        grow = [tags.count(tag) > 1 and d < len(p) for tag, d, p in rows]
        if not any(grow):
            return tags
        depth = [d + g for d, g in zip(depth, grow, strict=True)]


class Labelled:
    """``label`` ("<name> (UNTRAINED)", "<name> (fine-tuned: <tag>)", …) and ``trained`` of a
    model with a ``name``, a weight ``source`` and an optional ``tag`` (a fine-tuned model's
    run): untrained models are marked wherever they are shown, and a fine-tuned model is never
    confused with the model it started from."""

    name: str
    source: WeightSource
    tag: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.weights_label})"

    @property
    def weights_label(self) -> str:
        """The weights as the label writes them: "pretrained", "UNTRAINED", "fine-tuned: <tag>"."""
        return f"{FINE_TUNED}: {self.tag}" if self.tag else display_label(self.source)

    @property
    def trained(self) -> bool:
        return self.source is not WeightSource.UNTRAINED

    @property
    def weights_name(self) -> str:
        """The weight source as the result tables write it: "pretrained", "weights file",
        "fine-tuned: <tag>" or "untrained"."""
        return self.weights_label if self.trained else "untrained"


@dataclass(frozen=True)
class ModelChoice(Labelled):
    """Which model (a registry name), with which weights, at which input size (None: the
    weights' own); ``tag`` names a fine-tuned weights file (its training run) in the label."""

    name: str
    source: WeightSource = WeightSource.UNTRAINED
    weights_path: str | None = None
    input_size: int | None = None
    tag: str | None = None


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """``model.load_state_dict(state, strict=True)``; a mismatch becomes a short
    :class:`MissingWeightsError` naming ``origin`` and the first differences."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = re.split(r"\n\s*", str(error))[:4]
        raise MissingWeightsError(
            f"{origin} does not match this architecture: " + " ".join(first)
        ) from error
