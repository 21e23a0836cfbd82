"""AppTest of the Explore page's address: view controls in the link, links to what is not there,
uploads, the two "Explain" radios, and the fixation sigma that follows the image (no browser;
cheap maps only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from saliency_core.data.datasets import SAMPLE_NAME, sample_dataset
from ui import widgets

TIMEOUT = 300
APP = Path(__file__).resolve().parent.parent / "app.py"
SPECTRAL = "Spectral residual"


def explore(**params: str) -> AppTest:
    """The Explore page opened from a link with ``params``."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    return at.switch_page("app_pages/1_Explore.py").run()


@pytest.fixture(autouse=True)
def only_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALIENCY_DATA_DIR", raising=False)


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_the_agreement_views_controls_are_in_the_link_and_restored(model_calls):
    at = explore(det="", t2=SPECTRAL)
    assert not at.exception, at.exception
    assert "fix" not in at.query_params and at.query_params["vs"].startswith(SPECTRAL)
    at.toggle(key="explore_show_fix").set_value(False).run()
    at.radio(key="explore_against").set_value("human fixation density").run()
    at.slider(key="explore_percent").set_value(11.5).run()
    assert not at.exception, at.exception
    link = dict(at.query_params)
    assert (link["fix"], link["vs"], link["p"]) == ("0", "human fixation density", "11.5")
    assert link["dataset"] == SAMPLE_NAME and link["image"] == sample_dataset().ids[0]
    again = explore(**link)
    assert not again.exception, again.exception
    assert again.toggle(key="explore_show_fix").value is False
    assert again.radio(key="explore_against").value == "human fixation density"
    assert again.slider(key="explore_percent").value == 11.5
    assert dict(again.query_params) == link
    assert not again.warning


def test_a_link_to_a_reference_that_is_not_there_says_so(model_calls):
    at = explore(det="", t2=SPECTRAL, vs="DeepGaze IIE")
    assert not at.exception, at.exception
    assert warnings(at) == [
        "The agreement reference “DeepGaze IIE” is not among this view's references "
        f"({SPECTRAL}, human fixation density): showing {SPECTRAL}."
    ]
    assert at.radio(key="explore_against").value == SPECTRAL
    assert at.query_params["vs"] == SPECTRAL, "the address names what is shown"
    at.radio(key="explore_against").set_value("human fixation density").run()
    assert not at.warning, "said once"


def test_a_links_value_off_its_slider_is_said_with_what_is_shown(model_calls):
    at = explore(det="", t2=SPECTRAL, p="80", score="0.01")
    assert not at.exception, at.exception
    assert warnings(at) == [
        "The link's detection score threshold 0.01 is not a value of its slider (0.05–1 in steps "
        "of 0.05): showing 0.05.",
        "The link's top-p% 80 is not a value of its slider (1–50 in steps of 0.5): showing 50.",
    ]
    assert at.slider(key="explore_percent").value == 50.0
    assert at.query_params["p"] == "50", "the address names what is shown"


def test_a_link_to_an_image_or_dataset_that_is_not_there_says_so(model_calls):
    first = sample_dataset().ids[0]
    at = explore(dataset=SAMPLE_NAME, image="../../etc/hostname", det="", t2=SPECTRAL)
    assert not at.exception, at.exception
    assert warnings(at) == [
        f"The link's image '../../etc/hostname' is not in {SAMPLE_NAME}: showing '{first}' "
        "instead."
    ]
    assert at.query_params["image"] == first, "the address names what is shown"
    at = explore(dataset="renamed", image="014", det="", t2=SPECTRAL)
    assert warnings(at) == [
        f"The link's dataset 'renamed' is not among the datasets listed here: showing "
        f"'{SAMPLE_NAME}' instead."
    ]
    assert at.session_state["explore_image"] == "014", "the image is looked up all the same"
    at.sidebar.selectbox(key="explore_image").set_value(sample_dataset().ids[0]).run()
    assert not at.warning, "said once, for the link"


