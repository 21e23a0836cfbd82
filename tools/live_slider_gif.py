"""Draws ``assets/screenshots/live_slider.gif``: the README's picture of the live top-p% slider,
a drag of the real app in headless Chromium on the shipped sample.

`streamlit run app.py` on a free port; Explore on the NUS Scene sample's image 014 with the two
type-2 maps that need no weights (spectral residual, centre bias) against the human fixation
density; the live slider dragged from 2 % to 40 % and back to 10 %, the component (slider,
heading, pictures with their IoU and share) captured at each stop. Frames are scaled to
``WIDTH`` px and share one palette. Run: ``.venv/bin/python tools/live_slider_gif.py``
(Debian's /usr/bin/chromium; the models are not downloaded).
"""

from __future__ import annotations

import io
import sys
import tempfile
import urllib.parse
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_latency import CHROMIUM, FLAGS, free_port, start_server  # noqa: E402

from saliency_core.data.datasets import sample_dataset  # noqa: E402
from ui import live_threshold  # noqa: E402

OUT = ROOT / "assets" / "screenshots" / "live_slider.gif"
LIVE = "input[aria-label='Top-p% of pixels (live)']"
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
STOPS = [2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 35, 40, 32, 24, 17, 10]
"""The slider's stops (%), one frame each."""
WIDTH = 640
FRAME_MS = 220
HOLD_MS = 1200
"""How long the first and last frames stay."""


def capture(url: str) -> list[Image.Image]:
    """The component's screenshot at each of :data:`STOPS` while the mouse holds the slider."""
    from playwright.sync_api import sync_playwright

    dataset = sample_dataset()
    query = urllib.parse.urlencode(
        {
            "dataset": dataset.name,
            "image": "014",
            "det": "",
            "t2": "Spectral residual~Centre bias (Gaussian)",
            "vs": "human fixation density",
        }
    )
    frames = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"{url}/Explore?{query}")
        slider = page.locator(LIVE)
        slider.wait_for(timeout=600_000)
        page.wait_for_timeout(2000)
        view = page.locator("div.lt")
        view.scroll_into_view_if_needed()
        box = slider.bounding_box()
        low, high = live_threshold.SLIDER["min"], live_threshold.SLIDER["max"]
        thumb = 16.0  # a range input maps the pointer linearly between its thumb-inset ends

        def x_of(percent: float) -> float:
            return box["x"] + thumb / 2 + (percent - low) / (high - low) * (box["width"] - thumb)

        y = box["y"] + box["height"] / 2
        page.mouse.move(x_of(STOPS[0]), y)
        page.mouse.down()
        for percent in STOPS:
            page.mouse.move(x_of(percent), y, steps=3)
            page.evaluate(PAINTED)
            frames.append(Image.open(io.BytesIO(view.screenshot())).convert("RGB"))
        page.mouse.up()
        browser.close()
    return frames


def gif(frames: list[Image.Image]) -> bytes:
    """The frames at :data:`WIDTH` px, one shared palette, looping."""
    height = round(frames[0].height * WIDTH / frames[0].width)
    scaled = [frame.resize((WIDTH, height), Image.Resampling.LANCZOS) for frame in frames]
    palette = scaled[0].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    indexed = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in scaled]
    durations = [HOLD_MS, *[FRAME_MS] * (len(indexed) - 2), HOLD_MS]
    out = io.BytesIO()
    indexed[0].save(
        out, "GIF", save_all=True, append_images=indexed[1:], duration=durations, loop=0,
        optimize=True,
    )  # fmt: skip
    return out.getvalue()


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        server = start_server(port, cache, live=True)
        try:
            frames = capture(f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    data = gif(frames)
    OUT.write_bytes(data)
    print(f"{OUT.relative_to(ROOT)}: {len(frames)} frames, {len(data) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
