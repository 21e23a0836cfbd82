"""Compute backend: device choice and a process-wide model cache with one lock per model.

pytorch-grad-cam registers hooks on the model object, so two threads (two browser sessions)
must never run the same model at once: every cached model comes with its own lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import torch

T = TypeVar("T")


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


@dataclass
class Locked(Generic[T]):
    """A shared object and the lock that serialises its use."""

    value: T
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelCache:
    """Builds each model once per key and hands out the same `Locked` wrapper afterwards."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, Locked] = {}
        self._guard = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], T]) -> Locked[T]:
        with self._guard:
            if key in self._entries:
                return self._entries[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._guard:
                if key in self._entries:
                    return self._entries[key]
            entry = Locked(build())
            with self._guard:
                self._entries[key] = entry
                self._building.pop(key, None)
            return entry

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


MODELS = ModelCache()