def png(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_upload_is_named_in_the_address_and_cannot_be_shared(model_calls):
    at = explore(det="", t2=SPECTRAL)
    assert at.query_params["image"] == sample_dataset().ids[0]
    at.sidebar.radio(key="explore_source").set_value("Upload").run()
    at.sidebar.file_uploader(key="explore_upload").upload(
        "scene.png", png(np.full((40, 60, 3), 90, np.uint8)), "image/png"
    )
    at.run()
    assert not at.exception, at.exception
    link = dict(at.query_params)
    assert link["source"] == "upload" and "image" not in link and "dataset" not in link
    assert widgets.UPLOAD_NOT_SHARED in [c.value for c in at.sidebar.caption]
    reopened = explore(**link)
    assert reopened.sidebar.radio(key="explore_source").value == "Upload"
    assert [i.value for i in reopened.info][0] == widgets.LINK_TO_UPLOAD


def test_the_two_explain_radios_have_distinct_labels(model_calls):
    at = explore(det="", t2=SPECTRAL, cls="ResNet-50", clssize="64", clsk="3")
    assert not at.exception, at.exception
    labels = [r.label for r in at.sidebar.radio if r.label.startswith("Explain")]
    assert labels == ["Explain (classifiers)", "Explain (detectors)"]
    assert at.sidebar.radio(key="explore_cls_target").value == "top-k classes"
    assert at.query_params["clsk"] == "3", "the URL keys are unchanged"


SIZES = {"small": (60, 60), "large": (90, 120)}  # (H, W): one degree = max / 30 = 2.0, 4.0 px


@pytest.fixture
def two_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A dataset of two images of different sizes, each with fixations."""
    root = tmp_path / "sizes"
    for folder in ("images", "fixations"):
        (root / folder).mkdir(parents=True)
    for stem, (height, width) in SIZES.items():
        Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(
            root / "images" / f"{stem}.png"
        )
        points = pd.DataFrame({"x": [10.0, 20.0, 30.0], "y": [12.0, 25.0, 40.0]})
        points.to_csv(root / "fixations" / f"{stem}.csv", index=False)
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(root))
    return root.name


def test_the_fixation_sigma_follows_the_image_unless_the_user_set_it(model_calls, two_sizes):
    at = explore(dataset=two_sizes, image="small", det="", t2=SPECTRAL)
    assert not at.exception, at.exception
    sigma = at.sidebar.slider(key="explore_sigma")
    assert sigma.value == 2.0 and at.session_state["explore_settings"].sigma is None
    assert "sigma" not in at.query_params, "the default follows the image: not in the link"
    at.sidebar.selectbox(key="explore_image").set_value("large").run()
    assert at.sidebar.slider(key="explore_sigma").value == 4.0
    at.sidebar.selectbox(key="explore_image").set_value("small").run()
    assert at.sidebar.slider(key="explore_sigma").value == 2.0
    at.sidebar.slider(key="explore_sigma").set_value(3.0).run()
    at.sidebar.selectbox(key="explore_image").set_value("large").run()
    assert not at.exception, at.exception
    assert at.sidebar.slider(key="explore_sigma").value == 3.0, "a user-set sigma stays"
    assert at.session_state["explore_settings"].sigma == 3.0 and at.query_params["sigma"] == "3"
    linked = explore(dataset=two_sizes, image="small", det="", t2=SPECTRAL, sigma="5")
    linked.sidebar.selectbox(key="explore_image").set_value("large").run()
    assert linked.sidebar.slider(key="explore_sigma").value == 5.0, "a link's sigma is set"


def test_the_finer_grained_controls_are_in_the_link_and_restored(model_calls):
    """The finer-grained expander is a fragment too: its controls reach the address the moment
    they move, and a link restores them."""
    at = explore(det="", t2=SPECTRAL)
    at.toggle(key="explore_fg_on").set_value(True).run()
    at.number_input(key="explore_fg_width").set_value(1.0).run()  # (onset windows only)
    at.selectbox(key="explore_fg_metric").set_value("AUC-Judd").run()
    at.radio(key="explore_fg_split").set_value("ordinal (k-th fixation per subject)").run()
    assert not at.exception, at.exception
    link = dict(at.query_params)
    assert link["fg"] == "1" and link["fgsplit"] == "ordinal (k-th fixation per subject)"
    assert (link["fgmetric"], link["fgwidth"]) == ("AUC-Judd", "1")
    again = explore(**link)
    assert not again.exception, again.exception
    assert again.toggle(key="explore_fg_on").value is True
    assert again.radio(key="explore_fg_split").value == "ordinal (k-th fixation per subject)"
    assert again.selectbox(key="explore_fg_metric").value == "AUC-Judd"
    assert again.number_input(key="explore_fg_width").value == 1.0
    assert dict(again.query_params) == link
    assert not again.warning


def test_the_slider_table_clamps_and_says_what_it_cannot_show():
    from saliency_core.settings import Settings
    from ui import sliders

    assert sliders.on_slider("top_percent", 80.0) == 50.0
    assert sliders.on_slider("top_percent", 10.25) == 10.0  # the live slider's steps too
    assert sliders.on_slider("top_percent", 10.3) == 10.5
    assert sliders.on_slider("score_threshold", 0.33) == 0.35
    assert sliders.on_slider("consensus_sigma", 12.7) == 13, "a whole-step slider"
    assert sliders.slider_range("top_percent") == {"min_value": 1.0, "max_value": 50.0, "step": 0.5}
    assert sliders.off_slider_notes(Settings(consensus=True, consensus_sigma=12.5)) == [
        "The link's consensus smoothing sigma (px) 12.5 is not a value of its slider (0–40 in "
        "steps of 1): showing 12."
    ]
    assert sliders.off_slider_notes(Settings(consensus_sigma=12.5)) == [], "not drawn: no note"
    assert sliders.off_slider_notes(Settings()) == []
