"""The Experiments page (AppTest) and its view-model on a small experiment folder written here
the way its writers write it: training run folders (train_log.parquet, val_map.csv, manifest,
model_final.pt) and evaluate results folders (summary through the store) with their mAP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest
from test_app_report import array
from test_evaluate import write_dataset

from saliency_core.data import roots
from saliency_core.data.csvfiles import write_csv
from saliency_core.evaluate import summary
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.models.detectors import load_detector
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings, from_query
from saliency_core.train import experiment
from saliency_core.train.experiment import REFERENCE_ARM
from ui import experiments

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/5_Experiments.py"
TIMEOUT = 300
SSD = "SSDlite320 MobileNetV3"
SETTINGS = Settings(detectors=(SSD,), cams=("EigenCAM",), type2=(), references=("mask",))
SCORES = {  # model: (map, map_50, MAE vs mask, IoU@top-10% vs mask)
    "reference": (0.10, 0.30, 0.40, 0.20),
    "none-s0": (0.28, 0.50, 0.25, 0.30),
    "none-s1": (0.30, 0.60, 0.35, 0.25),
    "erase-s0": (0.25, 0.55, 0.20, 0.40),
}
"""Against MAE (lower is better) and mAP: erase-s0 has the best MAE, none-s1 the best mAP,
none-s0 (MAE 0.25, mAP 0.28) is beaten by neither on both: the front is erase-s0, none-s0,
none-s1; the reference (worst on both) is off it."""


def write_scores(folder: Path, values: tuple[float, ...], dataset: Path) -> None:
    """An evaluate results folder: per-image rows (images b, a; each metric's two values
    ±0.05 around its mean) summarised by the engine's own functions, the manifest, and the
    model's mAP as the experiment writes it."""
    map_, map_50, mae, iou = values
    rows = [
        ("type-1", SSD, "EigenCAM", "weights file", "features[-1]", "mask", metric, mean + d, hib)
        for metric, mean, hib in (("MAE", mae, False), ("IoU@top-10%", iou, True))
        for d in (-0.05, 0.05)
    ]
    columns = [
        "kind", "detector", "method", "weights", "target", "reference_key", "metric", "value",
        "higher_is_better",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    results = ResultsFolder(folder)
    folder.mkdir(parents=True)
    long = summary.summarize(table)
    results.write_summary(long, summary.to_latex(long))
    results.write_settings(SETTINGS)
    results.write_manifest(
        {
            "dataset": str(dataset.resolve()),
            "settings": SETTINGS.to_dict(),
            "image_list": ["b", "a"],
            "status": "complete",
        }
    )
    accuracy = pd.DataFrame([{"map": map_, "map_50": map_50, "map_75": 0.0, "images": 2}])
    write_csv(folder / experiment.ACCURACY_FILE, accuracy)


def write_run(folder: Path, weights: Path | None, epochs_done: int, epochs: int = 2) -> None:
    """A training run folder as ``saliency train`` leaves it after ``epochs_done`` epochs of
    two steps (the final weights only when ``weights`` is given)."""
    folder.mkdir(parents=True)
    steps = [
        {"epoch": e, "step": s, "lr": 0.01, "loss": 2.0 - 0.3 * (2 * e + s), "loss_classifier": 1.0,
         "images_per_s": 8.0, "data_s": 0.01, "step_s": 0.1}
        for e in range(epochs_done) for s in range(2)
    ]  # fmt: skip
    pd.DataFrame(steps).to_parquet(folder / experiment.TRAIN_LOG, index=False)
    val = [{"epoch": e + 1, "map": 0.1 * (e + 1), "map_50": 0.2 * (e + 1), "map_75": 0.0,
            "images": 2} for e in range(epochs_done)]  # fmt: skip
    pd.DataFrame(val).to_csv(folder / experiment.VALIDATION, index=False)
    status = "finished" if weights else "running"
    manifest = {"status": status, "epochs_done": epochs_done, "settings": {"epochs": epochs}}
    (folder / experiment.MANIFEST).write_text(json.dumps(manifest))
    if weights is not None:
        (folder / experiment.FINAL_WEIGHTS).symlink_to(weights)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The toy dataset; under the results root an experiment of arms none and erase × seeds 0
    and 1: none-s0, none-s1 and erase-s0 trained and scored, erase-s1 still training (1 of 2
    epochs); the final weights an untrained SSDlite's state dict."""
    base = tmp_path_factory.mktemp("experiments")
    dataset = write_dataset(base / "toy").root
    weights = base / "results" / "ssdlite.pt"  # inside the results root, as a run's file is
    weights.parent.mkdir()
    torch.save(load_detector(SSD, WeightSource.UNTRAINED).model.state_dict(), weights)
    root = base / "results" / "study" / "exp1"
    root.mkdir(parents=True)
    (root / experiment.MANIFEST).write_text(
        json.dumps({"arms": ["none", "erase"], "seeds": [0, 1]})
    )
    for name, values in SCORES.items():
        write_scores(root / experiment.SCORES / name, values, dataset)
        if name != experiment.REFERENCE:
            write_run(root / experiment.RUNS / name, weights, 2)
    write_run(root / experiment.RUNS / "erase-s1", None, 1)
    return {"data": dataset, "results": base / "results", "experiment": root}


@pytest.fixture(autouse=True)
def environment(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(places["data"]))
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(places["results"]))
    yield


