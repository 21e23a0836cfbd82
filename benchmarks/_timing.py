"""Wall-clock timing shared by the benchmarks: queued CUDA work is finished before and after."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def synchronise() -> None:
    """Wait for the CUDA work queued so far (nothing to wait for on CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(function: Callable[[], object]) -> float:
    """Seconds of one call of ``function``, its CUDA work included."""
    synchronise()
    start = time.perf_counter()
    function()
    synchronise()
    return time.perf_counter() - start
