"""Explore's latency as a user sees it: `streamlit run app.py` driven by a real headless Chromium.

On the NUS Scene sample with a small untrained detector (SSDlite320 MobileNetV3, random weights:
no checkpoint is needed; the maps are labelled UNTRAINED), EigenCAM and GradCAM, the centre-bias
type-2 map and the fixation density: after a warm-up that computes two images, each measure is
repeated and its median printed next to its target.

- slider: the top-p% slider moved one step (arrow key) → the fragment's rerun has finished and
  the DOM shows the new top-p% (its agreement heading and shares caption);
- switch: another, already computed image chosen in the sidebar → the run has finished and every
  picture on the page is loaded;
- rerun: a plain rerun ("R" key) → the run has finished and the page has painted.

"Finished" is the server's ``script_finished`` message read off the page's websocket; "painted"
is two animation frames after the DOM condition holds. Each timing starts just before the key
press or click. Run: ``.venv/bin/python benchmarks/browser_latency.py [--repeats N]``; the last
line is ``RESULT slider_ms=<median>``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from saliency_core.data.datasets import sample_dataset  # noqa: E402
from saliency_core.models.weights import WeightSource  # noqa: E402
from saliency_core.settings import Settings, to_query  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SETTINGS = Settings(
    detectors=("SSDlite320 MobileNetV3",),
    weights=WeightSource.UNTRAINED,
    cams=("EigenCAM", "GradCAM"),
    type2=("Centre bias (Gaussian)",),
)
TARGETS_MS = {"slider": 300, "switch": 1000, "rerun": 1000}
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
ALL_PICTURES_LOADED = """() => {
    const pictures = [...document.querySelectorAll("[data-testid='stMain'] img")];
    return pictures.length > 0 && pictures.every(p => p.complete && p.naturalWidth > 0);
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, cache: str, live: bool = False, root: Path = ROOT) -> subprocess.Popen:
    """The app (the checkout at ``root``) on ``port``; with the server-side top-p% slider
    unless ``live``."""
    env = {**os.environ, "SALIENCY_DEVICE": "cpu", "SALIENCY_CACHE_DIR": cache}
    env["SALIENCY_LIVE_SLIDER"] = "1" if live else "0"
    env.pop("SALIENCY_DATA_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("streamlit did not start within 120 s")


class Runs:
    """Counts the ``script_finished`` messages the page receives (full and fragment runs) and
    follows the session's running flag (``session_status_changed``)."""

    def __init__(self, page) -> None:
        self.finished = 0
        self.last_at = 0.0
        self.script_running = False
        self.sent_at: list[float] = []
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        ws.on("framereceived", self._frame)
        ws.on("framesent", lambda payload: self.sent_at.append(time.perf_counter()))

    def _frame(self, payload) -> None:
        if isinstance(payload, bytes | bytearray):
            message = ForwardMsg.FromString(bytes(payload))
            kind = message.WhichOneof("type")
            if kind == "script_finished":
                self.finished += 1
                self.last_at = time.perf_counter()
            elif kind == "session_status_changed":
                self.script_running = message.session_status_changed.script_is_running

    def running(self) -> bool:
        return self.script_running


def timed(page, runs: Runs, action: Callable[[], None], done: str, timeout_s: float = 60) -> float:
    """Milliseconds from ``action`` until a run has finished, the page's JS predicate ``done``
    holds and two frames are painted."""
    before = runs.finished
    start = time.perf_counter()
    action()
    deadline = start + timeout_s
    while runs.finished == before or runs.running() or not page.evaluate(done):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not done within {timeout_s} s: {done}")
        page.wait_for_timeout(5)
    shown = time.perf_counter()
    page.evaluate(PAINTED)
    end = time.perf_counter()
    if os.environ.get("LATENCY_DEBUG"):  # where the time goes, in ms from the action
        sent = next((t for t in runs.sent_at if t >= start), start)
        parts = {"sent": sent, "finished": runs.last_at, "shown": shown, "painted": end}
        print(" ".join(f"{k} {1000 * (t - start):.0f}" for k, t in parts.items()), file=sys.stderr)
    return 1000 * (end - start)


def latency_table(figures: Mapping[str, list[float]], targets: Mapping[str, float]) -> str:
    """One line per measure: its count, median, min and max (ms), its target and whether the
    median meets it (a measure with no values: "not measured")."""
    lines = [f"{'measure':<10}{'n':>5}{'median ms':>11}{'min':>8}{'max':>8}{'target':>9}"]
    for name, values in figures.items():
        if not values:
            lines.append(f"{name:<10}{0:>5}  not measured")
            continue
        median = statistics.median(values)
        verdict = "ok" if median <= targets[name] else "OVER"
        lines.append(
            f"{name:<10}{len(values):>5}{median:>11.1f}{min(values):>8.1f}"
            f"{max(values):>8.1f}{targets[name]:>9} {verdict}"
        )
    return "\n".join(lines)


def text_shown(text: str) -> str:
    return f"() => document.body.innerText.includes({text!r})"


def choose_image(page, stem: str) -> None:
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(
        has_text="Image"
    )
    box.first.click()
    page.get_by_role("option", name=stem, exact=True).click()


def measure(url: str, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    dataset = sample_dataset()
    first, second = dataset.ids[1], dataset.ids[2]
    query = urllib.parse.urlencode({"dataset": dataset.name, "image": first, **to_query(SETTINGS)})
    results: dict[str, list[float]] = {name: [] for name in TARGETS_MS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        runs = Runs(page)
        # warm-up: models built, both images' maps computed and cached
        ready = f"() => ({text_shown('Download the metrics (CSV)')})() && ({ALL_PICTURES_LOADED})()"
        timed(page, runs, lambda: page.goto(f"{url}/Explore?{query}"), ready, timeout_s=900)
        computed = f"() => ({text_shown(f'· {second} ·')})() && ({ready})()"
        timed(page, runs, lambda: choose_image(page, second), computed, timeout_s=900)
        page.wait_for_timeout(1000)
        slider = page.locator("input[type='range'][aria-label^='Top-p%']").first
        percent = float(slider.get_attribute("value"))
        for index in range(repeats):
            key = "ArrowRight" if index % 2 == 0 else "ArrowLeft"
            percent += 0.5 if key == "ArrowRight" else -0.5
            shown = text_shown(f"Top {percent:g}% agreement")
            results["slider"].append(timed(page, runs, lambda key=key: slider.press(key), shown))
            page.wait_for_timeout(300)
        for index in range(repeats):
            stem = first if index % 2 == 0 else second
            shown = f"() => ({text_shown(f'· {stem} ·')})() && ({ALL_PICTURES_LOADED})()"
            results["switch"].append(
                timed(page, runs, lambda stem=stem: choose_image(page, stem), shown)
            )
            page.wait_for_timeout(300)
        for _ in range(repeats):
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            ready = text_shown("Download the metrics (CSV)")
            results["rerun"].append(timed(page, runs, lambda: page.keyboard.press("r"), ready))
            page.wait_for_timeout(300)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        server = start_server(port, cache)
        try:
            results = measure(f"http://127.0.0.1:{port}", args.repeats)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"Chromium (headless) against `streamlit run app.py`, CPU threads: {os.cpu_count()}")
    print(
        f"sample: NUS Scene, {', '.join(SETTINGS.detectors)} (UNTRAINED), "
        f"{' + '.join(SETTINGS.cams)}, {', '.join(SETTINGS.type2)}; {args.repeats} repeats"
    )
    print(latency_table(results, TARGETS_MS))
    print(f"RESULT slider_ms={statistics.median(results['slider']):.0f}")


if __name__ == "__main__":
    main()
