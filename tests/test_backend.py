"""The shared model cache: one build per key, one lock per model, bounded size."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from saliency_core.models import cache as model_cache


def test_each_key_is_built_once_even_by_concurrent_callers():
    cache = model_cache.ModelCache(capacity=4)
    builds: list[str] = []

    def build() -> str:
        builds.append("x")
        time.sleep(0.05)
        return "model"

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", build))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["x"] and len({id(r) for r in results}) == 1
    assert results[0].value == "model" and isinstance(results[0].lock, type(threading.Lock()))


def test_the_least_recently_used_model_is_dropped_beyond_capacity():
    cache = model_cache.ModelCache(capacity=2)
    a = cache.get("a", lambda: "A")
    cache.get("b", lambda: "B")
    assert cache.get("a", lambda: "rebuilt") is a  # "a" is now the most recently used
    cache.get("c", lambda: "C")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get("b", lambda: "B2").value == "B2"


def test_a_failed_build_leaves_nothing_behind():
    cache = model_cache.ModelCache(capacity=2)

    def broken() -> str:
        raise RuntimeError("no weights")

    with pytest.raises(RuntimeError, match="no weights"):
        cache.get("k", broken)
    assert "k" not in cache and cache.get("k", lambda: "ok").value == "ok"


def test_capacity_and_device_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SALIENCY_MAX_MODELS", "3")
    assert model_cache.ModelCache().capacity == 3
    monkeypatch.setenv("SALIENCY_DEVICE", "cpu")
    assert model_cache.default_device() == torch.device("cpu")


def test_out_of_memory_errors_are_recognised():
    assert model_cache.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert model_cache.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not model_cache.is_out_of_memory(RuntimeError("shape mismatch"))
