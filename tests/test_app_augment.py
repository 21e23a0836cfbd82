"""The Augment page (Streamlit AppTest) and its background inpainting job."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from saliency_core.augment import DEFAULT_PRESET, PRESETS, decide
from saliency_core.data import fixations
from saliency_core.data.datasets import sample_dataset
from saliency_core.maps.detector_maps import compute_cam
from saliency_core.models.weights import ModelChoice
from ui.augment_jobs import InpaintJob

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/2_Augment.py"
DETECTOR = "Faster R-CNN R50-FPN"


def page(reference: str) -> AppTest:
    """The page on the sample's first image: untrained detector at 320 px, EigenCAM, Telea.

    Opened through the entry point (``switch_page``): the page's navigation links resolve
    against ``app.py``.
    """
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    at.session_state["augment_detector"] = DETECTOR
    at.session_state["augment_size"] = "320 px"
    at.session_state["augment_cam"] = "EigenCAM"
    at.session_state["augment_reference"] = reference
    at.session_state["augment_inpaint"] = "Telea"
    return at.run()


def texts(at: AppTest) -> list[str]:
    return [el.value for kind in ("success", "warning", "caption") for el in getattr(at, kind)]


def test_shows_the_metric_and_the_rules_decision():
    at = page("Human fixation density")
    assert not at.exception
    assert not at.error, [el.value for el in at.error]
    sample = sample_dataset().load(sample_dataset().ids[0])
    cam = compute_cam(sample.image, ModelChoice(DETECTOR, input_size=320), "EigenCAM").cam
    sigma = round(fixations.default_sigma(sample.shape), 1)
    density = fixations.display(fixations.density_map(sample.fixations, sample.shape, sigma))
    decision = decide(PRESETS[DEFAULT_PRESET].rule, cam, density)
    [metric] = at.metric
    assert (metric.label, metric.value) == ("IoU@top-10%", f"{decision.value:.3f}")
    verdict = "Erase" if decision.erase else "Keep"
    assert f"{verdict} — {decision.text}" in texts(at)
    assert any("(UNTRAINED)" in text and "vs. human fixation density" in text for text in texts(at))
    assert PRESETS[DEFAULT_PRESET].explanation in [el.value for el in at.info]


def test_editing_the_rule_changes_the_decision():
    at = page("Human fixation density")
    at.selectbox(key="augment_rule0_comparator").set_value(">=")
    at.number_input(key="augment_rule0_threshold").set_value(0.0).run()
    assert not at.exception
    assert any(text.startswith("Erase — IoU@top-10% = ") for text in texts(at))
    assert any("(edited: differs from the preset)" in text for text in texts(at))
    at.selectbox(key="augment_preset").set_value("Study (blog text): MAE < 0.1").run()
    assert at.metric[0].label == "MAE"
    assert at.number_input(key="augment_rule1_threshold").value == pytest.approx(0.1)
    assert not any("(edited" in text for text in texts(at)), "a preset starts from its values"


def test_deepgaze_reference_and_deep_image_prior_run_in_the_background():
    at = page("DeepGaze IIE")
    assert not at.exception
    assert any("DeepGaze IIE (UNTRAINED)" in text for text in texts(at))
    at.radio(key="augment_inpaint").set_value("Deep Image Prior").run()
    at.number_input(key="augment_dip_iters").set_value(6)
    at.number_input(key="augment_dip_every").set_value(2).run()
    [run] = [button for button in at.button if button.label == "Run Deep Image Prior"]
    run.click().run()
    assert not at.exception
    job = at.session_state["augment_dip_job"]
    assert job.wait(timeout=120)
    at.run()
    assert not at.exception
    assert "Deep Image Prior finished after 6 iterations." in texts(at)
    assert job.result.iterations_run == 6


def test_inpaint_job_reports_progress_and_stops():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), bool)
    mask[10:20, 20:30] = True
    finished = InpaintJob(
        "a", image, mask, "Deep Image Prior", {"iterations": 4, "progress_every": 2}
    )
    assert finished.wait(timeout=120)
    assert finished.error is None and finished.result.iterations_run == 4
    snapshot = finished.snapshot()
    assert (snapshot.iteration, snapshot.total) == (4, 4)
    assert snapshot.preview.shape == image.shape
    np.testing.assert_array_equal(finished.result.image[~mask], image[~mask])

    stopped = InpaintJob(
        "b", image, mask, "Deep Image Prior", {"iterations": 100_000, "progress_every": 1}
    )
    deadline = time.monotonic() + 120
    while stopped.snapshot().iteration == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stopped.running, "still fitting when asked to stop"
    stopped.stop()
    assert stopped.wait(timeout=120)
    assert stopped.result.stopped_early
    assert stopped.result.iterations_run < 100_000


def test_inpaint_job_keeps_the_error():
    image = np.zeros((16, 16, 3), np.uint8)
    job = InpaintJob("c", image, np.ones((16, 16), bool), "Telea", {})
    assert job.wait(timeout=30)
    assert isinstance(job.error, ValueError)
    assert "covers the whole image" in str(job.error)


def test_before_after_is_a_swipe_and_downloads_have_portable_names(monkeypatch):
    """The original left of the split, the result right of it (not the original twice), and
    file names without spaces or commas."""
    from streamlit.delta_generator import DeltaGenerator

    from saliency_core import viz

    swipes: list[tuple[np.ndarray, np.ndarray, float]] = []
    real_swipe = viz.swipe

    def recording_swipe(before, after, fraction):
        swipes.append((before, after, fraction))
        return real_swipe(before, after, fraction)

    names: list[str] = []
    real_download = DeltaGenerator.download_button

    def recording_download(self, label, data, file_name=None, *args, **kwargs):
        names.append(file_name)
        return real_download(self, label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(viz, "swipe", recording_swipe)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording_download)
    at = page("Human fixation density")
    assert not at.exception and not at.error
    assert not at.toggle, "the old 'Before' toggle is gone"
    assert at.radio(key="augment_after").options == ["Inpainted (Telea)", "Erased"]
    original = sample_dataset().load(sample_dataset().ids[0]).image
    before, after, fraction = swipes[-1]
    assert fraction == 0.5
    np.testing.assert_array_equal(before, original)
    assert not np.array_equal(after, original), "the result side shows the result"
    at.slider(key="augment_swipe").set_value(20).run()
    assert swipes[-1][2] == pytest.approx(0.2)
    at.radio(key="augment_after").set_value("Erased").run()
    assert (swipes[-1][1] == 0).all(axis=-1).any(), "the erased image (black fill) is shown"
    stem = sample_dataset().ids[0]
    assert f"{stem}_UNTRAINED_inpainted_Telea.png" in names
    assert all(" " not in name and "," not in name for name in names)


def test_the_page_starts_from_the_explore_view():
    """Explore's image, detector, input size and weight source carry over to Augment; a choice
    made on Augment stays until Explore's view changes."""
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("app_pages/1_Explore.py")
    at.session_state["explore_image"] = "014"
    at.session_state["explore_detectors"] = ["FCOS R50-FPN"]
    at.session_state["explore_size"] = "320 px"
    at.session_state["explore_type2"] = ["Centre bias (Gaussian)"]
    at.run()
    assert not at.exception, at.exception
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    state = at.session_state
    assert state["augment_image"] == "014" and state["augment_detector"] == "FCOS R50-FPN"
    assert state["augment_size"] == "320 px"
    assert any("· 014 ·" in caption.value for caption in at.caption)
    at.sidebar.selectbox(key="augment_image").set_value("024").run()
    assert at.session_state["augment_image"] == "024", "the page's own choice stays"
    at.switch_page("app_pages/1_Explore.py")
    at.session_state["explore_image"] = "034"
    at.session_state["explore_detectors"] = ["FCOS R50-FPN"]
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.session_state["augment_image"] == "034", "a new Explore image is followed"
