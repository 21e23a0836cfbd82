"""Streamlit AppTest of the Home and Explore pages (no browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from saliency_core.data.images import Sample
from saliency_core.maps import detector_maps
from saliency_core.models.weights import ModelChoice, WeightSource

TIMEOUT = 300
APP = Path(__file__).resolve().parent.parent / "app.py"


def explore() -> AppTest:
    """The Explore page, reached from the entry point as a user would."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    return at.switch_page("app_pages/1_Explore.py")


def table_values(at: AppTest, index: int) -> np.ndarray:
    return np.asarray(at.dataframe[index].value, dtype=float)


def test_home_page_credits_the_data():
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "NUS Scene Saliency sample" in text and "MIT License" in text
    assert at.title[0].value == "Saliency Explorer"


def test_explore_computes_metrics_and_the_threshold_reruns_no_model(model_calls: list[str]):
    at = explore()
    at.run()
    assert not at.exception
    assert model_calls == ["Faster R-CNN R50-FPN"], "the default preset computes on load"
    model_calls.clear()
    at.sidebar.multiselect(key="explore_detectors").set_value(["FCOS R50-FPN"])
    at.sidebar.selectbox(key="explore_size").set_value("320 px")
    at.run()
    assert not at.exception, at.exception
    assert model_calls == ["FCOS R50-FPN"]
    captions = " ".join(c.value for c in at.caption)
    assert "Untrained (random) weights" in captions

    # map vs reference table: IoU, MAE, CC, SIM, KLD against DeepGaze and the fixation density
    reference_table = table_values(at, 0)
    # rows: CAM vs DeepGaze, CAM vs fixation density, DeepGaze vs fixation density
    assert reference_table.shape == (3, 5)
    assert np.isfinite(reference_table).all()
    fixation_table = table_values(at, 1)
    assert np.isfinite(fixation_table).all(), "NSS, AUC-Judd, AUC-Borji, sAUC, IG all defined"
    iou_before = reference_table.copy()

    at.slider(key="explore_percent").set_value(25.0)
    at.run()
    assert not at.exception
    assert model_calls == ["FCOS R50-FPN"], "moving the threshold ran a model"
    iou_after = table_values(at, 0)
    assert not np.allclose(iou_before, iou_after, equal_nan=True), "IoU follows the threshold"
    assert [b.label for b in at.get("download_button")] == [
        "Download the grid (PNG)",
        "Download the metrics (CSV)",
    ]


def test_explore_reports_missing_weights_without_a_traceback(model_calls, tmp_path, monkeypatch):
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    at = explore()
    at.run()
    at.sidebar.multiselect(key="explore_detectors").set_value(["SSDlite320 MobileNetV3"])
    at.sidebar.radio(key="explore_weights").set_value(WeightSource.PRETRAINED)
    at.sidebar.multiselect(key="explore_type2").set_value(["Spectral residual"])
    at.run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "not available offline" in errors and "ssdlite320_mobilenet_v3_large_coco" in errors
    assert "Traceback" not in errors


def test_the_study_preset_sets_the_protocol(model_calls: list[str]):
    at = explore()
    at.run()
    at.sidebar.multiselect(key="explore_type2").set_value(["Centre bias (Gaussian)"])
    at.sidebar.selectbox(key="explore_preset").set_value("Reproduce the study")
    at.run()
    assert not at.exception
    state = at.session_state
    assert state["explore_detectors"] == ["Faster R-CNN R50-FPN", "SSD300 VGG16"]
    assert state["explore_methods"] == ["EigenCAM"] and state["explore_working"]
    assert state["explore_score"] == 0.9 and state["explore_percent"] == 10.0
    captions = " ".join(c.value for c in at.caption)
    assert "· 004 · 512×512 px" in captions, "images are resized to 512×512"
    assert "SSD300 VGG16" in model_calls
    notes = " ".join(m.value for m in at.markdown)
    assert "near-black image" in notes and "issue #315" in notes


def test_choices_survive_a_weight_free_type2_model(model_calls: list[str]):
    """The study-range toggle is hidden for weight-free models; that must not reset the sidebar."""
    at = explore()
    at.run()
    at.sidebar.multiselect(key="explore_type2").set_value(["Centre bias (Gaussian)"])
    at.sidebar.multiselect(key="explore_detectors").set_value([])
    at.run()
    at.run()
    at.run()
    assert not at.exception
    assert at.session_state["explore_detectors"] == [], "the preset overwrote the user's choice"