def test_the_folder_reads_as_far_as_the_experiment_has_got(places):
    exp = experiments.load(places["experiment"])
    assert exp.missing == [
        "erase-s1: running: 1 of 2 epochs done, no final model yet",
    ]
    assert exp.results["arm"].tolist() == [REFERENCE_ARM, "none", "none", "erase"]
    assert exp.results["seed"].isna().tolist() == [True, False, False, False]
    assert exp.results["seed"].tolist()[1:] == [0, 1, 0]
    assert exp.agreement_columns == ["IoU@top-10% vs mask", "MAE vs mask"]
    none = exp.table.set_index("arm").loc["none"]
    assert none["n_seeds"] == 2 and none["map"] == pytest.approx(0.29)
    assert none["MAE vs mask"] == pytest.approx(0.30)
    # map 0.28, 0.30: s / √2 = 0.01, t(0.975, 1) = 12.7062047: 0.29 ± 0.1270620
    assert (none["map ci_low"], none["map ci_high"]) == pytest.approx((0.162938, 0.417062))
    assert exp.losses["loss"].tolist()[:4] == pytest.approx([2.0, 1.7, 1.4, 1.1])
    assert len(exp.losses) == 3 * 4 + 2 and set(exp.validation["run"]) == {
        "none-s0", "none-s1", "erase-s0", "erase-s1"
    }  # fmt: skip


BOTH = "summary.csv and accuracy.csv"


def test_an_unscored_run_and_an_absent_one_are_named(tmp_path):
    root = tmp_path / "exp"
    (tmp_path / "w.pt").write_bytes(b"")
    write_run(root / experiment.RUNS / "none-s0", tmp_path / "w.pt", 1, 1)
    (root / experiment.MANIFEST).write_text(json.dumps({"arms": ["none"], "seeds": [0, 3]}))
    results, missing = experiment.ExperimentFolder(root).collect()
    assert results.empty
    scores = root / "scores"
    assert missing == [
        f"reference: not scored yet ({BOTH} missing in {scores / 'reference'})",
        f"none-s0: not scored yet ({BOTH} missing in {scores / 'none-s0'})",
        "none-s3: not trained yet",
    ]


def test_the_pareto_front_by_hand():
    points = pd.DataFrame(
        {"mae": [0.4, 0.3, 0.35, 0.2, 0.2, np.nan], "map": [0.1, 0.2, 0.3, 0.25, 0.1, 0.9]}
    )
    front = experiments.pareto_front(points, "mae", "map", x_higher=False, y_higher=True)
    assert front.index.tolist() == [3, 2], "1 is beaten by 3 on both, 4 by 3 on mAP"
    higher = experiments.pareto_front(points, "mae", "map", x_higher=True, y_higher=True)
    assert higher.index.tolist() == [2, 0]


