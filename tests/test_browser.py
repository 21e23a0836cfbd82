"""Real-browser smoke tests: `streamlit run app.py` on a free port, driven by headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from test_evaluate import write_dataset

from saliency_core import pipeline
from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine
from saliency_core.scoring import agreement
from saliency_core.settings import Settings, from_query
from ui.presets import PAGE_PRESETS

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


PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


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
    navigation = page.locator("[data-testid='stSidebarNav']")
    # each page's Material icon (a ligature of the bundled font: its name is its text), then title
    assert [line for line in navigation.inner_text().splitlines() if line.strip()] == [
        "home",
        "Home",
        "search",
        "Explore",
        "healing",
        "Augment",
        "bar_chart",
        "Dataset report",
        "science",
        "Experiments",
    ]
    assert navigation.locator("[data-testid='stIconMaterial']").count() == 5
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


VIEW_STATE_JS = """() => {
  const state = {};
  const label = (w) => (w.querySelector('[data-testid="stWidgetLabel"]') || w).innerText.trim();
  for (const w of document.querySelectorAll('[data-testid="stSlider"]')) {
    state['slider ' + label(w)] = w.querySelector('input[type="range"]').getAttribute('value');
  }
  for (const w of document.querySelectorAll('[data-testid="stCheckbox"]')) {
    state['toggle ' + w.innerText.trim()] = w.querySelector('input').checked;
  }
  for (const w of document.querySelectorAll('[data-testid="stRadio"]')) {
    const checked = w.querySelector('input:checked');
    state['radio ' + label(w)] = checked ? checked.closest('label').innerText.trim() : null;
  }
  for (const w of document.querySelectorAll('[data-testid="stSelectbox"]')) {
    state['select ' + label(w)] = w.querySelector('input').value;
  }
  for (const w of document.querySelectorAll('[data-testid="stMultiSelect"]')) {
    state['multiselect ' + label(w)] = w.innerText.trim();
  }
  return state;
}"""
"""Every control's value on the page (sliders, toggles, radios, select boxes), by its label."""


def settle(page, quiet_s: float = 2.0, timeout_s: int = 300) -> None:
    """Wait until the page stops changing: no progress bar, the text unchanged for ``quiet_s``
    (with a minimal toolbar Streamlit's "Running…" widget never shows)."""
    deadline = time.monotonic() + timeout_s
    before = None
    while time.monotonic() < deadline:
        text = page.inner_text("body")
        if text == before and page.locator("[data-testid='stProgress']").count() == 0:
            return
        before = text
        time.sleep(quiet_s)
    pytest.fail("the page did not settle")


def slider(page, label: str):
    box = page.locator("[data-testid='stSlider']").filter(has_text=label)
    return box.locator("input[type='range']")


LIVE_SLIDER = "input[aria-label='Top-p% of pixels (live)']"
"""The live top-p% slider (ui/live_threshold.js), in the component's shadow root."""


def press(page, label: str, key: str, times: int) -> None:
    """Move the slider ``label`` by ``times`` steps with the keyboard (react-aria slider, or
    the live top-p% slider for ``label`` = LIVE_SLIDER)."""
    for _ in range(times):  # one step per run: a key pressed during a rerun can be lost
        target = page.locator(LIVE_SLIDER) if label == LIVE_SLIDER else slider(page, label)
        target.focus()
        page.keyboard.press(key)
        settle(page)


def click_option(page, widget_label: str, option: str) -> None:
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=widget_label)
    box.locator("input").click()  # a react-aria combo box: a focused input opens on ArrowDown
    if page.get_by_role("option").count() == 0:
        page.keyboard.press("ArrowDown")
    page.get_by_role("option").filter(has_text=option).click()
    settle(page)
    assert box.locator("input").input_value() == option


def test_every_control_is_in_the_address_and_a_fresh_browser_shows_the_same_view(
    server: str, browser
):
    """Issue 20 §2: each control moved (the fragment's top-p% slider last), the address reopened
    in a fresh browser context shows the same values everywhere."""
    start = (
        f"{server}/Explore?dataset=toy&image=b&det=FCOS+R50-FPN&insize=64"
        "&cam=EigenCAM~GradCAM&t2=Spectral+residual"
    )
    page = open_page(browser, start, "Download the metrics (CSV)", timeout_s=600)
    settle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    press(page, "Detection score threshold", "ArrowLeft", 2)  # 0.90 -> 0.80
    click_option(page, "Top-p% ties", "include ties (study)")
    sidebar.get_by_text("Resize to 512×512 (study)").click()
    settle(page)
    press(page, "Fixation density sigma", "ArrowRight", 3)  # 17.1 -> 17.13 px (user-set)
    sidebar.get_by_text("one class").click()
    settle(page)
    sidebar.get_by_text("Consensus of the CAMs").click()
    settle(page)
    page.get_by_text("Show fixation points").click()  # in the fragment
    settle(page)
    page.locator("[data-testid='stRadio']").filter(has_text="Agreement view against").get_by_text(
        "human fixation density"
    ).click()
    settle(page)
    press(page, LIVE_SLIDER, "ArrowRight", 3)  # the fragment's live slider, last: 11.5
    assert_no_exception(page)
    link = page.url
    query = dict(parse_qsl(urlsplit(link).query))
    assert {key: query.get(key) for key in ("p", "fix", "vs", "score", "ties", "size")} == {
        "p": "11.5",
        "fix": "0",
        "vs": "human fixation density",
        "score": "0.8",
        "ties": "include",
        "size": "512",
    }
    assert query["sigma"] == "17.13" and query["cons"] == "1" and "xcls" in query
    shown = page.evaluate(VIEW_STATE_JS)
    assert page.locator(LIVE_SLIDER).input_value() == "11.5"

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    again = fresh.new_page()
    again.goto(link)
    again.get_by_text("Download the metrics (CSV)").first.wait_for(timeout=600_000)
    settle(again)
    assert_no_exception(again)
    assert dict(parse_qsl(urlsplit(again.url).query)) == query
    assert again.evaluate(VIEW_STATE_JS) == shown
    assert again.locator(LIVE_SLIDER).input_value() == "11.5"
    fresh.close()


