"""The engine's finer-grained tables (onset windows, region shares) on the toy dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_evaluate import write_dataset
from test_evaluate_notices import evaluated

from saliency_core import pipeline
from saliency_core.data import fixations
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import Sample
from saliency_core.evaluate import engine, finegrained
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.maps.cams import Detections
from saliency_core.maps.detector_maps import compute_cam
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.scoring import regions, temporal
from saliency_core.settings import Settings
from saliency_core.study import MapKind

DETECTOR = "FCOS R50-FPN"
SHAPE = (48, 64)
# score threshold 0: an untrained detector's low-score boxes become regions
SETTINGS = Settings(
    detectors=(DETECTOR,), cams=("EigenCAM",), type2=(), references=("fixations",),
    input_size=64, score_threshold=0.0,
)  # fmt: skip
CAM = f"{DETECTOR} (UNTRAINED) · EigenCAM @ layer4"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, ResultsFolder]:
    base = tmp_path_factory.mktemp("finegrained")
    dataset = write_dataset(base / "toy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SALIENCY_CACHE_DIR", str(base / "cache"))
        report = engine.run(dataset, SETTINGS, base / "out", engine.Options(limit=2))
    assert report.errors == {} and report.computed == 2
    return dataset, ResultsFolder(base / "out")


def test_onset_window_rows_equal_window_metrics(run):
    dataset, folder = run
    table = folder.extra_table("temporal")
    assert (folder.root / "temporal.parquet").is_file()
    assert (folder.root / "temporal" / "a.parquet").is_file()
    assert list(table.columns) == finegrained.TEMPORAL_COLUMNS
    # onsets 0, 0.2, …, 1.4 s: windows 0–0.5, 0.5–1, 1–1.5 s; the CAM and the floor; 3 metrics
    assert len(table) == 2 * 2 * 3 * 3
    assert sorted(table["image"].unique()) == ["a", "b"]
    rows = table[(table["image"] == "a") & (table["map"] == CAM)]
    assert rows["start"].unique().tolist() == [0.0, 0.5, 1.0]
    assert rows.groupby("start")["n_fixations"].first().tolist() == [3, 2, 3]
    sample = dataset.load("a")
    choice = ModelChoice(DETECTOR, WeightSource.UNTRAINED, None, 64)
    cam = compute_cam(sample.image, choice, "EigenCAM", "layer4", 0.9).cam
    windows = temporal.split_by_onset(sample.fixation_table(), 0.5)
    expected = temporal.window_metrics({CAM: cam}, windows, fixations.default_sigma(SHAPE))
    np.testing.assert_allclose(rows["value"].to_numpy(), expected["value"].to_numpy(), atol=1e-6)
    assert rows["metric"].tolist() == expected["metric"].tolist()


def test_region_rows_equal_region_shares_of_the_boxes(run):
    dataset, folder = run
    table = folder.extra_table("regions")
    assert list(table.columns) == finegrained.REGION_COLUMNS
    rows = table[table["image"] == "b"].reset_index(drop=True)
    assert set(rows["map"]) == {CAM}  # type-1 maps only: not the floor
    assert set(rows["detector"]) == {f"{DETECTOR} (UNTRAINED)"}
    assert set(rows["region_kind"]) == {finegrained.BOX}  # FCOS has no masks
    sample = dataset.load("b")
    choice = ModelChoice(DETECTOR, WeightSource.UNTRAINED, None, 64)
    result = compute_cam(sample.image, choice, "EigenCAM", "layer4", 0.9)
    boxes = result.detections.above(0.0)
    assert len(boxes) == len(rows) > 0
    expected = regions.region_shares(
        regions.from_boxes(boxes.boxes, boxes.names, SHAPE),
        {CAM: result.cam},
        sample.fixations,
        fixations.default_sigma(SHAPE),
    )
    assert rows["region"].tolist() == expected["region"].tolist()
    for column in ("map_share", "fixation_share", "density_share", "ratio"):
        np.testing.assert_allclose(rows[column], expected[column], atol=1e-6, equal_nan=True)


def test_an_image_without_onsets_or_boxes_has_no_rows(dataset_without_onsets):
    sample = dataset_without_onsets.load("a")
    settings = Settings(
        detectors=(DETECTOR,), cams=("EigenCAM",), type2=(), references=("fixations",),
        input_size=64, score_threshold=1.0,
    )  # fmt: skip
    result = evaluated(sample, settings)
    assert result.extras == {}
    assert len(result.table) > 0


@pytest.fixture
def dataset_without_onsets(tmp_path: Path) -> Dataset:
    dataset = write_dataset(tmp_path / "toy")
    for path in (dataset.root / "fixations").glob("*.csv"):
        table = pd.read_csv(path)
        table.drop(columns=["onset_s"]).to_csv(path, index=False)
    return dataset


def test_extra_parts_are_written_before_the_table_part(tmp_path: Path):
    folder = ResultsFolder(tmp_path)
    rows = pd.DataFrame({"image": ["x"], "value": [1.0]})
    with pytest.raises(ValueError, match="unknown extra table 'other'"):
        folder.write_image("x", rows, rows, {"other": rows})
    assert folder.done() == set()  # the refusal came before the table part
    folder.write_image("x", rows, rows, {"temporal": rows})
    assert folder.done() == {"x"}
    folder.write_extra_tables()
    assert (tmp_path / "temporal.parquet").is_file()
    assert not (tmp_path / "regions.parquet").exists()
    assert folder.extra_table("regions").empty


def test_instance_masks_replace_the_boxes_as_regions():
    # 8×10 image; two instances (a 0.2-score one is dropped at threshold 0.5), each mask
    # smaller than its box: the table must follow the masks
    masks = np.zeros((3, 8, 10), bool)
    masks[0, 1:3, 1:4] = True
    masks[1, 4:8, 5:7] = True
    masks[2, 0:8, 0:10] = True
    detections = Detections(
        np.array([[0, 0, 5, 4], [4, 3, 8, 8], [0, 0, 10, 8]], np.float32),
        np.array([0.9, 0.6, 0.2], np.float32),
        np.array([1, 18, 1]),
        ["person", "dog", "person"],
        masks,
    )
    cam = np.zeros((8, 10), np.float32)
    cam[2, 2], cam[5, 5], cam[0, 9] = 3.0, 1.0, 4.0  # mass: 0.375 in person 1, 0.125 in dog 1
    label = "Mask R-CNN R50-FPN (UNTRAINED)"
    sample = Sample(
        "m", np.zeros((8, 10, 3), np.uint8), "test",
        fixations=np.array([[2.0, 1.0], [5.0, 6.0], [6.0, 6.0], [9.0, 0.0]]),
    )  # fmt: skip
    bundle = pipeline.Bundle(
        sample,
        Settings(detectors=(), type2=(), references=(), score_threshold=0.5),
        maps={
            f"{label} · EigenCAM @ layer4": pipeline.MapEntry(
                f"{label} · EigenCAM @ layer4", cam, MapKind.TYPE1, False, model_label=label
            )
        },  # fmt: skip
        detections={label: detections},
    )
    table = finegrained.region_table(bundle)
    assert list(table.columns) == finegrained.REGION_COLUMNS
    assert table["region_kind"].tolist() == [finegrained.INSTANCE_MASK] * 2
    assert table["region"].tolist() == ["person 1", "dog 1"]
    expected = regions.region_shares(
        regions.from_instance_masks(masks[:2], ["person", "dog"]),
        bundle.values,
        sample.fixations,
        fixations.default_sigma((8, 10)),
    )
    for column in ("pixels", "map_share", "fixation_share", "density_share", "ratio"):
        np.testing.assert_allclose(table[column], expected[column], equal_nan=True)
    assert table["pixels"].tolist() == [6, 8]  # the boxes would give 20 and 20
    np.testing.assert_allclose(table["map_share"], [0.375, 0.125])
    np.testing.assert_allclose(table["fixation_share"], [0.25, 0.5])


def test_region_kinds_offer_boxes_and_instance_masks_to_explore():
    """Explore's region choices come from the engine's region builder: boxes always, instance
    masks when the detections carry them."""
    masks = np.zeros((1, 8, 10), bool)
    masks[0, 1:3, 1:4] = True
    boxes = np.array([[0, 0, 5, 4]], np.float32)
    with_masks = Detections(boxes, np.array([0.9], np.float32), np.array([1]), ["person"], masks)
    kinds = finegrained.region_kinds(with_masks, (8, 10))
    assert list(kinds) == [finegrained.BOX, finegrained.INSTANCE_MASK]
    assert [int(region.mask.sum()) for region in kinds[finegrained.BOX]()] == [20]
    assert [int(region.mask.sum()) for region in kinds[finegrained.INSTANCE_MASK]()] == [6]
    plain = Detections(boxes, np.array([0.9], np.float32), np.array([1]), ["person"])
    assert list(finegrained.region_kinds(plain, (8, 10))) == [finegrained.BOX]


def test_window_table_splits_by_ordinal_like_temporal():
    points = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    subjects = pd.DataFrame({"subject": ["a", "a", "b", "b"]})
    cam = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    sample = Sample(
        "o", np.zeros((8, 8, 3), np.uint8), "test", fixations=points, fixation_columns=subjects
    )
    bundle = pipeline.Bundle(
        sample,
        Settings(detectors=(), type2=(), references=(), sigma=1.0),
        maps={"m": pipeline.MapEntry("m", cam, MapKind.TYPE1, True)},
    )
    expected = temporal.window_metrics(
        {"m": cam}, temporal.split_by_ordinal(sample.fixation_table()), 1.0
    )
    pd.testing.assert_frame_equal(finegrained.window_table(bundle, "ordinal", 0.5), expected)
    assert sorted(expected["window"].unique().tolist()) == ["fixation 1", "fixation 2"]
