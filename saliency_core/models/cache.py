"""Compute backend: device choice and a process-wide model cache with one lock per model.

pytorch-grad-cam registers hooks on the model object, so two threads (two browser sessions)
must never run the same model at once: every cached model comes with its own lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import torch

from saliency_core.models.weights import ModelChoice, file_stamp

T = TypeVar("T")

MAX_MODELS_VARIABLE = "SALIENCY_MAX_MODELS"
DEFAULT_MAX_MODELS = 8
"""Models kept in memory when SALIENCY_MAX_MODELS is unset or invalid."""


def default_device() -> torch.device:
    """CUDA when present (and not disabled with SALIENCY_DEVICE=cpu), else CPU."""
    wanted = os.environ.get("SALIENCY_DEVICE", "").strip().lower()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA out-of-memory errors (and CPU allocation failures)."""
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def max_models_setting(value: str | None) -> tuple[int, str | None]:
    """(capacity, notice) from a SALIENCY_MAX_MODELS value: a whole number ≥ 1.

    Unset or blank gives DEFAULT_MAX_MODELS; an invalid value (``-1``, ``0``, ``abc``) also
    falls back to it, with a notice saying so, so that the app still starts.
    """
    if value is None or not value.strip():
        return DEFAULT_MAX_MODELS, None
    try:
        capacity = int(value.strip())
    except ValueError:
        capacity = 0
    if capacity >= 1:
        return capacity, None
    return DEFAULT_MAX_MODELS, (
        f"{MAX_MODELS_VARIABLE}={value!r} is not a whole number ≥ 1; "
        f"keeping the default of {DEFAULT_MAX_MODELS} models in memory."
    )


@dataclass
class Locked(Generic[T]):
    """A shared object and the lock that serialises its use."""

    value: T
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelCache:
    """Builds each model once per key and hands out the same `Locked` wrapper afterwards.

    Holds at most ``capacity`` models and drops the least recently used one beyond that (a
    caller still holding it keeps it alive until done): a laptop demo that tries every detector
    does not grow without bound. ``SALIENCY_MAX_MODELS`` sets the capacity (default 8); an
    invalid value falls back to the default and ``notice`` says so (see max_models_setting).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.notice: str | None = None
        if capacity is None:
            capacity, self.notice = max_models_setting(os.environ.get(MAX_MODELS_VARIABLE))
            if self.notice:
                logging.getLogger(__name__).warning(self.notice)
        elif capacity < 1:
            raise ValueError(f"A model cache holds at least 1 model, got capacity={capacity}.")
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, Locked] = OrderedDict()
        self._guard = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def _lookup(self, key: Hashable) -> Locked | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def get(self, key: Hashable, build: Callable[[], T]) -> Locked[T]:
        with self._guard:
            if (entry := self._lookup(key)) is not None:
                return entry
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._guard:
                if (entry := self._lookup(key)) is not None:
                    return entry
            entry = Locked(build())
            with self._guard:
                self._entries[key] = entry
                self._building.pop(key, None)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
            return entry

    @contextmanager
    def room_for(self, count: int) -> Iterator[None]:
        """Hold at least ``count`` models until the block ends (a dataset run uses every model
        for every image: with less room it would rebuild them one after another), then the
        usual capacity again, dropping the least recently used models beyond it."""
        with self._guard:
            before = self.capacity
            self.capacity = max(before, count)
        try:
            yield
        finally:
            with self._guard:
                self.capacity = before
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


MODELS = ModelCache()


def shared_model(
    kind: str,
    choice: ModelChoice,
    load: Callable[..., T],
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: ModelCache = MODELS,
) -> Locked[T]:
    """The shared, locked ``kind`` model for ``choice`` on ``device`` (default:
    :func:`default_device`), built on first use by ``load(name, source, weights_path,
    input_size=, device=, progress=)``; a weights file rewritten on disk is loaded again."""
    device = device or default_device()
    key = (kind, choice, str(device), file_stamp(choice.weights_path))
    return cache.get(
        key,
        lambda: load(
            choice.name,
            choice.source,
            choice.weights_path,
            input_size=choice.input_size,
            device=device,
            progress=progress,
        ),
    )