def test_the_live_slider_shows_the_librarys_iou_while_dragging_and_keeps_the_release(
    server: str, browser, places: dict[str, Path]
):
    """Issue 18: dragged from 1 to 50 %, the live panels' IoU equal the library's at three
    stops (to 1e-9, and as shown), the address keeps its p until the release, then holds 50."""
    start = (
        f"{server}/Explore?dataset=toy&image=c&det=FCOS+R50-FPN&insize=64&cam=EigenCAM"
        "&t2=Spectral+residual&vs=human+attention+mask"
    )
    page = open_page(browser, start, "Download the metrics (CSV)", timeout_s=600)
    live = page.locator(LIVE_SLIDER)
    live.wait_for(timeout=60_000)
    settle(page)
    query = dict(parse_qsl(urlsplit(page.url).query))
    settings, _ = from_query(query, PAGE_PRESETS["Explore"])
    settings = replace(settings, detectors=())  # the type-2 map and references alone
    sample = pipeline.prepare_sample(Dataset("toy", places["data"]).load("c"), settings)
    ranked = pipeline.rank_maps(pipeline.compute_bundle(sample, settings))
    panel = page.locator("figure.lt-cell[data-map='Spectral residual']")
    live.scroll_into_view_if_needed()
    box = live.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    stops = []
    for fraction in (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0):
        page.mouse.move(box["x"] + 1 + fraction * (box["width"] - 2), y, steps=4)
        page.evaluate(PAINTED)
        if fraction in (0.1, 0.45, 0.9):
            percent = float(panel.get_attribute("data-percent"))
            stops.append(percent)
            expected = agreement.ranked_iou(
                ranked["Spectral residual"], ranked["human attention mask"], percent, settings.ties
            ).value
            assert float(panel.get_attribute("data-iou")) == pytest.approx(expected, abs=1e-9)
            assert f"IoU {expected:.3f}" in panel.inner_text()
            assert "p" not in dict(parse_qsl(urlsplit(page.url).query))  # nothing sent yet
    page.mouse.up()
    assert len(set(stops)) == 3 and 1 < stops[0] < stops[1] < stops[2] < 50
    settle(page)
    assert_no_exception(page)
    assert dict(parse_qsl(urlsplit(page.url).query))["p"] == "50"
    assert live.input_value() == "50"
    assert page.get_by_text("Share of pixels actually selected at top 50%").count() == 1
    marker = "() => document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')"
    assert page.evaluate(f"{marker}.layout.shapes.map(s => s.x0)") == [50], "the curve's marker"


def test_explore_and_the_live_slider_fetch_nothing_beyond_the_app(server: str, browser):
    """Talks are often offline: while Explore loads and the live slider is dragged, every
    request goes to the app's own server (a ``:material/…:`` favicon went to fonts.gstatic.com)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    elsewhere: list[str] = []

    def check(request) -> None:
        address = urlsplit(request.url)
        if address.scheme in {"http", "https", "ws", "wss"} and address.hostname not in {
            "127.0.0.1",
            "localhost",
        }:
            elsewhere.append(request.url)

    context.on("request", check)
    page = context.new_page()
    page.goto(
        f"{server}/Explore?dataset=toy&image=c&det=FCOS+R50-FPN&insize=64&cam=EigenCAM"
        "&t2=Spectral+residual"
    )
    live = page.locator(LIVE_SLIDER)
    live.wait_for(timeout=600_000)
    settle(page)
    live.scroll_into_view_if_needed()
    box = live.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=8)
    page.mouse.up()
    settle(page)
    assert_no_exception(page)
    assert dict(parse_qsl(urlsplit(page.url).query)).get("p") not in {None, "10"}  # released
    context.close()
    assert elsewhere == []


BROKEN_SCRIPT = """(() => {
  const real = URL.createObjectURL;
  URL.createObjectURL = function (blob) {
    if (blob && blob.type === "text/javascript") {
      return "data:text/javascript,throw new SyntaxError('this browser cannot parse it')";
    }
    return real.call(this, blob);
  };
})()"""
"""Streamlit imports a component's inline script from a blob URL: here that module throws, as
in a browser that cannot run it at all."""


def test_a_browser_that_cannot_load_the_live_script_keeps_the_server_slider_and_says_so(
    server: str, browser
):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(BROKEN_SCRIPT)
    page = context.new_page()
    page.goto(f"{server}/Explore?dataset=toy&image=c&det=&insize=64&t2=Spectral+residual&p=20")
    page.get_by_text("Download the metrics (CSV)").first.wait_for(timeout=600_000)
    settle(page)
    assert page.locator(LIVE_SLIDER).count() == 0
    assert slider(page, "Top-p% of pixels").input_value() == "20"
    assert page.get_by_text("Top 20% agreement with").count() == 1
    assert (
        page.get_by_text(
            "Live slider starting in the browser (if its script cannot run there, the error box "
            "below says why): until then the view updates when the slider is released."
        ).count()
        == 1
    )
    assert "this browser cannot parse it" in page.inner_text("body")
    context.close()
