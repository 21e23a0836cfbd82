"""Oyama & Yamanaka's experiment (issue 17 §3): ``saliency readout-experiment`` end to end on the
shipped sample, its tidy table, the rerun that skips finished runs, the correlation statistics,
the report's view-model and the Dataset report page."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from saliency_core.commands import readout_experiment as command
from saliency_core.data.datasets import SAMPLE_DIR, SAMPLE_NAME
from saliency_core.scoring import stats
from saliency_core.train import readout_experiment as experiment
from ui import readout_report

BACKBONES = ("ResNet-50", "EfficientNet-B0")
ARGS = [
    "--dataset", "sample", "--backbones", ",".join(BACKBONES), "--weights", "untrained",
    "--readouts", "dc", "--seeds", "0", "--epochs", "1", "--input-size", "64", "--limit", "8",
]  # fmt: skip
OTHER = "other_toy"
KEYS = ["resnet-50_untrained_dc_seed0", "efficientnet-b0_untrained_dc_seed0"]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The experiment, run once by the command: 2 untrained frozen backbones × DC × seed 0,
    trained on 8 sample images at 64 px for 1 epoch, tested on its split and on a 2-image
    second dataset; then rerun."""
    base = tmp_path_factory.mktemp("oyama")
    other = base / "data" / OTHER
    for folder, suffix in (("images", ".jpg"), ("fixations", ".csv")):
        (other / folder).mkdir(parents=True)
        for stem in ("004", "014"):
            shutil.copy(SAMPLE_DIR / folder / f"{stem}{suffix}", other / folder)
    out = base / "results" / "experiment"
    stale = out / "evals" / "NUS_Scene_sample_50_images_real_fixations_" / KEYS[0]
    stale.mkdir(parents=True)  # an evaluation of an earlier, unfinished readout
    (stale / "manifest.json").write_text(json.dumps({"status": "complete"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALIENCY_CACHE_DIR", str(base / "cache"))
        assert command.main([*ARGS, "--test-dataset", str(other), "--out", str(out)]) == 0
        stamps = {key: (out / "runs" / key / "readout.pt").stat().st_mtime_ns for key in KEYS}
        first = json.loads((out / "manifest.json").read_text())
        assert command.main([*ARGS, "--test-dataset", str(other), "--out", str(out)]) == 0
    return {"out": out, "results": base / "results", "cache": base / "cache", "first": first,
            "stamps": stamps}  # fmt: skip


def test_the_tidy_table_has_each_run_metric_and_the_floor_and_ceiling(places):
    out = places["out"]
    table = pd.read_parquet(out / "table.parquet")
    assert list(table.columns) == experiment.TABLE_COLUMNS
    pd.testing.assert_frame_equal(pd.read_csv(out / "table.csv"), table, check_dtype=False)
    readouts = table[table["model"] == experiment.READOUT]
    for test in (SAMPLE_NAME, OTHER):
        for backbone in BACKBONES:
            rows = readouts[(readouts["test_dataset"] == test) & (readouts["backbone"] == backbone)]
            assert sorted(rows["metric"]) == sorted(experiment.MIT_METRICS)
            assert np.isfinite(rows["value"]).all()
            assert set(rows["images"]) == {2}  # 8 images: a 4/2/2 split; the other set: 2
            assert rows["top1_accuracy"].isna().all()  # untrained: no ImageNet accuracy
    floor = table[table["model"] == experiment.FLOOR]
    assert len(floor) == 2 * 2 * len(experiment.MIT_METRICS)  # 2 runs × 2 test sets
    assert np.abs(floor.loc[floor["metric"] == "IG", "value"]).max() < 1e-6  # IG over itself
    ceiling = table[table["model"] == experiment.CEILING]
    assert set(ceiling["metric"]) == {"IG", "NSS", "AUC-Judd", "AUC-Borji", "sAUC"}
    assert (table.loc[table["model"] == experiment.CAM, "label"].str.contains("GradCAM")).all()
    assert set(table["model"]) <= set(experiment.MODELS)


def test_the_manifest_names_what_is_left_out_and_a_rerun_skips_finished_runs(places):
    out, first = places["out"], places["first"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == experiment.KIND and experiment.is_experiment(out)
    assert [run["training"] for run in first["runs"]] == ["trained (1 epochs)"] * 2
    evaluated = f"evaluation on {SAMPLE_NAME}"
    assert first["runs"][0][evaluated] == "complete: 2 of 2 images scored"  # the stale one redone
    assert [run["training"] for run in manifest["runs"]] == ["skipped (finished earlier)"] * 2
    assert manifest["runs"][0][f"evaluation on {OTHER}"] == "skipped (complete earlier)"
    for key, stamp in places["stamps"].items():
        assert (out / "runs" / key / "readout.pt").stat().st_mtime_ns == stamp
    present, why = experiment.deepgaze_present()
    assert (why in manifest["notices"]) != present
    assert any("ceiling covers the fixation metrics only" in n for n in manifest["notices"])
    assert manifest["accuracy"]["ResNet-50"]["untrained"]["top1_accuracy"] is None


def test_a_rerun_with_other_training_settings_is_refused_not_reused(places, capsys):
    out = places["out"]
    before = (out / "manifest.json").read_text()
    argv = [*ARGS, "--out", str(out)]
    argv[argv.index("--epochs") + 1] = "2"
    assert command.main(argv) == 1
    said = capsys.readouterr().err
    assert f"The run folder {out / 'runs' / KEYS[0]} holds a run with other settings" in said
    assert "epochs differ" in said
    assert (out / "manifest.json").read_text() == before, "the experiment's record is kept"
    for key, stamp in places["stamps"].items():
        assert (out / "runs" / key / "readout.pt").stat().st_mtime_ns == stamp


def test_a_bad_dataset_is_one_line(capsys, tmp_path):
    assert command.main(["--dataset", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path} has no fixations/ folder: not a fixation dataset\n"
    )


# --- the statistics ---------------------------------------------------------------------------


def test_pearson_and_spearman_match_hand_computed_values():
    assert stats.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)  # cov 1 / √(2 · 2)
    assert stats.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert stats.pearson([1, 2, 3], [1, 2, 10]) == pytest.approx(27 / math.sqrt(876))
    assert stats.spearman([1, 2, 3], [1, 2, 10]) == 1.0
    assert math.isnan(stats.pearson([1, 2], [1, 2]))  # two points: undefined
    assert math.isnan(stats.pearson([1, 2, 3], [4, 4, 4]))


def test_correlation_cis_resample_seeds_then_images():
    still = [[np.array([1.0, 1.0])], [np.array([3.0])], [np.array([2.0, 2.0, 2.0])]]
    found = stats.correlation_cis([1, 2, 3], still, resamples=50)
    assert found == {
        "Pearson": pytest.approx((0.5, 0.5, 0.5), abs=1e-12),
        "Spearman": pytest.approx((0.5, 0.5, 0.5), abs=1e-12),
    }
    # the group value is the mean of its seeds' means: (1 + 3) / 2 = 2, not (1 + 3 + 3) / 3
    assert stats.group_mean([np.array([1.0]), np.array([3.0, 3.0])]) == 2.0
    moving = [[np.array([0.0, 1.0])], [np.array([1.0, 2.0])], [np.array([5.0, 6.0])]]
    value, low, high = stats.correlation_cis([1, 2, 3], moving, rng=3, resamples=200)["Pearson"]
    assert value == pytest.approx(stats.pearson([1, 2, 3], [0.5, 1.5, 5.5]))
    assert low < value < high <= 1.0
    assert stats.correlation_cis([1, 2, 3], moving, rng=3, resamples=200)["Pearson"][1] == low


# --- the report's view-model -----------------------------------------------------------------


def _table(rows) -> pd.DataFrame:
    base = {"test_dataset": "d", "kind": "dc", "metric": "AUC-Judd"}
    return pd.DataFrame([{**base, **row} for row in rows])


TABLE = _table(
    [
        {"backbone": "A", "weights": "pretrained", "seed": s, "model": "readout",
         "top1_accuracy": 70.0, "value": v} for s, v in ((0, 0.70), (1, 0.72))
    ]
    + [
        {"backbone": "B", "weights": "pretrained", "seed": 0, "model": "readout",
         "top1_accuracy": 80.0, "value": 0.78},
        {"backbone": "C", "weights": "pretrained", "seed": 0, "model": "readout",
         "top1_accuracy": 75.0, "value": 0.74},
        {"backbone": "A", "weights": "untrained", "seed": 0, "model": "readout",
         "top1_accuracy": np.nan, "value": 0.60},
        {"backbone": "A", "weights": "pretrained", "seed": 0, "model": "centre-bias floor",
         "top1_accuracy": 70.0, "value": 0.65},
        {"backbone": "B", "weights": "pretrained", "seed": 0, "model": "centre-bias floor",
         "top1_accuracy": 80.0, "value": 0.67},
        {"backbone": "A", "weights": "pretrained", "seed": 0, "model": "human ceiling",
         "top1_accuracy": 70.0, "value": 0.9},
    ]
)  # fmt: skip


def test_readout_points_average_seeds_and_keep_untrained_apart():
    points = readout_report.readout_points(TABLE, "AUC-Judd", "d", "dc")
    assert points.values.tolist() == [
        ["A", "pretrained", 70.0, pytest.approx(0.71), 2, False],
        ["B", "pretrained", 80.0, 0.78, 1, False],
        ["C", "pretrained", 75.0, 0.74, 1, False],
        ["A", "untrained", pytest.approx(np.nan, nan_ok=True), 0.60, 1, True],
    ]
    assert readout_report.reference_lines(TABLE, "AUC-Judd", "d", "dc") == {
        "centre-bias floor": pytest.approx(0.66),
        "human ceiling": 0.9,
    }
    figure = readout_report.readout_figure(points, {"human ceiling": 0.9}, "AUC-Judd")
    untrained, trained = figure.data
    assert list(untrained.text) == ["A [UNTRAINED]"] and list(untrained.x) == ["A"]
    assert list(trained.x) == [70.0, 80.0, 75.0] and trained.xaxis == "x2"
    assert figure.layout.title.text.startswith(readout_report.READOUT_VIEW)


def test_correlations_use_the_pretrained_backbones_over_seeds_and_images():
    images = TABLE.loc[TABLE.index.repeat(2)].reset_index(drop=True)  # 2 images of each value
    found = readout_report.correlations(images, TABLE, "AUC-Judd", "d", "dc", resamples=50)
    expected = stats.pearson([70, 80, 75], [0.71, 0.78, 0.74])
    assert found["correlation"].tolist() == ["Pearson", "Spearman"]
    assert found["value"].tolist() == [pytest.approx(expected), 1.0]
    assert found["backbones"].tolist() == [3, 3]
    assert readout_report.correlation_caption(found).startswith(f"Pearson r = {expected:.2f} [")
    two = readout_report.correlations(images[images["backbone"] != "C"], TABLE[TABLE["backbone"]
                                      != "C"], "AUC-Judd", "d", "dc", resamples=5)  # fmt: skip
    assert readout_report.correlation_caption(two) == (
        "No correlation: 2 pretrained backbone(s) with an ImageNet accuracy; a correlation needs "
        "at least 3."
    )


def test_metric_choices_put_auc_judd_first():
    table = pd.DataFrame({"metric": ["IG", "NSS", "AUC-Judd"]})
    assert readout_report.metric_choices(table) == ["AUC-Judd", "IG", "NSS"]


# --- the page ---------------------------------------------------------------------------------


def test_the_dataset_report_shows_both_views_of_an_experiment(places, monkeypatch):
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(places["results"]))
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(places["cache"]))
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=300).run()
    at = at.switch_page("app_pages/3_Dataset_report.py").run()
    at.sidebar.selectbox(key="report_folder").set_value(str(places["out"])).run()
    assert not at.exception, at.exception
    assert "Accuracy vs. agreement" in [header.value for header in at.subheader]
    headings = [markdown.value for markdown in at.markdown]
    assert f"#### {readout_report.READOUT_VIEW}" in headings
    assert f"#### {readout_report.CAM_VIEW}" in headings
    titles = [
        json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")
    ]
    assert any(t.startswith(readout_report.READOUT_VIEW) for t in titles)
    assert any(t.startswith(readout_report.CAM_VIEW) for t in titles)
    captions = [caption.value for caption in at.caption]
    assert (
        "No correlation: 0 pretrained backbone(s) with an ImageNet accuracy; a correlation needs "
        "at least 3."
    ) in captions


@pytest.mark.parametrize("module", ["readout", "readout_experiment"])
def test_the_backbone_is_frozen_unless_finetune_is_given(module):
    from importlib import import_module

    parser = import_module(f"saliency_core.commands.{module}").build_parser()
    base = ["--dataset", "sample", "--out", "o"]
    assert parser.parse_args(base).finetune is False  # was True: --frozen's default won
    assert parser.parse_args([*base, "--finetune"]).finetune is True
    assert parser.parse_args([*base, "--frozen"]).finetune is False
