"""The live top-p% slider in a real headless Chromium: `streamlit run app.py`, 8 maps against 2
references at 512².

On the NUS Scene sample resized to 512×512 (the study's working size), an untrained SSDlite320
MobileNetV3 (random weights: no checkpoint needed) with 7 CAM methods and the centre-bias
type-2 map (8 maps), against the centre bias and the fixation density (2 references). After
the maps are computed and the browser holds them (the slider is live):

- frame: the slider dragged with the mouse one step (0.5 %) at a time; per animation frame the
  script's own work (every panel's top-p% mask under the tie rule, its tint, IoU and share,
  and the canvases written), median over the steps (target ≤ 16 ms: 60 fps; ≤ 33 ms at worst);
- input: from the slider's input event to the end of the frame's work that draws it, both
  timed in the page (target ≤ 33 ms: the step is on screen at the latest two frames later);
- release: the mouse let go → the fragment's run has finished and the server's tables show
  the new p (its shares caption; target ≤ 300 ms);
- payload: the bytes the browser received once for the image (the maps' rank images, sorted
  values and the image, compressed), built here the same way from synthetic maps.

Run: ``.venv/bin/python benchmarks/live_threshold.py [--repeats N] [--before REV]``; the last
line is ``RESULT drag_frame_ms=<median>`` (this checkout's). ``--before REV`` measures the app as
it was at git revision ``REV`` too (its tree exported with ``git archive``, its own server), in
the same run, the two alternating in rounds, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_latency import (  # noqa: E402
    CHROMIUM,
    FLAGS,
    PAINTED,
    Runs,
    free_port,
    latency_table,
    start_server,
    text_shown,
    timed,
)

from saliency_core.data.datasets import sample_dataset  # noqa: E402
from saliency_core.models.weights import WeightSource  # noqa: E402
from saliency_core.scoring.agreement import RankedMap  # noqa: E402
from saliency_core.settings import Settings, to_query  # noqa: E402
from ui import live_threshold  # noqa: E402

SETTINGS = Settings(
    detectors=("SSDlite320 MobileNetV3",),
    weights=WeightSource.UNTRAINED,
    cams=("EigenCAM", "EigenGradCAM", "GradCAM", "GradCAM++", "XGradCAM", "HiResCAM", "LayerCAM"),
    type2=("Centre bias (Gaussian)",),
    working_size=512,
)
LIVE = "input[aria-label='Top-p% of pixels (live)']"
NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => done()))"
TIMES = "() => ['times', 'latencies'].map(k => (__saliencyLiveThreshold[k] ?? []).splice(0))"
"""Each frame's work and each input's latency since the last read (an older app, measured with
``--before``, records no latencies)."""
STEPS = 40
TARGETS_MS = {"frame": 16, "input": 33, "release": 300}


def payload_mb(maps: int = 10, side: int = 512) -> float:
    """Megabytes of one image's payload for ``maps`` smooth random maps of ``side``²."""
    rng = np.random.default_rng(0)
    ranked = {
        f"map {k}": RankedMap(gaussian_filter(rng.random((side, side)), 8).astype(np.float32))
        for k in range(maps)
    }
    rgb = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    data = live_threshold.payload(rgb, ranked)
    return sum(len(section) for section in data.sections) / 1e6


def drag(page, start_percent: float, steps: int) -> tuple[list[float], list[float], float]:
    """Drags the live slider from ``start_percent`` one step at a time: the script's work per
    frame (ms), each step's input event → its frame drawn (ms), and the p reached (held)."""
    slider = page.locator(LIVE)
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    low, high, step = (live_threshold.SLIDER[k] for k in ("min", "max", "step"))
    # a range input maps the pointer linearly between its ends (thumb half-widths inset)
    thumb = 16.0
    span = box["width"] - thumb

    def x_of(percent: float) -> float:
        return box["x"] + thumb / 2 + (percent - low) / (high - low) * span

    y = box["y"] + box["height"] / 2
    page.mouse.move(x_of(start_percent), y)
    page.mouse.down()
    page.evaluate(PAINTED)
    page.evaluate(TIMES)
    percent = start_percent
    for _ in range(steps):
        percent += step
        page.mouse.move(x_of(percent), y)
        page.evaluate(NEXT_FRAME)
    frames, inputs = page.evaluate(TIMES)
    return frames, inputs, float(slider.input_value())


def measure(url: str, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    dataset = sample_dataset()
    query = urllib.parse.urlencode(
        {"dataset": dataset.name, "image": dataset.ids[1], **to_query(SETTINGS)}
    )
    results: dict[str, list[float]] = {"frame": [], "input": [], "release": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        runs = Runs(page)
        ready = text_shown("Download the metrics (CSV)")
        timed(page, runs, lambda: page.goto(f"{url}/Explore?{query}"), ready, timeout_s=1800)
        page.locator(LIVE).wait_for(timeout=120_000)
        page.wait_for_timeout(1000)
        percent = 5.0
        for index in range(repeats):
            frames, inputs, reached = drag(page, percent, STEPS if index == 0 else 6)
            results["frame"] += frames
            results["input"] += inputs
            shown = text_shown(f"Share of pixels actually selected at top {reached:g}%")
            results["release"].append(timed(page, runs, page.mouse.up, shown))
            page.wait_for_timeout(300)
            percent = 5.0 if reached > 40 else reached
        browser.close()
    return results


def export_tree(revision: str, into: Path) -> Path:
    """The repository's tree at ``revision`` written under ``into`` (``git archive``)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=True
    )
    tree = into / "tree"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def measure_trees(trees: dict[str, Path], repeats: int, rounds: int) -> dict[str, dict]:
    """Each tree's app on its own server, measured in ``rounds`` alternating rounds of
    ``repeats`` drags; the figures of each tree's rounds together."""
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        servers = {}
        try:
            for label, root in trees.items():
                port = free_port()
                cache = Path(scratch) / f"cache{len(servers)}"
                servers[label] = (start_server(port, str(cache), True, root), port)
            for _ in range(rounds):
                for label, (_, port) in servers.items():
                    figures = measure(f"http://127.0.0.1:{port}", repeats)
                    merged = results.setdefault(label, {name: [] for name in figures})
                    for name, values in figures.items():
                        merged[name] += values
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", metavar="REV", help="also measure the app at this revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this checkout": ROOT}
        if args.before:
            trees = {f"before ({args.before})": export_tree(args.before, Path(scratch)), **trees}
        rounds = 2 if args.before else 1
        results = measure_trees(trees, args.repeats, rounds)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Chromium (headless) against `streamlit run app.py`, CPU threads: {os.cpu_count()}")
    print(f"load average at the end (1, 5, 15 min): {load}")
    print(
        f"sample: NUS Scene at 512×512, {', '.join(SETTINGS.detectors)} (UNTRAINED) × "
        f"{len(SETTINGS.cams)} CAMs + {', '.join(SETTINGS.type2)} = 8 maps; references: "
        f"centre bias, fixation density; {args.repeats} drags × {rounds} round(s) per tree"
    )
    print(f"payload for 10 maps at 512² (sent once per image): {payload_mb():.1f} MB")
    for label, figures in results.items():
        print(f"{label}:")
        print(latency_table(figures, TARGETS_MS))
    frames = results["this checkout"]["frame"]
    print(f"RESULT drag_frame_ms={statistics.median(frames):.1f}")


if __name__ == "__main__":
    main()
