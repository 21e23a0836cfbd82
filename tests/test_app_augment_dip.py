"""The Augment page's Deep Image Prior: working size, iteration default, ETA, first preview."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_app_augment import APP, DETECTOR, PAGE

from saliency_core.augment.dip import default_iterations
from ui.augment_jobs import Snapshot, format_duration, progress_text


def test_format_duration():
    assert format_duration(0) == "0:00"
    assert format_duration(59.4) == "0:59"
    assert format_duration(59.6) == "1:00"
    assert format_duration(754) == "12:34"
    assert format_duration(6 * 3600 + 5 * 60 + 7) == "6:05:07"


def test_progress_text_before_and_after_the_first_iteration():
    waiting = Snapshot(0, 100, math.nan, None, 0, math.nan)
    assert progress_text(waiting, (358, 512)) == (
        "Building the network and running the first iteration at 512×358…"
    )
    first = Snapshot(1, 100, 0.0421, np.zeros((2, 2, 3), np.uint8), 1, 2.5)
    assert progress_text(first, (358, 512)) == (
        "iteration 1/100 · 2.50 s/it · ETA 4:08 · loss 0.04210"  # 99 × 2.5 s = 247.5 s
    )
    later = Snapshot(40, 100, math.nan, None, 0, 0.613)
    assert progress_text(later, (358, 512)) == "iteration 40/100 · 0.61 s/it · ETA 0:37"


def _dip_page() -> AppTest:
    """The Augment page on the sample's first image (256×256), Deep Image Prior chosen."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    at.session_state["augment_detector"] = DETECTOR
    at.session_state["augment_size"] = "320 px"
    at.session_state["augment_cam"] = "EigenCAM"
    at.session_state["augment_reference"] = "Human fixation density"
    at.session_state["augment_inpaint"] = "Deep Image Prior"
    return at.run()


def test_deep_image_prior_states_its_working_size_and_shows_the_first_preview_and_an_eta(
    monkeypatch,
):
    monkeypatch.setenv("SALIENCY_DEVICE", "cpu")
    at = _dip_page()
    assert not at.exception, at.exception
    captions = [el.value for el in at.caption]
    assert any(
        text.startswith("Deep Image Prior works at 256×256 (working size 512 px on cpu;")
        for text in captions
    ), captions
    assert at.number_input(key="augment_dip_iters").value == default_iterations("cpu", (256, 256))
    at.selectbox(key="augment_dip_side").set_value(128).run()
    assert any(
        text.startswith(
            "Deep Image Prior works at 128×128 (working size 128 px on cpu, resized back to "
            "256×256;"
        )
        for text in (el.value for el in at.caption)
    )
    # 60 s / (0.02 s + 2.3 s × 0.016384 padded megapixels) = 1040.2: the default follows the
    # working size
    assert at.number_input(key="augment_dip_iters").value == 1040
    at.number_input(key="augment_dip_every").set_value(1000).run()
    [run] = [button for button in at.button if button.label == "Run Deep Image Prior"]
    run.click().run()
    assert not at.exception, at.exception
    job = at.session_state["augment_dip_job"]
    deadline = time.monotonic() + 120
    while job.snapshot().iteration < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert not at.exception, at.exception
    [bar] = at.progress
    assert bar.text.startswith("iteration ") and "/1040 · " in bar.text, bar.text
    assert " s/it · ETA " in bar.text
    captions = [caption for image in at.image for caption in image.captions]
    assert "Inpainted (Deep Image Prior, preview after iteration 1)" in captions, captions
    [stop] = [button for button in at.button if button.label == "Stop"]
    stop.click().run()
    assert job.wait(timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert job.result.stopped_early and job.result.working_shape == (128, 128)
    texts = [el.value for el in at.caption]
    assert f"Deep Image Prior stopped after {job.result.iterations_run} iterations." in texts
    assert any(text.startswith("Fitted at 128×128 in about ") for text in texts), texts
    assert job.result.image.shape == (256, 256, 3)
    at.number_input(key="augment_dip_iters").set_value(40).run()
    at.selectbox(key="augment_dip_side").set_value(256).run()
    assert at.number_input(key="augment_dip_iters").value == 40, "an edited count is kept"


@pytest.mark.parametrize("device", ["cuda"])
def test_the_iteration_default_on_cuda_is_the_papers(device):
    assert default_iterations(device, (256, 256)) == 3000
