"""Test session set-up: the type-2 disk cache lives in a fresh temporary folder; the
``model_calls`` fixture counts detector runs; ``synthetic_voc`` is a small VOC dataset."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest
import streamlit as st
import torch

from saliency_core.data import roots
from saliency_core.data.synthetic import write_synthetic_voc
from saliency_core.maps import detector_maps


def pytest_configure(config) -> None:
    os.environ["SALIENCY_CACHE_DIR"] = tempfile.mkdtemp(prefix="saliency-test-cache-")


REAL_MAIN = sys.modules["__main__"]
"""pytest's own ``__main__``, as the session started."""


@pytest.fixture(autouse=True)
def main_module_kept():
    """Streamlit's AppTest leaves the app script as ``sys.modules["__main__"]`` (its script
    threads may do so after a test ends); a spawned process (torch.multiprocessing.spawn)
    would rerun it. Each test starts and ends with the real one."""
    sys.modules["__main__"] = REAL_MAIN
    yield
    sys.modules["__main__"] = REAL_MAIN


@pytest.fixture(autouse=True)
def sigint_kept():
    """Ray Train installs its own SIGINT handler and leaves it; the test's is put back."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: training runs are deterministic, and faster on a
    shared 2-core machine (the training tests' modules mark themselves with it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def reads_anywhere():
    """The app confines the files a user names to its folders (``app.py``); the library's
    default, anywhere, is back for the next test."""
    yield
    roots.confine_reads(None)


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts every detector run made through the pipeline (caches cleared first)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    calls: list[str] = []
    real = detector_maps.run_cams

    def counting(detector, *args, **kwargs):
        calls.append(detector.spec.name)
        return real(detector, *args, **kwargs)

    monkeypatch.setattr(detector_maps, "run_cams", counting)
    return calls


@pytest.fixture(scope="session")
def synthetic_voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic VOC dataset (24 images of 96 px, 6 masked test images, seed 0), written
    once per session: treat it as read-only."""
    return write_synthetic_voc(tmp_path_factory.mktemp("synthetic_voc") / "voc")