def test_experiments_are_found_under_the_results_root(places):
    assert experiments.find_experiments(places["results"]) == [places["experiment"]]
    assert experiments.find_experiments(places["results"], depth=1) == []


def test_a_links_fine_tuned_file_outside_the_roots_is_left_out(places):
    inside = str(places["experiment"] / "runs" / "none-s0" / "model_final.pt")
    settings = Settings(finetuned=((SSD, inside), (SSD, "/etc/model_final.pt")))
    assert experiments.confine_finetuned(settings) == (settings, []), "the library reads anywhere"
    roots.confine_reads([places["results"]], "the results and dataset folders")  # as app.py does
    kept, notes = experiments.confine_finetuned(settings)
    assert kept.finetuned == ((SSD, inside),)
    assert len(notes) == 1 and notes[0].startswith(
        "Fine-tuned model left out: /etc/model_final.pt is outside the results and dataset folders"
    )


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    return at.switch_page(PAGE).run()


def plotly_figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_the_page_shows_the_table_the_pareto_plot_the_curves_and_the_links(places):
    at = open_page()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert [i.value for i in at.info] == [
        "Not in the table yet: erase-s1: running: 1 of 2 epochs done, no final model yet."
    ]
    table = at.dataframe[0].value
    assert table["arm"].tolist() == [REFERENCE_ARM, "none", "erase"]
    assert table["n_seeds"].tolist() == [1, 2, 1]
    scatter, losses, validation = plotly_figures(at)
    assert at.selectbox(key="experiments_metric").value == "IoU@top-10%"
    assert at.selectbox(key="experiments_reference").value == "mask"
    at.selectbox(key="experiments_metric").set_value("MAE").run()
    scatter = plotly_figures(at)[0]
    [front] = [trace for trace in scatter["data"] if trace["name"] == "Pareto front"]
    assert array(front["x"]) == pytest.approx([0.2, 0.25, 0.35])
    assert array(front["y"]) == pytest.approx([0.25, 0.28, 0.3])
    stars = [t for t in scatter["data"] if t.get("marker", {}).get("symbol") == "star"]
    assert [t["name"] for t in stars] == [f"{REFERENCE_ARM}, pre-fine-tuning"]
    assert "lower is better" in scatter["layout"]["xaxis"]["title"]["text"]
    assert {t["name"] for t in plotly_figures(at)[1]["data"]} == {"none", "erase"}
    links = at.get("page_link")
    assert [link.proto.label for link in links] == [
        f"{run}: its maps beside the model it started from"
        for run in ("none-s0", "none-s1", "erase-s0")
    ]
    [link, *_] = experiments.explore_links(experiments.load(places["experiment"]), _datasets())
    settings, notes = from_query(link.query)
    assert notes == [] and (link.query["dataset"], link.query["image"]) == ("toy", "b")
    weights = str(places["experiment"] / "runs" / "none-s0" / "model_final.pt")
    assert settings.finetuned == ((SSD, weights),) and settings.detectors == (SSD,)


def _datasets():
    from saliency_core.data.datasets import all_datasets

    return all_datasets()


def test_explore_opens_the_fine_tuned_model_as_a_row_beside_its_base(places):
    [link, *_] = experiments.explore_links(experiments.load(places["experiment"]), _datasets())
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(link.query)
    at.run()
    at = at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]
    chosen = at.sidebar.multiselect(key="explore_finetuned")
    weights = str(places["experiment"] / "runs" / "none-s0" / "model_final.pt")
    assert chosen.value == [f"{SSD}={weights}"]
    assert at.query_params["ft"] == f"{SSD}={weights}"
    rows = [m.value for m in at.markdown if m.value.startswith(f"**{SSD} (")]
    assert rows[:2] == [f"**{SSD} (UNTRAINED)**", f"**{SSD} (fine-tuned: none-s0)**"]


def test_without_an_experiment_the_page_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(tmp_path))
    at = open_page()
    assert not at.exception, at.exception
    [info] = at.info
    assert info.value.startswith(f"No experiment folder under {tmp_path}")
