"""Tests of optional extras (DETR, YOLO, Ray): skipped with their reason where the extra is not
installed, as on a newcomer's machine; ``SALIENCY_REQUIRE_EXTRAS=1`` (set by `.ci/run` after it
installs every extra) turns such a skip into a failure, so CI cannot pass them by skipping."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require(reason: str | None) -> None:
    """Skip, or with ``SALIENCY_REQUIRE_EXTRAS=1`` fail, when ``reason`` names a missing extra."""
    if not reason:
        return
    if os.environ.get("SALIENCY_REQUIRE_EXTRAS") == "1":
        pytest.fail(f"SALIENCY_REQUIRE_EXTRAS=1 but {reason}")
    pytest.skip(reason)


def require_module(module: str, requirements: str) -> None:
    """:func:`require` for one importable module installed by ``requirements``."""
    try:
        missing = importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a submodule ("ray.train") whose package is not installed
        missing = True
    if missing:
        require(f"needs the optional package {module}: pip install -r {requirements}")