def test_cached_maps_follow_a_rewritten_weights_file(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """cached.cam / cached.type2 are keyed by the weights file's content stamp, not its path."""
    import os

    from ui import cached

    st.cache_data.clear()
    calls: list[str] = []
    monkeypatch.setattr(
        detector_maps, "compute_cam", lambda *a, **k: calls.append("cam") or len(calls)
    )
    monkeypatch.setattr(
        cached.gaze, "predict_type2", lambda *a, **k: calls.append("type2") or len(calls)
    )
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"first")
    rgb = np.zeros((8, 8, 3), np.uint8)
    choice = ModelChoice("FCOS R50-FPN", WeightSource.FILE, str(weights))
    sample = Sample("img", rgb, "upload")

    def both():
        cached.cam(sample, choice, "EigenCAM", None, 0.9)
        cached.type2("img", rgb, "DeepGaze IIE", "file", str(weights), False)

    both()
    both()
    assert calls == ["cam", "type2"]
    weights.write_bytes(b"second, longer")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    both()
    assert calls == ["cam", "type2", "cam", "type2"], "stale maps of the old weights file"


def png(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_image_and_mask_are_compared(model_calls: list[str]):
    rgba = np.zeros((96, 128, 4), np.uint8)
    rgba[..., :3] = 40
    rgba[20:70, 30:100, :3] = (230, 200, 30)
    rgba[..., 3] = 255
    mask = np.zeros((48, 64), np.uint8)
    mask[10:35, 15:50] = 255  # another size than the image: resized with a notice
    at = explore().run()
    at.sidebar.radio(key="explore_source").set_value("Upload")
    at.sidebar.multiselect(key="explore_detectors").set_value(["FCOS R50-FPN"])
    at.sidebar.selectbox(key="explore_size").set_value("320 px")
    at.sidebar.multiselect(key="explore_type2").set_value(["Spectral residual"])
    at.run()
    at.sidebar.file_uploader(key="explore_upload").upload("scene.png", png(rgba), "image/png")
    at.sidebar.file_uploader(key="explore_mask_upload").upload("mask.png", png(mask), "image/png")
    at.run()
    assert not at.exception, at.exception
    infos = " ".join(i.value for i in at.info)
    assert "Mask resized from 64×48 to the image's 128×96 px." in infos
    assert "Composited RGBA transparency onto white." in infos
    table = at.dataframe[0].value
    assert "human attention mask" in table.index.get_level_values("reference")
    assert np.isfinite(np.asarray(table, dtype=float)).all()

    at.sidebar.file_uploader(key="explore_upload").upload("notes.png", b"not an image", "image/png")
    at.run()
    assert not at.exception
    assert "not an image format we can read" in " ".join(e.value for e in at.error)


def test_a_first_use_download_shows_a_progress_bar(model_calls, tmp_path, monkeypatch):
    import torch

    from saliency_core.models import detectors, weights

    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))
    state = detectors.load_detector("SSDlite320 MobileNetV3", "untrained").model.state_dict()

    def fake_download(url, destination, progress=None):  # a "server" that streams 2 chunks
        destination.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, destination)
        size = destination.stat().st_size
        for done in (size // 2, size):
            progress(done, size)
        return destination

    monkeypatch.setattr(weights, "download_checkpoint", fake_download)
    at = explore().run()
    at.sidebar.multiselect(key="explore_detectors").set_value(["SSDlite320 MobileNetV3"])
    at.sidebar.radio(key="explore_weights").set_value(WeightSource.PRETRAINED)
    at.sidebar.multiselect(key="explore_type2").set_value(["Spectral residual"])
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    bars = [element for element in at.get("progress")]
    assert any(
        "Downloading SSDlite320 MobileNetV3 (pretrained) weights" in str(b.proto) for b in bars
    )
    assert (
        tmp_path / "checkpoints" / detectors.DETECTORS["SSDlite320 MobileNetV3"].checkpoint_name
    ).is_file()


def test_a_link_restores_the_whole_view(model_calls: list[str]):
    """Opening a URL with settings parameters restores them; a bad one is named, not fatal."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(
        {
            "dataset": "NUS Scene sample (50 images, real fixations)",
            "image": "014",
            "det": "YOLO-nonexistent~FCOS R50-FPN",
            "insize": "96",
            "t2": "Spectral residual",
            "p": "25",
            "sigma": "12.5",
        }
    )
    at.run()
    at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception, at.exception
    state = at.session_state
    assert state["explore_detectors"] == ["FCOS R50-FPN"]
    # a size none of the offered ones (e.g. from a Dataset report run) is kept as it is
    assert state["explore_size"] == "96 px" and state["explore_type2"] == ["Spectral residual"]
    assert "96 px" in at.sidebar.selectbox(key="explore_size").options
    assert state["explore_percent"] == 25.0 and state["explore_sigma"] == 12.5
    assert state["explore_image"] == "014"
    assert model_calls == ["FCOS R50-FPN"]
    warnings = " ".join(w.value for w in at.warning)
    assert "YOLO-nonexistent" in warnings
    # the URL follows the sidebar: a new choice is written back, the defaults are left out
    at.sidebar.multiselect(key="explore_methods").set_value(["EigenCAM", "LayerCAM"]).run()
    assert at.query_params["cam"] == "EigenCAM~LayerCAM"
    assert at.query_params["det"] == "FCOS R50-FPN" and "w" not in at.query_params
    assert at.query_params["insize"] == "96"


def test_nothing_to_show_names_the_cause_and_draws_no_empty_output(
    model_calls, tmp_path, monkeypatch
):
    """Every map failed (pretrained weights offline, an empty weights-file path): the page says
    what is missing and how to fix it, with no empty heading, chart, table or CSV."""
    from saliency_core.models.cache import MODELS

    MODELS.clear()  # pretrained models another test built stay in memory otherwise
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    at = explore().run()
    at.sidebar.multiselect(key="explore_detectors").set_value(["SSDlite320 MobileNetV3"])
    at.sidebar.radio(key="explore_weights").set_value(WeightSource.PRETRAINED)
    at.sidebar.radio(key="explore_type2_weights").set_value(WeightSource.PRETRAINED)
    at.run()
    assert not at.exception, at.exception

    def shown() -> str:
        return " ".join(w.value for w in at.warning)

    warning = shown()
    assert "Nothing to show: no map could be computed" in warning
    assert "SSDlite320 MobileNetV3" in warning and "DeepGaze IIE" in warning
    assert "untrained weights" in warning, "says how to fix it"
    assert "Choose at least one detector" not in warning
    assert not at.dataframe and not at.subheader and not at.get("plotly_chart")
    assert not at.get("download_button")

    at.sidebar.radio(key="explore_weights").set_value(WeightSource.FILE).run()
    warning = shown()
    assert "SSDlite320 MobileNetV3: no weights file given" in warning
    assert "give the state-dict file's path" in warning
    assert not at.dataframe and not at.get("download_button")


def test_a_weights_file_outside_the_apps_folders_is_refused_unopened(model_calls, tmp_path):
    """A shared server: a typed weights path is read only under the results and dataset
    folders (app.py), and the page says so with the single-user opt-in."""
    outside = tmp_path / "model.pt"
    outside.write_bytes(b"never read")
    at = explore().run()
    model_calls.clear()
    at.sidebar.multiselect(key="explore_detectors").set_value(["SSDlite320 MobileNetV3"])
    at.sidebar.multiselect(key="explore_type2").set_value([])
    at.sidebar.radio(key="explore_weights").set_value(WeightSource.FILE).run()
    at.sidebar.text_input(key="explore_path_SSDlite320 MobileNetV3").set_value(str(outside))
    at.run()
    assert not at.exception, at.exception
    said = " ".join(e.value for e in [*at.error, *at.warning])
    assert f"{outside} is outside the results and dataset folders: refused" in said, said
    assert "SALIENCY_ALLOW_ANY_PATH=1" in said
    assert model_calls == [], "no model was built from it"


def test_several_type2_maps_at_once_and_in_the_link(model_calls: list[str]):
    """Two type-2 models: each is a map and a reference, and the pair survives a link."""
    at = explore().run()
    model_calls.clear()
    at.sidebar.multiselect(key="explore_detectors").set_value([])
    at.sidebar.multiselect(key="explore_type2").set_value(
        ["Spectral residual", "Centre bias (Gaussian)"]
    )
    at.run()
    assert not at.exception, at.exception
    assert model_calls == []
    table = at.dataframe[0].value
    pairs = set(table.index.tolist())
    spectral, centre = "Spectral residual", "Centre bias (Gaussian)"
    maps = {name for _, name in pairs}
    references = {reference for reference, _ in pairs}
    assert any(spectral in m for m in maps) and any(centre in m for m in maps)
    assert any(spectral in r for r in references) and any(centre in r for r in references)
    assert at.query_params["t2"] == f"{spectral}~{centre}"
    link = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    link.query_params.update({"t2": f"{centre}~{spectral}", "det": ""})
    link.run()
    link.switch_page("app_pages/1_Explore.py").run()
    assert not link.exception, link.exception
    assert link.session_state["explore_type2"] == [centre, spectral]
