"""Real-browser smoke tests: `streamlit run app.py` on a free port, driven by headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_evaluate import write_dataset

from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine
from saliency_core.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A toy dataset listed by the app, and an empty results folder the report page reads."""
    base = tmp_path_factory.mktemp("browser")
    dataset = write_dataset(base / "toy")
    (base / "results").mkdir()
    return {"data": dataset.root, "results": base / "results", "cache": base / "cache"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, places: dict[str, Path]) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "server.log").open("w")
    env = {
        **os.environ,
        "SALIENCY_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
        "SALIENCY_DATA_DIR": str(places["data"]),
        "SALIENCY_RESULTS_DIR": str(places["results"]),
        "SALIENCY_CACHE_DIR": str(places["cache"]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not start within 90 s")
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, text: str, timeout_s: int = 240):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)
    return page


def assert_no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


def test_home_page(server: str, browser, tmp_path: Path):
    page = open_page(browser, server, "Data credits")
    assert page.title() == "Saliency Explorer"
    assert_no_exception(page)
    navigation = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert [line for line in navigation.splitlines() if line.isascii() and line.strip()] == [
        "Home",
        "Explore",
        "Augment",
        "Dataset report",
    ]
    page.screenshot(path=tmp_path / "home.png")


def test_explore_page(server: str, browser):
    page = open_page(browser, f"{server}/Explore", "Download the metrics (CSV)", timeout_s=600)
    assert page.title() == "Explore · Saliency Explorer"
    assert_no_exception(page)
    assert page.get_by_text("Map vs. reference").count() >= 1


def test_augment_page(server: str, browser):
    page = open_page(browser, f"{server}/Augment", "Augment")
    assert_no_exception(page)


def test_dataset_report_page(server: str, browser, places: dict[str, Path], monkeypatch):
    """A stored run of one untrained detector on 2 toy images: summary, charts, gallery, and a
    gallery link that opens Explore on that image."""
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(places["cache"]))
    settings = Settings(
        detectors=("FCOS R50-FPN",), type2=(), references=("fixations", "mask"), input_size=64
    )
    dataset = Dataset("toy", places["data"])
    engine.run(dataset, settings, places["results"] / "toy-run", engine.Options(limit=2))
    page = open_page(browser, f"{server}/Dataset_report", "Summary (LaTeX)", timeout_s=600)
    page.get_by_text("Open in Explore").nth(1).wait_for(timeout=240_000)
    assert_no_exception(page)
    if shots := os.environ.get("SALIENCY_SCREENSHOTS"):
        page.screenshot(path=Path(shots) / "report.png")
        page.get_by_text("Open in Explore").first.scroll_into_view_if_needed()
        page.screenshot(path=Path(shots) / "report_gallery.png")
    for heading in ("Summary", "Per-image distributions", "Failure-mode gallery", "Downloads"):
        assert page.get_by_text(heading, exact=True).count() >= 1, heading
    # box plots, mean IoU curves, the mean time curve and the peak times (the toy run has onsets)
    assert page.locator("[data-testid='stPlotlyChart']").count() == 4
    page.get_by_text("Open in Explore").first.click()
    page.wait_for_url("**/Explore?**", timeout=60_000)
    assert "dataset=toy" in page.url and "image=a" in page.url and "insize=64" in page.url
