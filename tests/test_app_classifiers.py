"""Streamlit AppTest: classifiers on the Explore page (an untrained ResNet-50 at 64 px)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"
LABEL = "ResNet-50 (UNTRAINED) · GradCAM"


def frames(at: AppTest) -> list:
    return [frame.value for frame in at.dataframe]


def test_explore_shows_a_classifiers_top5_its_map_and_road_on_demand():
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=300).run()
    at = at.switch_page("app_pages/1_Explore.py").run()
    at.sidebar.multiselect(key="explore_detectors").set_value([])
    at.sidebar.multiselect(key="explore_type2").set_value(["Centre bias (Gaussian)"])
    at.sidebar.multiselect(key="explore_classifiers").set_value(["ResNet-50"])
    at.run()
    at.sidebar.selectbox(key="explore_cls_size").set_value("64 px")
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["explore_cls_methods"] == ["GradCAM"], "GradCAM by default"
    top5 = next(
        f for f in frames(at) if list(f.columns) == ["rank", "class", "index", "probability"]
    )
    assert top5["rank"].tolist() == [1, 2, 3, 4, 5]
    probabilities = top5["probability"].to_numpy()
    assert np.all(np.diff(probabilities) <= 0) and 0 < probabilities.sum() <= 1 + 1e-6
    assert "**ResNet-50 (UNTRAINED)**" in [m.value for m in at.markdown]
    captions = " ".join(c.value for c in at.caption)
    assert f"Explained class index(es) — GradCAM: {top5['index'][0]} (top-1)" in captions
    assert "Untrained (random) weights" in captions
    # the classifier's map is in the grid (a row of its own, a column per method) and in the
    # metric tables like any type-1 map
    shown = [image.caption for element in at.get("image") for image in element.proto.imgs]
    assert any(caption.startswith("GradCAM @ ") for caption in shown), shown
    metrics = frames(at)[0]
    assert LABEL in metrics.index.get_level_values("map")
    assert at.query_params["cls"] == "ResNet-50" and at.query_params["clssize"] == "64"
    assert "Not computed yet (costly: 6 perturbations" in captions

    road = next(b for b in at.button if b.label == "Compute faithfulness (ROAD)")
    road.click().run()
    assert not at.exception, at.exception
    table = next(f for f in frames(at) if "ROAD MoRF, 80% removed" in f.columns)
    assert table["map"].tolist() == [LABEL]
    changes = table.filter(like="ROAD").to_numpy(dtype=float)
    assert changes.shape == (1, 6) and np.all(np.abs(changes) <= 1)
    assert {"IoU@top-10% vs human fixation density", "NSS vs fixations"} <= set(table.columns)
    assert np.isfinite(table["NSS vs fixations"]).all()


def test_explore_with_a_captum_method_renders_while_and_after_it_runs():
    """Issue 20 §6: the ETA of a running Captum step raised KeyError('Integrated Gradients')
    (it looked every method up among the detector CAMs), so the page failed while it ran."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params.update(
        {
            "dataset": "NUS Scene sample (50 images, real fixations)",
            "image": "002",
            "det": "SSDlite320 MobileNetV3",
            "insize": "96",
            "cam": "EigenCAM",
            "t2": "Centre bias (Gaussian)",
            "cls": "ResNet-50",
            "clssize": "64",
            "clsm": "GradCAM~Integrated Gradients",
        }
    )
    at.run()
    at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception, at.exception
    assert at.session_state["explore_cls_methods"] == ["GradCAM", "Integrated Gradients"]
    metrics = frames(at)[0]
    assert "ResNet-50 (UNTRAINED) · Integrated Gradients" in metrics.index.get_level_values("map")
