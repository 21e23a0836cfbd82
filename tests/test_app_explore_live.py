"""AppTest of the Explore page's live top-p% slider (ui.live_component): which slider shows, and
what the page says when the live one is off (no browser here: the browser's reports are set
as its callbacks set them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import live_threshold

TIMEOUT = 300
APP = Path(__file__).resolve().parent.parent / "app.py"
LINK = {"det": "", "t2": "Spectral residual", "p": "25"}
STATUS = "explore_live_status"


def explore(**state) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(LINK)
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    return at.switch_page("app_pages/1_Explore.py").run()


def live_components(at: AppTest) -> list:
    return [e for e in at.main if getattr(e, "type", "") == "bidi_component"]


def server_sliders(at: AppTest) -> list:
    return [s for s in at.slider if s.key == "explore_percent"]


def test_until_the_browser_says_it_can_draw_the_server_slider_shows():
    at = explore()
    assert not at.exception, at.exception
    assert server_sliders(at)[0].value == 25.0
    assert "Top 25% agreement with Spectral residual" in [h.value for h in at.subheader]
    assert len(live_components(at)) == 1  # mounted: the browser keeps the maps
    assert not [c for c in at.caption if c.value.startswith("Live slider off")]
    said = [c.value for c in at.caption if c.value.startswith("Live slider")]
    assert said == [
        "Live slider starting in the browser (if its script cannot run there, the error box "
        "below says why): until then the view updates when the slider is released."
    ]


def test_once_it_can_the_live_slider_replaces_it_and_keeps_the_value():
    at = explore()
    assert server_sliders(at)[0].value == 25.0
    at.session_state[STATUS] = True  # the browser's "ready"
    at.run()
    assert not at.exception, at.exception
    assert server_sliders(at) == [] and len(live_components(at)) == 1
    assert "Top 25% agreement with Spectral residual" not in [h.value for h in at.subheader]
    assert not [c for c in at.caption if c.value.startswith("Live slider")]
    at.run()  # the value outlives runs without the server slider that held it
    assert at.session_state["explore_percent"] == 25.0
    assert at.query_params["p"] == "25"


def test_a_browser_that_cannot_draw_keeps_the_server_slider_and_says_why():
    reason = "the browser cannot draw it: this browser lacks DecompressionStream"
    at = explore(**{STATUS: reason})
    assert not at.exception, at.exception
    assert server_sliders(at)[0].value == 25.0 and live_components(at) == []
    said = [c.value for c in at.caption if c.value.startswith("Live slider off")]
    assert said == [f"Live slider off — {reason}: the view updates when the slider is released."]


def test_maps_over_the_pixel_budget_keep_the_server_slider(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(live_threshold, "PIXEL_BUDGET", 1000)
    at = explore(**{STATUS: True})
    assert not at.exception, at.exception
    assert server_sliders(at) and live_components(at) == []
    said = [c.value for c in at.caption if c.value.startswith("Live slider off")]
    assert len(said) == 1 and " maps of " in said[0]
    assert said[0].endswith(
        "px are more than the live slider takes (1,000 map pixels): "
        "the view updates when the slider is released."
    )


def test_the_environment_switch_keeps_the_server_slider(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SALIENCY_LIVE_SLIDER", "0")
    at = explore(**{STATUS: True})
    assert server_sliders(at) and live_components(at) == []
    said = [c.value for c in at.caption if c.value.startswith("Live slider off")]
    assert said == [
        "Live slider off — turned off (SALIENCY_LIVE_SLIDER=0): the view updates when the "
        "slider is released."
    ]


def test_the_live_view_paints_its_agreement_pictures_only_for_the_export(
    monkeypatch: pytest.MonkeyPatch,
):
    """The browser draws them: a run paints none; the grid download paints each once."""
    from streamlit.delta_generator import DeltaGenerator

    from saliency_core import viz

    painted: list[int] = []
    downloads: dict[str, object] = {}
    real_paint, real_download = viz.AgreementPainter.__call__, DeltaGenerator.download_button

    def counting(self, *masks):
        painted.append(1)
        return real_paint(self, *masks)

    def recording(self, label, data, *args, **kwargs):
        downloads[label] = data
        return real_download(self, label, data, *args, **kwargs)

    monkeypatch.setattr(viz.AgreementPainter, "__call__", counting)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    monkeypatch.setitem(LINK, "t2", "Spectral residual~Centre bias (Gaussian)")
    at = explore(**{STATUS: True})
    assert not at.exception, at.exception
    assert server_sliders(at) == [] and painted == []
    assert downloads["Download the grid (PNG)"]().startswith(b"\x89PNG")
    assert painted == [1]  # the one map (centre bias) against the shown reference
