"""The Dataset report page (Streamlit AppTest) on a small results folder written here."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_evaluate import write_dataset

from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine, summary
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings, from_query
from ui import run_panel, tables
from ui.report import gallery, summary_table

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/3_Dataset_report.py"
TIMEOUT = 300
DETECTOR = "FCOS R50-FPN"
SETTINGS = Settings(
    detectors=(DETECTOR,), cams=("EigenCAM",), type2=(), references=("fixations", "mask"),
    input_size=64,
)  # fmt: skip
CAM = f"{DETECTOR} (UNTRAINED) · EigenCAM @ layer4"


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-image dataset, a results folder of one untrained detector on it, a cache folder."""
    base = tmp_path_factory.mktemp("report")
    dataset = write_dataset(base / "toy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALIENCY_CACHE_DIR", str(base / "cache"))
        done = engine.run(dataset, SETTINGS, base / "results" / "toy-run")
    assert done.computed == 4 and not done.errors
    return {"data": dataset.root, "results": base / "results", "cache": base / "cache"}


@pytest.fixture(autouse=True)
def environment(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(places["data"]))
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(places["results"]))
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(places["cache"]))
    yield


def open_report() -> AppTest:
    """The report page, reached from the entry point (its links resolve against app.py)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    return at.switch_page(PAGE).run()


def array(value) -> np.ndarray:
    """A plotly JSON array (a list, or plotly's typed-array dict of base64 bytes)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def gallery_items(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**#")]


def test_table_charts_and_gallery_render(places: dict[str, Path]):
    at = open_report()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.selectbox(key="report_folder").value == str(places["results"] / "toy-run")
    stored = ResultsFolder(places["results"] / "toy-run").table()

    # the summary: the CAM row, the centre-bias floor and the people ceiling; means as stored
    table = at.dataframe[0].value
    assert table["map"].iloc[0] == CAM and table["map"].iloc[1].startswith("centre-bias floor")
    assert table["kind"].tolist() == ["type-1", "floor", "ceiling"]
    assert table["n images"].tolist() == [4, 4, 4]
    mae = stored[(stored["map"] == CAM) & (stored["metric"] == "MAE")]
    expected = mae[mae["reference_key"] == "mask"]["value"].mean()
    # the ceiling row has no MAE, so the column is shown as text ("n/a" there, not "None")
    assert table["MAE vs mask"].iloc[0] == tables.format_value(expected)
    assert table["MAE vs mask"].iloc[2] == "n/a"
    long = summary.summarize(stored)
    assert set(table.columns) >= {
        summary_table.column_name(r, m)
        for r, m in zip(long["reference_key"], long["metric"], strict=True)
    }

    # the charts: a box per map (the first metric against the first reference), mean curves
    box, curves, *_ = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    assert [trace["type"] for trace in box["data"]] == ["box", "box", "box"]  # CAM, floor, ceiling
    cam_values = stored[
        (stored["map"] == CAM)
        & (stored["reference_key"] == "fixations")
        & (stored["metric"] == "IoU@top-10%")
    ]["value"]
    assert array(box["data"][0]["y"]) == pytest.approx(cam_values.to_numpy())
    assert box["layout"]["title"]["text"].startswith("IoU@top-10% vs. human fixation density")
    assert len(curves["data"]) == 2 and curves["layout"]["shapes"][0]["x0"] == 10.0

    # the gallery: worst first for (the CAM, fixation density, IoU), one picture per image
    ranked = gallery.rank_images(stored, CAM, "fixations", "IoU@top-10%")
    items = gallery_items(at)
    assert [item.split(" · ")[1].split("**")[0] for item in items] == ranked["image"].tolist()
    values = [tables.format_value(v) for v in ranked["value"]]
    assert [item.rsplit("= ", 1)[1] for item in items] == values
    assert len(at.get("image")) == 4
    assert not at.warning or all("UNTRAINED" in w.value for w in at.warning)
    assert [b.label for b in at.get("download_button")] == [
        "Per-image table (CSV)",
        "Per-image table (Parquet)",
        "Summary (CSV)",
        "Summary (LaTeX)",
    ]


def test_a_gallery_link_opens_explore_with_the_image_and_the_settings():
    at = open_report()
    first = gallery_items(at)[0].split(" · ")[1].split("**")[0]
    links = [link for link in at.get("page_link") if link.proto.label == "Open in Explore"]
    assert len(links) == 4
    link = links[0]
    assert link.proto.page.endswith("Explore")
    # as Streamlit reads a URL: blank values kept ("t2=" is the run's empty type-2 list)
    params = dict(parse_qsl(link.proto.query_string, keep_blank_values=True))
    assert params["dataset"] == "toy" and params["image"] == first
    restored, notes = from_query(params)
    assert notes == [] and restored == SETTINGS


def test_tags_are_saved_and_filter_the_gallery(places: dict[str, Path]):
    folder = ResultsFolder(places["results"] / "toy-run")
    at = open_report()
    [tag_input] = [t for t in at.text_input if t.key.endswith("_b")]
    tag_input.set_value(" clutter,  Text ,clutter").run()
    assert not at.exception
    assert (folder.root / "tags.csv").read_text() == 'image,tags\nb,"clutter, Text"\n'

    again = open_report()  # a new session reads the tags back
    [tag_input] = [t for t in again.text_input if t.key.endswith("_b")]
    assert tag_input.value == "clutter, Text"
    tags = again.multiselect(key="report_gallery_tags")
    assert tags.options == ["clutter", "Text"]
    tags.set_value(["text"] if "text" in tags.options else ["Text"]).run()
    assert [item.split(" · ")[1].split("**")[0] for item in gallery_items(again)] == ["b"]
    folder.write_tags({})


def test_value_range_filter_narrows_the_gallery(places: dict[str, Path]):
    at = open_report()
    at.selectbox(key="report_gallery_ref").set_value("mask").run()
    at.selectbox(key="report_gallery_metric").set_value("MAE").run()
    stored = ResultsFolder(places["results"] / "toy-run").table()
    ranked = gallery.rank_images(stored, CAM, "mask", "MAE")
    low, high = float(ranked["value"].min()), float(ranked["value"].max())
    middle = float(np.median(ranked["value"]))
    [value_range] = [s for s in at.slider if s.label == "Value range"]
    # the step follows the range (it was 0.01 whatever the range: one key press dropped an image)
    assert value_range.step == gallery.slider_step(low, high) < (high - low) / 50
    value_range.set_value((low, middle)).run()
    assert not at.exception
    shown = [item.split(" · ")[1].split("**")[0] for item in gallery_items(at)]
    expected = ranked[ranked["value"] <= middle]["image"].tolist()  # MAE: highest first
    assert shown == expected and 0 < len(shown) < 4 and high > middle


def test_empty_states_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(tmp_path / "none yet"))
    at = open_report()
    assert not at.exception
    [info] = [i.value for i in at.info if "No results folder" in i.value]
    assert "saliency evaluate --dataset DIR --out" in info
    (tmp_path / "none yet" / "empty").mkdir(parents=True)
    at.sidebar.text_input(key="report_path").set_value(str(tmp_path / "none yet/empty")).run()
    assert not at.exception
    assert any("is not a results folder" in e.value for e in at.error)


