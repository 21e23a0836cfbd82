"""AppTest of the Explore page's view: notes expander, preset diff and undo, Explain widget,
optional detectors (no browser; cheap maps only: weight-free type-2 models, small inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from saliency_core import pipeline

TIMEOUT = 300
APP = Path(__file__).resolve().parent.parent / "app.py"
SPECTRAL = "Spectral residual"


def explore(**params: str) -> AppTest:
    """The Explore page opened from a link with ``params`` (settings as query parameters)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    return at.switch_page("pages/1_Explore.py").run()


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts every detector run made through the pipeline (caches cleared first)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    calls: list[str] = []
    real = pipeline.run_cam

    def counting(detector, *args, **kwargs):
        calls.append(detector.spec.name)
        return real(detector, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run_cam", counting)
    return calls


def notes_expander(at: AppTest):
    found = [e for e in at.expander if e.label.startswith("Notes (")]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_notes_are_one_expander_with_their_count(model_calls: list[str]):
    at = explore(det="", t2=SPECTRAL)
    assert not at.exception, at.exception
    notes = notes_expander(at)
    lines = [c.value for c in notes.caption]
    assert notes.label == f"Notes ({len(lines)})"
    assert "ℹ️ No detector chosen: pick one under Detectors in the sidebar." in lines
    assert lines[1] == "ℹ️ Reference mask: 004 has no attention mask." and len(lines) == 2
    shown = [c.value for c in at.main.caption if c.value.startswith("ℹ️")]
    assert shown == lines, "no note outside the expander"
    assert model_calls == []


def test_a_preset_says_what_it_changed_and_undo_restores_the_sidebar(model_calls: list[str]):
    at = explore(det="", t2=SPECTRAL, cam="EigenCAM~GradCAM", p="25")
    at.sidebar.selectbox(key="explore_preset").set_value("Reproduce the study").run()
    assert not at.exception, at.exception
    said = " ".join(c.value for c in at.sidebar.caption)
    assert (
        "Changed: detectors: none → Faster R-CNN R50-FPN, SSD300 VGG16; CAM methods: EigenCAM, "
        "GradCAM → EigenCAM; working size: as loaded → 512×512 px; top-p%: 25% → 10%; "
        "top-p% ties: never more than p% → include ties (study). Kept: target layer: study "
        "default; score threshold: 0.9; study input range: off."
    ) in said
    assert at.session_state["explore_detectors"] == ["Faster R-CNN R50-FPN", "SSD300 VGG16"]
    at.sidebar.button(key="explore_undo_preset").click().run()
    assert not at.exception, at.exception
    state = at.session_state
    assert state["explore_detectors"] == [] and state["explore_methods"] == ["EigenCAM", "GradCAM"]
    assert state["explore_percent"] == 25.0 and not state["explore_working"]
    assert state["explore_ties"] == "no-overshoot" and state["explore_preset"] == "Explore"
    assert not [b for b in at.sidebar.button if b.key == "explore_undo_preset"]
    assert "Changed:" not in " ".join(c.value for c in at.sidebar.caption)
