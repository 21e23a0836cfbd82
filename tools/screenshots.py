"""Redraws the README's page screenshots from the real app in headless Chromium.

`streamlit run app.py` on a free port (a temporary cache: every map is computed), each page
opened from a link on the shipped NUS Scene sample with untrained models (random weights, so
nothing is downloaded; the pictures label them UNTRAINED), its run finished and every picture
loaded, then the window captured at ``VIEWPORT``. The Dataset report's pictures show a results
folder that ``saliency evaluate`` writes first (:data:`EVALUATE`, 12 sample images, about half a
minute on a CPU) under a temporary ``$SALIENCY_RESULTS_DIR``. Run: ``.venv/bin/python
tools/screenshots.py [NAME ...]`` (default: all of :data:`SHOTS`; Debian's /usr/bin/chromium).
The Experiments page's picture needs a trained experiment and is drawn by hand (README).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_latency import (  # noqa: E402
    ALL_PICTURES_LOADED,
    CHROMIUM,
    FLAGS,
    Runs,
    free_port,
    start_server,
    text_shown,
    timed,
)

from saliency_core.commands import cli  # noqa: E402
from saliency_core.data.datasets import SAMPLE_DIR, sample_dataset  # noqa: E402
from saliency_core.models.weights import WeightSource  # noqa: E402
from saliency_core.settings import Settings, to_query  # noqa: E402

OUT = ROOT / "assets" / "screenshots"
VIEWPORT = {"width": 1500, "height": 1150}


@dataclass(frozen=True)
class Shot:
    """One screenshot: the page's path, its link's parameters, a text the finished page shows,
    and optionally an element that must be there too and a text scrolled to the window's top."""

    page: str
    params: dict[str, str]
    done: str
    element: str | None = None
    top: str | None = None
    pictures: bool = True
    """Whether the page shows pictures to wait for (the report's summary has none)."""


EXPLORE = {
    "image": "014",
    **to_query(
        Settings(
            detectors=("Faster R-CNN R50-FPN", "SSDlite320 MobileNetV3"),
            weights=WeightSource.UNTRAINED,
            cams=("EigenCAM", "GradCAM", "HiResCAM"),
            type2=("DeepGaze IIE", "Spectral residual"),
            type2_weights=WeightSource.UNTRAINED,
        )
    ),
}
SHOTS = {
    "explore": Shot("Explore", EXPLORE, "Download the metrics (CSV)"),
    "explore_agreement": Shot(
        "Explore",
        {**EXPLORE, "vs": "human fixation density"},
        "Download the metrics (CSV)",
        element="input[aria-label='Top-p% of pixels (live)']",
        top="Agreement view against",
    ),
    "augment": Shot("Augment", {"image": "004"}, "IoU@top-10%"),
    "report": Shot("Dataset_report", {}, "Per-image distributions", pictures=False),
    "report_gallery": Shot(
        "Dataset_report", {}, "Failure-mode gallery", top="Failure-mode gallery"
    ),
}
RESULTS = "nus-sample-untrained"
"""The results folder the report's pictures show."""
EVALUATE = [
    "evaluate", "--dataset", str(SAMPLE_DIR), "--limit", "12", "--detectors",
    "SSDlite320 MobileNetV3,FCOS R50-FPN", "--weights", "untrained", "--cams", "EigenCAM",
    "--type2", "Spectral residual", "--references", "fixations", "--input-size", "320",
]  # fmt: skip
"""``saliency evaluate``'s arguments for that folder (``--out`` added)."""


def capture(url: str, names: list[str]) -> None:
    """Each named shot of :data:`SHOTS`, written as ``OUT/<name>.png``."""
    from playwright.sync_api import sync_playwright

    dataset = sample_dataset().name
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for name in names:
            shot = SHOTS[name]
            page = browser.new_page(viewport=VIEWPORT)
            runs = Runs(page)
            params = {"dataset": dataset, **shot.params} if shot.params else {}
            query = urllib.parse.urlencode(params)
            done = text_shown(shot.done)
            if shot.pictures:
                done = f"() => ({done})() && ({ALL_PICTURES_LOADED})()"
            address = f"{url}/{shot.page}?{query}"
            timed(page, runs, lambda: page.goto(address), done, timeout_s=1800)  # noqa: B023
            if shot.element:
                page.locator(shot.element).wait_for(timeout=120_000)
            if shot.top:
                top = page.get_by_text(shot.top).first
                top.evaluate("node => node.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(1500)  # fade-ins and the sidebar's last layout
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"{(OUT / f'{name}.png').relative_to(ROOT)}: {shot.page}?{query}")
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(SHOTS)}")
    names = parser.parse_args().names or list(SHOTS)
    if unknown := sorted(set(names) - set(SHOTS)):
        parser.error(f"no such screenshot: {', '.join(unknown)} (choose from {', '.join(SHOTS)})")
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        if any(SHOTS[name].page == "Dataset_report" for name in names):
            results = Path(scratch) / "results"
            if cli.main([*EVALUATE, "--out", str(results / RESULTS)]) != 0:
                raise SystemExit("saliency evaluate failed: no results folder to show")
            os.environ["SALIENCY_RESULTS_DIR"] = str(results)  # the server's environment
        server = start_server(port, str(Path(scratch) / "cache"), live=True)
        try:
            capture(f"http://127.0.0.1:{port}", names)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
