"""AppTest of the Explore page's view: notes expander, preset diff and undo, Explain widget,
optional detectors (no browser; cheap maps only: weight-free type-2 models, small inputs)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from saliency_core import pipeline
from saliency_core.pipeline import Unchosen
from saliency_core.settings import Settings
from ui.notes import unchosen_notes

TIMEOUT = 300
APP = Path(__file__).resolve().parent.parent / "app.py"
SPECTRAL = "Spectral residual"


def explore(**params: str) -> AppTest:
    """The Explore page opened from a link with ``params`` (settings as query parameters)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    return at.switch_page("app_pages/1_Explore.py").run()


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
    stray = [m.value for m in at.main.markdown if "colour maps" in m.value or "ranks" in m.value]
    assert not stray, "a module-level string drawn by Streamlit's magic"
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


FCOS = "FCOS R50-FPN"


def image_captions(at: AppTest) -> list[str]:
    return [picture.caption for element in at.get("image") for picture in element.proto.imgs]


def row_titles(at: AppTest) -> list[str]:
    return [m.value.strip("*") for m in at.main.markdown if m.value.startswith("**")]


def test_the_grid_is_a_matrix_and_a_slider_move_repaints_no_panel(model_calls, monkeypatch):
    from ui import matrix

    painted: list[str] = []
    real = matrix.paint
    monkeypatch.setattr(
        matrix, "paint", lambda b, cell, *a: painted.append(cell.kind) or real(b, cell, *a)
    )
    at = explore(det=FCOS, insize="96", cam="EigenCAM~GradCAM", t2=SPECTRAL)
    assert not at.exception, at.exception
    reference = at.main.radio[0].value
    assert row_titles(at) == [
        "Type-2 maps",
        f"{FCOS} (UNTRAINED)",
        f"{FCOS} (UNTRAINED) · top 10% vs {reference}",  # the reference is not compared to itself
    ]
    assert reference.startswith(SPECTRAL)
    # the maps done so far are painted while the job runs; the final view has these kinds
    assert {"detections", "map", "reference"} <= set(painted)
    painted_before = len(painted)
    captions = image_captions(at)  # after the gallery's thumbnails
    # no detection ≥ 0.90: GradCAM explains the best one, drawn, and the caption says so
    best = at.session_state["explore_known"]["items"][0][1]
    fallback = f"detections ≥ 0.90: 0 — the best box (score {best:.2f}) drawn as fallback"
    start = captions.index(fallback)
    assert captions[start - 1 : start + 5] == [
        f"{reference}",  # the type-2 map, in the row above
        fallback,
        "EigenCAM @ layer4",
        "GradCAM @ layer4",
        f"{reference}",  # the references beside the detector's row
        "human fixation density",
    ]
    assert len(model_calls) == 2
    at.slider(key="explore_percent").set_value(20.0).run()
    assert not at.exception, at.exception
    assert len(painted) == painted_before, "an unchanged panel was painted again"
    assert row_titles(at)[2] == f"{FCOS} (UNTRAINED) · top 20% vs {reference}"
    assert len(model_calls) == 2


def test_explaining_one_detection_reruns_only_gradient_maps_and_marks_it(model_calls):
    at = explore(det=FCOS, insize="96", cam="EigenCAM~GradCAM", t2=SPECTRAL)
    assert at.sidebar.radio(key="explore_explain").value == "all"
    at.sidebar.radio(key="explore_explain").set_value("detection").run()
    options = at.sidebar.selectbox(key="explore_explain_rank").options
    known = at.session_state["explore_known"]["items"]
    assert options[1] == f"#2: {known[1][0]} {known[1][1]:.2f}" and len(options) == 20
    model_calls.clear()
    at.sidebar.selectbox(key="explore_explain_rank").set_value(1).run()
    assert not at.exception, at.exception
    assert model_calls == [FCOS], "EigenCAM ignores the choice: its cached map is kept"
    assert at.query_params["xdet"] == "1"
    notes = [c.value for c in notes_expander(at).caption]
    agnostic = [n for n in notes if "class-agnostic" in n]
    assert agnostic == [
        "ℹ️ EigenCAM is class-agnostic: the maps do not depend on what is explained "
        "(detection #2 by score)."
    ]
    title = f"detections ≥ 0.90: 0 · explained: {known[1][0]} {known[1][1]:.2f}"
    assert title in image_captions(at)
    at.sidebar.radio(key="explore_explain").set_value("class").run()
    assert at.sidebar.selectbox(key="explore_explain_class").value == known[0][0]
    assert at.query_params["xcls"] == known[0][0] and "xdet" not in at.query_params


def test_a_detector_whose_package_is_missing_is_listed_with_the_install_command(
    model_calls, monkeypatch
):
    import sys

    monkeypatch.setitem(sys.modules, "ultralytics", None)
    at = explore(det="YOLOv8 n", t2=SPECTRAL, xcls="giraffe")
    assert not at.exception and not at.error, at.exception
    assert at.session_state["explore_explain"] == "class", "a link restores what is explained"
    assert at.sidebar.selectbox(key="explore_explain_class").value == "giraffe"
    detectors = at.sidebar.multiselect(key="explore_detectors")
    assert "YOLOv8 n (not installed)" in detectors.options and f"{FCOS}" in detectors.options
    hints = " ".join(c.value for c in at.sidebar.caption)
    assert (
        "Not installed: YOLOv5u n, YOLOv8 n, YOLO11 n. Install with "
        "`.venv/bin/pip install --no-deps -r requirements-yolo.txt` (licence: AGPL-3.0)."
    ) in hints
    assert [w.value for w in at.sidebar.warning] == [
        "YOLOv8 n needs the optional package(s) ultralytics: "
        "pip install --no-deps -r requirements-yolo.txt."
    ]
    assert model_calls == []


def test_the_library_names_what_is_unchosen_and_the_page_says_where_to_choose_it():
    cases = [
        (Settings(detectors=(), cams=("EigenCAM",)), Unchosen.DETECTOR,
         "No detector chosen: pick one under Detectors in the sidebar."),
        (Settings(cams=()), Unchosen.CAM_METHOD,
         "No CAM method chosen: pick one under CAM methods in the sidebar."),
        (Settings(classifiers=("ResNet-50",), classifier_methods=()), Unchosen.CLASSIFIER_METHOD,
         "No classifier method chosen: pick one under Classifiers in the sidebar."),
        (Settings(detectors=(), type2=()), Unchosen.MODEL,
         "No detector and no type-2 model chosen: pick one under Type-1 (Detectors) or "
         "Type-2 (Model) in the sidebar."),
    ]  # fmt: skip
    for settings, missing, note in cases:
        assert pipeline.unchosen(settings) == [missing]
        assert unchosen_notes(settings) == [note]
    assert pipeline.unchosen(Settings()) == [] and unchosen_notes(Settings()) == []