def test_a_folder_outside_the_results_root_is_refused_where_the_path_box_is(
    places: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A copy of a real run outside $SALIENCY_RESULTS_DIR: refused with the opt-in named, and the
    path box's help says so (the opt-in opens such a copy in the time-and-objects test)."""
    monkeypatch.delenv("SALIENCY_ALLOW_ANY_PATH", raising=False)
    copy = tmp_path / "copied-run"
    shutil.copytree(places["results"] / "toy-run", copy)
    at = open_report()
    box = at.sidebar.text_input(key="report_path")
    assert f"under {places['results']} ($SALIENCY_RESULTS_DIR)" in box.help
    assert "SALIENCY_ALLOW_ANY_PATH=1" in box.help
    box.set_value(str(copy)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"{copy} is outside the results folder $SALIENCY_RESULTS_DIR ({places['results']}): "
        "refused (the app reads only under its configured folders). On a single-user machine, "
        "start the app with SALIENCY_ALLOW_ANY_PATH=1 to open any folder."
    ]
    assert not gallery_items(at)


def test_a_run_started_on_the_page_stops_and_is_shown(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
):
    """Start, Stop during the first image: that image is kept, the folder is selected."""
    released = threading.Event()
    real = engine.compute_maps

    def held(*args, **kwargs):
        result = real(*args, **kwargs)
        released.wait(120)
        return result

    monkeypatch.setattr(engine, "compute_maps", held)
    at = open_report()
    at.selectbox(key="report_run_dataset").set_value("toy")
    at.multiselect(key="report_run_detectors").set_value([DETECTOR])
    at.selectbox(key="report_run_size").set_value("320 px")
    at.number_input(key="report_run_limit").set_value(3)
    at.text_input(key="report_run_out").set_value("page-run").run()
    assert at.multiselect(key="report_run_refs_toy").value == ["fixations", "mask"]
    at.button(key="report_run_start").click().run()
    assert not at.exception
    job = at.session_state["report_run_job"]
    assert job.running and not at.button(key="report_run_stop").disabled
    at.button(key="report_run_stop").click().run()
    released.set()
    assert job.wait(TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    out = places["results"] / "page-run"
    assert job.result.cancelled and job.result.out == out
    # the images actually scored, of the run's 3 (it said "3 images" before)
    panel, header = [i.value for i in at.info if i.value.startswith("Run stopped")]
    assert panel.startswith("Run stopped: 1 of 3 images scored (1 by this run, ")
    notices = job.result.notices
    assert (f" s, {notices} notices) → " in panel) if notices else ("notices" not in panel)
    assert header == (
        "Run stopped: 1 of 3 images scored. "
        "Rerun with the same settings into the same folder to resume it."
    )
    assert not at.success
    manifest = ResultsFolder(out).manifest()
    assert manifest["status"] == "stopped" and manifest["settings"]["input_size"] == 320
    assert ResultsFolder(out).done() == {"a"}
    assert at.sidebar.selectbox(key="report_folder").value == str(out)
    table = at.dataframe[0].value
    assert isinstance(table, pd.DataFrame) and table["n images"].tolist() == [1, 1, 1]
    assert Dataset("toy", places["data"]).ids[:1] == ["a"]


def test_a_run_of_a_classifier_alone_can_be_started_on_the_page(places: dict[str, Path]):
    """No detector, ResNet-50 (untrained, 64 px) with GradCAM: the run writes classifier rows."""
    at = open_report()
    at.selectbox(key="report_run_dataset").set_value("toy")
    at.multiselect(key="report_run_detectors").set_value([]).run()
    assert at.button(key="report_run_start").disabled, "nothing to run yet"
    at.multiselect(key="report_run_classifiers").set_value(["ResNet-50"]).run()
    at.selectbox(key="report_run_cls_size").set_value("64 px")
    at.number_input(key="report_run_limit").set_value(1)
    at.text_input(key="report_run_out").set_value("classifier-run").run()
    assert at.multiselect(key="report_run_cls_methods").value == ["GradCAM"]
    at.button(key="report_run_start").click().run()
    assert not at.exception, at.exception
    job = at.session_state["report_run_job"]
    assert job.wait(TIMEOUT) and not job.result.cancelled
    folder = ResultsFolder(places["results"] / "classifier-run")
    settings = folder.manifest()["settings"]
    assert settings["classifiers"] == ["ResNet-50"] and settings["detectors"] == []
    assert set(folder.table()["kind"]) >= {"classifier"}


def test_the_run_panel_asks_explores_questions(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
):
    """The run form is Explore's form (ui.settings_form): its target layer, DeepGaze checkpoint
    file and study input range reach the run's settings (before, the form had none of them)."""
    started: list[Settings] = []
    monkeypatch.setattr(run_panel, "_start", lambda _d, settings, _o, _p: started.append(settings))
    at = open_report()
    at.selectbox(key="report_run_dataset").set_value("toy")
    at.radio(key="report_run_target").set_value("FPN").run()
    at.multiselect(key="report_run_refs_toy").set_value(["deepgaze"]).run()
    at.radio(key="report_run_type2_weights").set_value(WeightSource.FILE).run()
    at.text_input(key="report_run_type2_path").input("gaze.pth")
    at.toggle(key="report_run_study_range").set_value(True).run()
    at.button(key="report_run_start").click().run()
    assert not at.exception, at.exception
    [settings] = started
    assert settings.detectors == ("Faster R-CNN R50-FPN",) and settings.cams == ("EigenCAM",)
    assert (settings.target, settings.references) == ("FPN", ("deepgaze",))
    assert settings.type2_weights is WeightSource.FILE
    assert (settings.type2_weights_file, settings.study_input_range) == ("gaze.pth", True)


def chart_titled(at: AppTest, title: str) -> dict:
    for element in at.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        if (figure["layout"].get("title", {}).get("text") or "").startswith(title):
            return figure
    raise AssertionError(f"no chart titled {title!r}")


def test_time_and_objects_show_the_mean_curve_peaks_and_class_ratios(
    places: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SALIENCY_ALLOW_ANY_PATH", "1")  # the copy below lies outside the root
    at = open_report()
    at.sidebar.selectbox(key="report_folder").set_value(str(places["results"] / "toy-run")).run()
    assert not at.exception, at.exception
    assert "Time and objects" in [h.value for h in at.subheader]
    stored = ResultsFolder(places["results"] / "toy-run").extra_table("temporal")
    nss = stored[(stored["map"] == CAM) & (stored["metric"] == "NSS")]
    expected = nss.groupby("start")["value"].mean().to_numpy()
    mean = chart_titled(at, "Mean NSS over images")
    line = next(t for t in mean["data"] if t["name"] == CAM)
    assert array(line["y"]) == pytest.approx(expected)
    assert any(t.get("fill") == "toself" for t in mean["data"]), "the CI band"
    peaks = chart_titled(at, "When does NSS peak?")
    cam_bars = next(t for t in peaks["data"] if t["name"] == CAM)
    assert array(cam_bars["y"]).sum() == 4  # one peak window per image
    infos = " ".join(i.value for i in at.info)
    assert "No region shares in this run" in infos  # untrained boxes stay below 0.9

    # a copy of the run with region rows of two classes: the class chart appears
    copy = tmp_path / "with-regions"
    shutil.copytree(places["results"] / "toy-run", copy)
    rows = pd.DataFrame(
        {"image": ["a", "a", "b"], "map": [CAM] * 3, "category": ["cat", "dog", "cat"],
         "ratio": [2.0, 0.5, 4.0], "log2_ratio": [1.0, -1.0, 2.0]}
    )  # fmt: skip
    rows.to_parquet(copy / "regions.parquet", index=False)
    at.sidebar.text_input(key="report_path").input(str(copy)).run()
    assert not at.exception, at.exception
    classes = chart_titled(at, f"{CAM}: mean log2 ratio per category")
    assert list(classes["data"][0]["y"]) == ["dog", "cat"]
    assert array(classes["data"][0]["x"]) == pytest.approx([-1.0, 1.5])


def test_the_notices_of_a_run_are_listed(places: dict[str, Path], tmp_path: Path):
    at = open_report()
    assert not any(e.label.startswith("Notices") for e in at.expander), "the toy run has none"
    copy = places["results"] / "with-notices"
    shutil.copytree(places["results"] / "toy-run", copy)
    rows = pd.DataFrame(
        {"image": ["b", "(dataset)"],
         "notice": ["Fixations file b.csv: 1 row dropped (no usable x/y: data row 3)",
                    "No onset times in the fixations of 1 of 4 images with fixations (a): …"]}
    )  # fmt: skip
    rows.to_parquet(copy / "notices.parquet", index=False)
    at.sidebar.text_input(key="report_path").input(str(copy)).run()
    assert not at.exception, at.exception
    [expander] = [e for e in at.expander if e.label.startswith("Notices")]
    assert expander.label == "Notices (2)"
    pd.testing.assert_frame_equal(expander.dataframe[0].value, rows)


def test_a_run_in_which_every_image_failed_says_so_and_what_to_do(
    places: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """4 corrupt images: status "failed" with the count and cause, no "finished", no "rerun it"."""
    dataset = write_dataset(tmp_path / "corrupt")
    monkeypatch.setenv(
        "SALIENCY_DATA_DIR", os.pathsep.join([str(places["data"]), str(dataset.root)])
    )
    for image in (dataset.root / "images").iterdir():
        image.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = places["results"] / "failed-run"
    done = engine.run(dataset, SETTINGS, out)
    assert done.computed == 0 and len(done.errors) == 4
    manifest = ResultsFolder(out).manifest()
    text = "failed: 0 of 4 images scored, 4 skipped (4 unreadable)"
    assert manifest["status"] == "failed" and manifest["status_text"] == text
    at = open_report()
    at.sidebar.text_input(key="report_path").input(str(out)).run()
    assert not at.exception, at.exception
    assert any(f"status: {text}" in c.value for c in at.caption)
    [error] = [e.value for e in at.error]
    assert error.startswith(f"Run {text}. Replace or remove the unreadable files")
    assert "rerun it" not in " ".join(m.value for m in [*at.info, *at.error, *at.success])


def test_every_na_in_the_summary_has_its_reason_beside_it(places: dict[str, Path]):
    at = open_report()
    at.sidebar.selectbox(key="report_folder").set_value(str(places["results"] / "toy-run")).run()
    table = at.dataframe[0].value.set_index("map")
    ceiling = table.loc["people (leave-one-subject-out)"]
    assert ceiling["MAE vs mask"] == "n/a"
    assert ceiling["notes"] == (
        "n/a: MAE, CC, SIM, KLD vs fixations; every metric vs mask — "
        + summary_table.ABSENT_REASONS["ceiling"]
    )
    assert table.loc[CAM, "notes"] == ""
    assert table.columns[-1] == "notes", "after the numbers it explains"
    assert any("Hover a note to read it whole." in c.value for c in at.caption)


def test_a_run_against_untrained_deepgaze_says_it_is_the_floor_and_links_with_it(
    places: dict[str, Path], tmp_path: Path
):
    """The run's deepgaze reference: the report says what it is, and Explore gets the model."""
    settings = SETTINGS.with_changes(references=("deepgaze", "fixations"))
    out = places["results"] / "deepgaze-run"
    engine.run(Dataset("toy", places["data"]), settings, out, engine.Options(limit=1))
    at = open_report()
    at.sidebar.text_input(key="report_path").input(str(out)).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert (
        f"The deepgaze reference (DeepGaze IIE): {summary_table.UNTRAINED_GAZE_NOTE}." in captions
    )
    [link] = [link for link in at.get("page_link") if link.proto.label == "Open in Explore"]
    params = dict(parse_qsl(link.proto.query_string, keep_blank_values=True))
    restored, notes = from_query(params)
    assert notes == [] and restored == settings.with_changes(type2=("DeepGaze IIE",))
    assert "Explore also shows DeepGaze IIE's map: it builds the deepgaze reference from it." in (
        captions
    )


def test_the_output_folder_follows_the_dataset_until_it_is_edited():
    at = open_report()
    datasets = at.selectbox(key="report_run_dataset")
    first = datasets.value
    assert first != "toy" and "toy" in datasets.options
    assert at.text_input(key="report_run_out").value == run_panel._slug(first)
    at.selectbox(key="report_run_dataset").set_value("toy").run()
    assert at.text_input(key="report_run_out").value == "toy"
    at.text_input(key="report_run_out").input("held-out").run()
    at.selectbox(key="report_run_dataset").set_value(first).run()
    assert not at.exception, at.exception
    assert at.text_input(key="report_run_out").value == "held-out"
