"""Test session set-up: the type-2 disk cache lives in a fresh temporary folder."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    os.environ["SALIENCY_CACHE_DIR"] = tempfile.mkdtemp(prefix="saliency-test-cache-")
