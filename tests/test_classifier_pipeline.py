"""Classifiers in the one pipeline: settings, bundle maps, engine rows, report accuracy."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core import pipeline
from saliency_core.commands import evaluate as command
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import Sample
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.maps import classifier_maps, classifier_methods
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.scoring import accuracy
from saliency_core.settings import Settings, SettingsError, from_query, to_query
from ui import charts, classifier_report
from ui.report import folders, thumbnails

CLASSIFIED = Settings(
    classifiers=("ResNet-50", "Swin-T"),
    classifier_methods=("GradCAM", "SmoothGrad"),
    classifier_weights="pretrained",
    classifier_input_size=64,
    classifier_top_k=3,
)


def test_classifier_settings_round_trip_through_toml_json_and_the_url():
    assert CLASSIFIED.classifier_weights is WeightSource.PRETRAINED
    assert Settings.from_dict(tomllib.loads(CLASSIFIED.to_toml())) == CLASSIFIED
    assert Settings.from_dict(CLASSIFIED.to_dict()) == CLASSIFIED
    query = to_query(CLASSIFIED)
    assert query == {
        "cls": "ResNet-50~Swin-T",
        "clsm": "GradCAM~SmoothGrad",
        "clsw": "pretrained",
        "clssize": "64",
        "clsk": "3",
    }
    assert from_query(query) == (CLASSIFIED, [])
    chosen = Settings(classifiers=("ViT-B/16",), classifier_class=281)
    assert to_query(chosen) == {"cls": "ViT-B/16", "clsc": "281"}
    assert from_query(to_query(chosen))[0] == chosen
    assert to_query(Settings()) == {}, "defaults stay out of the URL"


def test_bad_classifier_settings_are_named():
    with pytest.raises(SettingsError, match="classifiers: unknown 'AlexNet'; choose from ResNet"):
        Settings(classifiers=("AlexNet",))
    with pytest.raises(SettingsError, match="classifier_methods: unknown 'Foo'.*SmoothGrad"):
        Settings(classifier_methods=("Foo",))
    with pytest.raises(SettingsError, match="exclude each other"):
        Settings(classifier_class=3, classifier_top_k=2)
    with pytest.raises(
        SettingsError, match=r"classifier_top_k must be a whole number in 1\.\.1000, got 0"
    ):
        Settings(classifier_top_k=0)
    with pytest.raises(
        SettingsError,
        match=r"classifier_input_size must be a whole number in 32\.\.1024 px, got 16",
    ):
        Settings(classifier_input_size=16)
    settings, notes = from_query({"cls": "ResNet-50~Nope", "clsc": "x"})
    assert settings.classifiers == ("ResNet-50",)
    assert notes[0].startswith("URL: classifiers: unknown 'Nope'")
    assert notes[1].startswith("URL parameter clsc='x' ignored")


def test_a_run_written_before_the_classifier_settings_existed_still_resumes(tmp_path):
    from saliency_core.evaluate import engine
    from saliency_core.evaluate.store import ResultsError

    folder = ResultsFolder(tmp_path)
    identity = {"settings": Settings().to_dict(), "metrics": ["MAE"]}
    older = {
        **identity,
        "settings": {
            k: v for k, v in identity["settings"].items() if not k.startswith("classifier")
        },
    }
    folder.write_manifest(older)
    engine.check_resume(folder, identity)  # same settings: no error
    changed = {**identity, "settings": Settings(classifiers=("ResNet-50",)).to_dict()}
    with pytest.raises(ResultsError, match="other settings"):
        engine.check_resume(folder, changed)


RESNET = Settings(
    detectors=(),
    type2=(),
    references=("mask",),
    classifiers=("ResNet-50",),
    classifier_methods=("GradCAM", "Gradient"),
    classifier_input_size=64,
)
"""An untrained ResNet-50 at 64 px: two maps, against the attention mask."""


@pytest.fixture(scope="module")
def sample() -> Sample:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    mask = np.zeros((40, 56), np.float32)
    mask[10:30, 14:40] = 1.0
    return Sample("toy", image, "test", mask=mask)


@pytest.fixture(scope="module")
def bundle(sample: Sample) -> pipeline.Bundle:
    return pipeline.compute_bundle(sample, RESNET)


def test_compute_bundle_yields_classifier_maps_with_the_top5(bundle: pipeline.Bundle):
    labels = ["ResNet-50 (UNTRAINED) · GradCAM", "ResNet-50 (UNTRAINED) · Gradient"]
    assert list(bundle.maps) == labels
    for label in labels:
        entry = bundle.maps[label]
        assert (entry.kind, entry.detector, entry.weights) == (
            "classifier",
            "ResNet-50",
            "untrained",
        )
        assert entry.trained is False and pipeline.UNTRAINED_NOTE in entry.notes
        assert entry.values.shape == (40, 56) and entry.values.dtype == np.float32
        assert entry.values.min() == 0.0 and entry.values.max() == pytest.approx(1.0)
    assert bundle.maps[labels[0]].target == "layer4"
    assert bundle.maps[labels[1]].target == "input pixels"
    top5 = bundle.predictions["ResNet-50 (UNTRAINED)"]
    probabilities = [p.probability for p in top5]
    assert len(top5) == 5 and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6
    for label in labels:  # top-1 explained by default
        assert bundle.classified[label].explained == [top5[0].index]


def test_classifier_maps_flow_into_the_metrics_table(bundle: pipeline.Bundle):
    table = pipeline.metrics_table(bundle)
    rows = table[table["kind"] == "classifier"]
    assert sorted(rows["metric"].unique()) == ["CC", "IoU@top-10%", "KLD", "MAE", "SIM"]
    assert set(rows["detector"]) == {"ResNet-50"} and set(rows["method"]) == {"GradCAM", "Gradient"}
    assert rows["value"].notna().all()
    assert ((rows["value"] >= 0) & (rows["value"] <= 1)).loc[rows["metric"] != "KLD"].all()


def test_an_unsupported_method_is_skipped_with_its_reason(sample: Sample):
    settings = RESNET.with_changes(
        classifiers=("ViT-B/16",), classifier_methods=("Guided Backprop",), classifier_input_size=32
    )
    bundle = pipeline.compute_bundle(sample, settings)
    assert bundle.maps == {}
    assert bundle.skipped[0].startswith("ViT-B/16 (UNTRAINED) · Guided Backprop skipped:")
    assert "ReLU" in bundle.skipped[0]


def test_a_chosen_class_is_explained_and_named_in_the_label(sample: Sample):
    settings = RESNET.with_changes(classifier_methods=("GradCAM",), classifier_class=7)
    bundle = pipeline.compute_bundle(sample, settings)
    label = "ResNet-50 (UNTRAINED) · GradCAM · class 7"
    assert list(bundle.maps) == [label] and bundle.classified[label].explained == [7]


def test_one_result_type_from_explain_to_the_pipeline(sample: Sample):
    step = classifier_maps.ClassifierStep(
        ModelChoice("ResNet-50", WeightSource.UNTRAINED, None, 64), "GradCAM"
    )
    loaded = classifier_maps.get_classifier(step.choice).value
    direct = classifier_methods.explain(loaded, sample.image, "GradCAM")
    assert isinstance(direct, classifier_methods.ClassifierResult) and direct.trained is False
    assert direct.target == "layer4" and direct.notes == []
    shared = classifier_maps.compute_classifier_map(sample.image, step)
    assert isinstance(shared, classifier_methods.ClassifierResult) and shared.trained is False
    assert shared.notes == [pipeline.UNTRAINED_NOTE]  # the shared path marks untrained weights
    assert shared.explained == direct.explained and shared.predictions == direct.predictions
    np.testing.assert_allclose(shared.saliency, direct.saliency, atol=1e-6)


def test_the_road_table_of_a_bundle_scores_each_classifier_map(bundle: pipeline.Bundle):
    table = classifier_report.road_table(bundle, percentiles=(50,))
    assert list(table.columns) == classifier_report.ROAD_COLUMNS
    assert list(table["map"]) == [label for label in bundle.maps for _ in range(2)]
    assert list(table["order"]) == ["most relevant first", "least relevant first"] * 2
    assert (table["removed"] == 50).all() and table["change"].between(-1, 1).all()
    top1 = bundle.predictions["ResNet-50 (UNTRAINED)"][0].index
    assert (table["target_class"] == top1).all() and (table["note"] == "").all()


def write_toy_dataset(root: Path, stems: tuple[str, ...] = ("a", "b")) -> Dataset:
    """Small images with a bright patch, its mask, and 6 fixations on it (two subjects)."""
    rng = np.random.default_rng(1)
    for folder in ("images", "masks", "fixations"):
        (root / folder).mkdir(parents=True)
    for index, stem in enumerate(stems):
        image = rng.integers(0, 60, (40, 56, 3), dtype=np.uint8)
        top, left = 6 + 4 * index, 8 + 6 * index
        image[top : top + 16, left : left + 20] = (220, 190, 40)
        Image.fromarray(image).save(root / "images" / f"{stem}.png")
        mask = np.zeros((40, 56), np.uint8)
        mask[top : top + 16, left : left + 20] = 255
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        points = [(left + 4 + k, top + 3 + k, k % 2) for k in range(6)]
        pd.DataFrame(points, columns=["x", "y", "subject"]).to_csv(
            root / "fixations" / f"{stem}.csv", index=False
        )
    return Dataset(root.name, root)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory: pytest.TempPathFactory) -> ResultsFolder:
    """``python -m saliency_core.evaluate`` with an untrained ResNet-50 only, on 2 images."""
    dataset = write_toy_dataset(tmp_path_factory.mktemp("data") / "toy")
    out = tmp_path_factory.mktemp("runs") / "classifiers"
    argv = ["--dataset", str(dataset.root), "--out", str(out), "--detectors", "", "--type2", ""]
    argv += ["--references", "fixations,mask", "--no-finegrained"]
    argv += ["--classifiers", "ResNet-50", "--classifier-methods", "GradCAM,Gradient"]
    argv += ["--classifier-input-size", "64"]
    assert command.main(argv) == 0
    return ResultsFolder(out)


def test_the_engine_writes_classifier_rows(classifier_run: ResultsFolder):
    table = classifier_run.table()
    rows = table[table["kind"] == "classifier"]
    assert sorted(rows["map"].unique()) == [
        "ResNet-50 (UNTRAINED) · GradCAM",
        "ResNet-50 (UNTRAINED) · Gradient",
    ]
    assert set(rows["image"]) == {"a", "b"} and set(rows["detector"]) == {"ResNet-50"}
    assert set(rows["weights"]) == {"untrained"} and set(rows["target"]) == {
        "layer4",
        "input pixels",
    }
    # per image and map: IoU, MAE, CC, SIM, KLD × (fixations, mask) + 5 fixation metrics
    assert len(rows) == 2 * 2 * (2 * 5 + 5)
    nss = rows[rows["metric"] == "NSS"]
    assert len(nss) == 4 and nss["value"].notna().all()
    long = pd.read_csv(classifier_run.root / "summary.csv")
    kinds = long.drop_duplicates(["kind", "method"])[["kind", "method"]]
    assert kinds.iloc[0].tolist() == ["classifier", "GradCAM"], "classifiers first (no detector)"
    manifest = classifier_run.manifest()
    assert manifest["classifier_accuracy"] == {
        "ResNet-50": {
            "weights": "untrained",
            "top1_accuracy": None,
            "reason": "untrained (random) weights: no ImageNet accuracy (chance is 0.1 %)",
        }
    }
    assert Settings.from_dict(manifest["settings"]).classifiers == ("ResNet-50",)


def test_a_report_thumbnail_recomputes_only_the_classifier_map(classifier_run: ResultsFolder):
    settings = folders.run_settings(classifier_run)
    identity = thumbnails.MapIdentity.of(classifier_run.table(), "ResNet-50 (UNTRAINED) · Gradient")
    narrowed = thumbnails.map_settings(settings, identity, "mask")
    assert narrowed.classifiers == ("ResNet-50",) and narrowed.classifier_methods == ("Gradient",)
    assert narrowed.detectors == () and narrowed.references == ("mask",)


def test_the_accuracy_section_leaves_the_untrained_points_out_and_names_them(
    classifier_run: ResultsFolder,
):
    table = classifier_run.table()
    choices = classifier_report.agreement_choices(table)
    assert choices[0] == ("NSS", "fixation points"), "NSS with fixations is the default"
    assert ("IoU@top-10%", "fixations") in choices[1:3]
    manifest = classifier_run.manifest()
    points = classifier_report.accuracy_points(
        table, manifest["classifier_accuracy"], "NSS", "fixation points"
    )
    nss = table[(table["metric"] == "NSS") & (table["kind"] == "classifier")]
    expected = nss.groupby("map")["value"].mean()
    assert list(points["map"]) == list(expected.index)
    assert np.allclose(points["agreement"], expected.to_numpy())
    assert points["accuracy"].isna().all()
    assert set(points["reason"]) == {
        "untrained (random) weights: no ImageNet accuracy (chance is 0.1 %)"
    }
    figure = charts.accuracy_scatter(points, agreement="agreement", label="map")
    assert len(figure.data[0].x) == 0
    assert "not shown (no value): ResNet-50 (UNTRAINED) · GradCAM" in figure.layout.title.text


def test_accuracy_points_read_pretrained_accuracy_and_name_missing_records():
    table = pd.DataFrame(
        {
            "map": ["R · GradCAM"] * 2 + ["S · GradCAM"] * 2,
            "kind": "classifier",
            "detector": ["ResNet-50"] * 2 + ["Swin-T"] * 2,
            "method": "GradCAM",
            "metric": "NSS",
            "reference_key": "fixation points",
            "value": [1.0, 2.0, np.nan, np.nan],
        }
    )
    record = accuracy.accuracy_record(ModelChoice("ResNet-50", WeightSource.PRETRAINED))
    assert record == {"weights": "pretrained", "top1_accuracy": 80.858, "reason": None}
    points = classifier_report.accuracy_points(
        table, {"ResNet-50": record}, "NSS", "fixation points"
    )
    assert points[["accuracy", "agreement"]].iloc[0].tolist() == [80.858, 1.5]
    assert points["reason"].iloc[0] == ""
    assert points["reason"].iloc[1] == (
        "the run recorded no accuracy for this classifier; no image has a defined NSS"
    )


def test_road_beside_agreement_is_one_row_per_map():
    road = pd.DataFrame(
        {
            "map": ["m"] * 2,
            "order": ["most relevant first", "least relevant first"],
            "removed": [50, 50],
            "change": [-0.25, -0.01],
        }
    )
    metrics = pd.DataFrame(
        {
            "map": ["m", "m"],
            "metric": ["NSS", "CC"],
            "reference": ["fixations", "mask"],
            "value": [1.5, np.nan],
        }
    )
    table = classifier_report.road_beside_agreement(road, metrics)
    assert list(table.columns) == [
        "map",
        "ROAD MoRF, 50% removed",
        "ROAD LeRF, 50% removed",
        "NSS vs fixations",
        "CC vs mask",
    ]
    assert table.iloc[0, 1:4].tolist() == [-0.25, -0.01, 1.5] and np.isnan(table.iloc[0, 4])


def test_the_dataset_report_page_shows_accuracy_vs_agreement(
    classifier_run: ResultsFolder, monkeypatch: pytest.MonkeyPatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(classifier_run.root.parent))
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(Path(classifier_run.manifest()["dataset"])))
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=300).run()
    at = at.switch_page("app_pages/3_Dataset_report.py").run()
    assert not at.exception, at.exception
    assert "Accuracy vs. agreement" in [header.value for header in at.subheader]
    captions = [caption.value for caption in at.caption]
    assert (
        "Not shown: ResNet-50 (UNTRAINED) · GradCAM — untrained (random) weights: no ImageNet "
        "accuracy (chance is 0.1 %)"
    ) in captions
    assert any("classifiers: ResNet-50 (untrained; GradCAM, Gradient)" in c for c in captions)
