"""The dataset engine on a 4-image dataset written here: rows, values, resume, bad images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optional_extras import require_module
from PIL import Image

from saliency_core import pipeline
from saliency_core.commands import evaluate as command
from saliency_core.data import fixations
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import load_mask
from saliency_core.evaluate import engine, summary, type2_cache
from saliency_core.evaluate.store import ResultsError, ResultsFolder
from saliency_core.maps.detector_maps import compute_cam
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.scoring import metrics
from saliency_core.settings import Settings

STEMS = ("a", "b", "c", "d")
SHAPE = (48, 64)
DETECTORS = ("Faster R-CNN R50-FPN", "FCOS R50-FPN")
SETTINGS = Settings(
    detectors=DETECTORS,
    cams=("EigenCAM",),
    type2=(),
    references=("fixations", "mask"),
    input_size=64,
)
MAP_METRICS = ("IoU@top-10%", "MAE", "CC", "SIM", "KLD")
FIXATION_METRICS = ("NSS", "AUC-Judd", "AUC-Borji", "sAUC", "IG")


def write_dataset(root: Path) -> Dataset:
    """4 images with masks and fixations (two subjects each)."""
    rng = np.random.default_rng(3)
    for folder in ("images", "masks", "fixations"):
        (root / folder).mkdir(parents=True)
    for index, stem in enumerate(STEMS):
        image = rng.integers(0, 60, (*SHAPE, 3), dtype=np.uint8)
        top, left = 8 + 4 * index, 10 + 6 * index
        image[top : top + 20, left : left + 24] = (220, 190, 40)
        Image.fromarray(image).save(root / "images" / f"{stem}.png")
        mask = np.zeros(SHAPE, np.uint8)
        mask[top : top + 20, left : left + 24] = 255
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        points = [(left + 5 + k, top + 4 + k, k % 2, 0.2 * k) for k in range(8)]
        table = pd.DataFrame(points, columns=["x", "y", "subject", "onset_s"])
        table.to_csv(root / "fixations" / f"{stem}.csv", index=False)
    return Dataset(root.name, root)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return write_dataset(tmp_path_factory.mktemp("data") / "toy")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def finished(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> ResultsFolder:
    out = tmp_path_factory.mktemp("runs") / "full"
    report = engine.run(dataset, SETTINGS, out)
    assert report.errors == {} and report.computed == 4
    return ResultsFolder(out)


def test_the_table_has_exactly_the_expected_rows(finished: ResultsFolder):
    table = finished.table()
    floor = [m for m in table["map"].unique() if m.startswith("centre-bias floor")]
    people = "people (leave-one-subject-out)"
    cams = sorted(m for m in table["map"].unique() if m not in [*floor, people])
    assert cams == sorted(f"{name} (UNTRAINED) · EigenCAM @ layer4" for name in DETECTORS)
    assert len(floor) == 1
    # per image: 3 maps × (2 references × 5 map metrics + 5 fixation metrics), and the
    # inter-observer ceiling (2 subjects): 5 fixation metrics + IoU against the density
    assert len(table) == 4 * (3 * (2 * 5 + 5) + 6)
    ceiling = table[table["kind"] == "ceiling"]
    assert set(ceiling["map"]) == {people} and len(ceiling) == 4 * 6
    assert set(ceiling[ceiling["metric"] == "IoU@top-10%"]["reference_key"]) == {"fixations"}
    assert set(table["image"]) == set(STEMS)
    assert set(table["metric"]) == {*MAP_METRICS, *FIXATION_METRICS}
    assert set(table["reference_key"]) == {"fixations", "mask", "fixation points"}
    assert not table.duplicated(["image", "map", "reference", "metric"]).any()
    cam_rows = table[table["kind"] == "type-1"]
    assert set(cam_rows["weights"]) == {"untrained"} and not cam_rows["trained"].any()
    assert table["value"].notna().all(), table[table["value"].isna()][["metric", "reason"]]
    curves = finished.curves()
    assert len(curves) == 4 * 3 * 2 * 50
    assert curves["percent"].tolist()[:3] == [1, 2, 3]
    for name in ("metrics.parquet", "metrics.csv", "manifest.json", "summary.tex", "summary.csv"):
        assert (finished.root / name).is_file(), name
    manifest = finished.manifest()
    assert manifest["status"] == "complete" and manifest["images"] == 4
    assert manifest["packages"]["torch"] and manifest["timings_s"]["type-1"] > 0
    assert manifest["device"] == "cpu" and manifest["cudnn_tf32"] is None  # only on CUDA


def test_values_equal_the_single_image_functions(dataset: Dataset, finished: ResultsFolder):
    table = finished.table()
    sample = dataset.load("b")
    choice = ModelChoice("FCOS R50-FPN", WeightSource.UNTRAINED, None, 64)
    cam = compute_cam(sample.image, choice, "EigenCAM", "layer4", 0.9).cam
    mask, _ = load_mask(dataset.mask_path("b"), SHAPE)
    density = fixations.display(
        fixations.density_map(sample.fixations, SHAPE, fixations.default_sigma(SHAPE))
    )
    rows = table[(table["image"] == "b") & (table["detector"] == "FCOS R50-FPN")]

    def value(metric: str, reference: str) -> float:
        match = rows[(rows["metric"] == metric) & (rows["reference_key"] == reference)]
        assert len(match) == 1
        return float(match["value"].iloc[0])

    assert value("MAE", "mask") == pytest.approx(metrics.mae(cam, mask), abs=1e-6)
    assert value("IoU@top-10%", "mask") == pytest.approx(metrics.top_percent_iou(cam, mask, 10))
    assert value("CC", "fixations") == pytest.approx(metrics.cc(cam, density), abs=1e-6)
    nss = metrics.compute("NSS", cam, fixations=sample.fixations).value
    assert value("NSS", "fixation points") == pytest.approx(nss, abs=1e-6)


def test_a_rerun_computes_nothing(dataset, finished, monkeypatch):
    before = finished.table()
    calls = []
    monkeypatch.setattr(engine, "compute_maps", lambda *a, **k: calls.append(a))
    report = engine.run(dataset, SETTINGS, finished.root)
    assert calls == [] and report.skipped_done == 4 and report.computed == 0
    pd.testing.assert_frame_equal(finished.table(), before)


def test_a_run_killed_half_way_resumes_to_the_same_table(dataset, finished, tmp_path, monkeypatch):
    out = tmp_path / "killed"
    real = engine.compute_maps
    seen = []

    def dies_on_the_third(sample, *args, **kwargs):
        seen.append(sample.id)
        if len(seen) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third image computes
        return real(sample, *args, **kwargs)

    monkeypatch.setattr(engine, "compute_maps", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        engine.run(dataset, SETTINGS, out)
    assert ResultsFolder(out).done() == {"a", "b"}
    assert not [p for p in out.rglob(".*") if p.is_file()], "a temporary file was left behind"
    monkeypatch.setattr(engine, "compute_maps", real)
    report = engine.run(dataset, SETTINGS, out)
    assert report.skipped_done == 2 and report.computed == 2
    pd.testing.assert_frame_equal(ResultsFolder(out).table(), finished.table())


def test_a_stop_keeps_what_is_done(dataset, tmp_path):
    import threading

    cancel = threading.Event()
    report = engine.run(
        dataset,
        SETTINGS.with_changes(detectors=("FCOS R50-FPN",)),
        tmp_path / "stopped",
        progress=lambda done, total, stem: cancel.set(),
        cancel=cancel,
    )
    assert report.cancelled and ResultsFolder(tmp_path / "stopped").done() == {"a"}
    assert ResultsFolder(tmp_path / "stopped").manifest()["status"] == "stopped"


def test_a_corrupt_image_is_skipped_and_logged(tmp_path):
    dataset = write_dataset(tmp_path / "with_bad")
    (dataset.root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    settings = SETTINGS.with_changes(detectors=("FCOS R50-FPN",))
    report = engine.run(dataset, settings, tmp_path / "out", engine.Options(limit=3))
    assert set(report.errors) == {"broken"} and "not an image format" in report.errors["broken"]
    errors = ResultsFolder(tmp_path / "out").errors()
    assert errors["image"].tolist() == ["broken"]
    assert ResultsFolder(tmp_path / "out").done() == {"a", "b"}


def test_output_inside_the_dataset_or_with_other_settings_is_refused(dataset, finished):
    with pytest.raises(ResultsError, match="overlap"):
        engine.run(dataset, SETTINGS, dataset.root / "results")
    with pytest.raises(ResultsError, match="other settings"):
        engine.run(dataset, SETTINGS.with_changes(sigma=3.0), finished.root)


def test_type2_maps_are_cached_on_disk(dataset, tmp_path):
    from saliency_core.evaluate.type2_cache import DiskType2Cache

    cache = DiskType2Cache(tmp_path / "t2")
    settings = Settings(detectors=(), type2=("Spectral residual",), references=("fixations",))
    job = pipeline.type2_steps(settings)[0]
    sample = dataset.load("a")
    first = cache(sample, job)
    second = cache(sample, job)
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(first.display, second.display)
    assert second.label == first.label and second.trained is first.trained is True
    # an untrained network's map stays untrained through the disk cache
    untrained = Settings(detectors=(), type2=("DeepGaze IIE",), references=("fixations",))
    deepgaze = pipeline.type2_steps(untrained)[0]
    assert cache(sample, deepgaze).trained is False and cache(sample, deepgaze).trained is False
    assert cache.hits == 2


def test_the_summary_gives_means_and_bootstrap_intervals(finished: ResultsFolder):
    table = finished.table()
    long = summary.summarize(table)
    row = long[
        (long["detector"] == "FCOS R50-FPN")
        & (long["metric"] == "MAE")
        & (long["reference_key"] == "mask")
    ].iloc[0]
    values = table[
        (table["detector"] == "FCOS R50-FPN")
        & (table["metric"] == "MAE")
        & (table["reference_key"] == "mask")
    ]["value"]
    assert row["mean"] == pytest.approx(values.mean()) and row["n"] == 4
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert values.min() <= row["ci_low"] and row["ci_high"] <= values.max()
    assert "MAE vs mask" in summary.wide(long).columns
    assert "\\begin{tabular}" in summary.to_latex(long)


def test_mean_ci_of_constant_values_is_that_value_and_of_one_value_undefined():
    """One convention for the summary and the time curves: every resample of equal values has
    their mean, so the interval is [v, v]; a single value has no interval."""
    assert summary.mean_ci(np.array([0.5, 0.5, np.nan, 0.5])) == (0.5, 0.5, 0.5)
    mean, low, high = summary.mean_ci(np.array([0.25, np.inf]))
    assert mean == 0.25 and np.isnan(low) and np.isnan(high)
    assert np.isnan(summary.mean_ci(np.array([np.nan]))[0])
    mean, low, high = summary.mean_ci(np.array([0.0, 1.0, 1.0, 0.0]), rng=1)
    assert mean == 0.5 and 0.0 <= low < 0.5 < high <= 1.0
    assert summary.format_cell(-0.0001, float("nan"), float("nan")) == "0.000"


def test_the_command_writes_the_tables_and_refuses_bad_input(dataset, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        'detectors = ["FCOS R50-FPN"]\ncams = ["EigenCAM"]\ntype2 = []\n'
        'references = ["mask"]\ninput_size = 64\n[evaluate]\nlimit = 2\n'
    )
    out = tmp_path / "cli"
    code = command.main(
        ["--dataset", str(dataset.root), "--out", str(out), "--config", str(config)]
    )
    assert code == 0
    table = ResultsFolder(out).table()
    assert set(table["image"]) == {"a", "b"} and set(table["reference_key"]) == {
        "mask",
        "fixation points",
    }
    printed = capsys.readouterr()
    assert "MAE vs mask" in printed.out
    assert command.main(["--dataset", str(dataset.root), "--out", str(out), "--sigma", "-1"]) == 1
    assert "sigma must be in [0, 1000] px, got -1.0" in capsys.readouterr().err
    assert command.main(["--dataset", str(tmp_path), "--out", str(out)]) == 1
    assert "no images/ folder" in capsys.readouterr().err
    code = command.main(["--dataset", str(dataset.root), "--out", str(out), "--detectors", "YOLO"])
    assert code == 1 and "unknown 'YOLO'" in capsys.readouterr().err


@pytest.mark.extras
def test_the_ray_engine_gives_the_same_table(dataset, finished, tmp_path):
    """Two actors, batches of 3 images (a, b, c and d): the local engine's table with the same
    batches, to the last bit, and the one-image-at-a-time table within float tolerance."""
    require_module("ray", "requirements-ray.txt")
    from saliency_core.evaluate.ray_engine import ray_executor

    out = tmp_path / "ray"
    options = engine.Options(batch_size=3)
    report = engine.run(dataset, SETTINGS, out, options, executor=ray_executor(num_cpus=2))
    assert report.errors == {} and report.computed == 4
    assert report.timings["type-1"] > 0
    local = ResultsFolder(tmp_path / "local")
    engine.run(dataset, SETTINGS, local.root, options)
    pd.testing.assert_frame_equal(ResultsFolder(out).table(), local.table())
    pd.testing.assert_frame_equal(ResultsFolder(out).curves(), local.curves())
    for ray_table, single in (
        (ResultsFolder(out).table(), finished.table()),
        (ResultsFolder(out).curves(), finished.curves()),
    ):
        value = "value" if "value" in single else "iou"
        pd.testing.assert_frame_equal(ray_table.drop(columns=value), single.drop(columns=value))
        # batched passes equal single ones within float tolerance (test above)
        np.testing.assert_allclose(ray_table[value], single[value], atol=0.02, equal_nan=True)
    import ray

    assert not ray.is_initialized(), "the local Ray must be shut down"


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    import sys

    from saliency_core.evaluate import ray_engine
    from saliency_core.models.extras import MissingDependencyError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match="pip install -r requirements-ray.txt"):
        ray_engine.ray_executor()


def test_the_finegrained_tables_can_be_left_out(dataset, finished, tmp_path):
    assert (finished.root / "temporal.parquet").is_file(), "the toy fixations have onsets"
    settings = SETTINGS.with_changes(detectors=("FCOS R50-FPN",))
    out = tmp_path / "plain"
    engine.run(dataset, settings, out, engine.Options(limit=1, finegrained=False))
    assert not (out / "temporal.parquet").exists() and not (out / "temporal").exists()
    assert ResultsFolder(out).manifest()["finegrained"] is False


def test_batched_detector_and_deepgaze_passes_give_the_same_table(tmp_path, monkeypatch):
    """Batches of 3 (a corrupt image inside the first): every CAM and DeepGaze IIE map comes
    from a batched pass (none computed alone), the bad image is logged, and the table equals
    one image at a time."""
    dataset = write_dataset(tmp_path / "with_bad")
    (dataset.root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    settings = SETTINGS.with_changes(
        detectors=("FCOS R50-FPN",), cams=("EigenCAM", "GradCAM"), type2=("DeepGaze IIE",)
    )
    single = engine.run(dataset, settings, tmp_path / "single", engine.Options(batch_size=1))
    alone: list[str] = []
    direct_cam, direct_type2s = pipeline.direct_cam, pipeline.direct_type2s

    def cam_alone(sample, *args):
        alone.append(f"CAM {sample.id}")
        return direct_cam(sample, *args)

    def type2s(samples, job):
        if len(samples) == 1:
            alone.append(f"type-2 {samples[0].id}")
        return direct_type2s(samples, job)

    monkeypatch.setattr(pipeline, "direct_cam", cam_alone)
    monkeypatch.setattr(pipeline, "direct_type2s", type2s)
    monkeypatch.setattr(type2_cache, "direct_type2s", type2s)
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "another cache"))
    batched = engine.run(dataset, settings, tmp_path / "batched", engine.Options(batch_size=3))
    assert set(batched.errors) == set(single.errors) == {"broken"}
    assert alone == []  # a, b (first batch, around the bad image) and c, d: all batched
    keys = ["image", "map", "reference", "metric"]
    one, many = (
        ResultsFolder(tmp_path / run).table().sort_values(keys) for run in ("single", "batched")
    )
    assert one["map"].str.startswith("DeepGaze IIE").any()
    pd.testing.assert_frame_equal(
        one.drop(columns="value").reset_index(drop=True),
        many.drop(columns="value").reset_index(drop=True),
    )
    np.testing.assert_allclose(many["value"], one["value"], atol=0.02, equal_nan=True)
    with pytest.raises(ValueError, match="batch size must be ≥ 1"):
        engine.Options(batch_size=0)


def test_every_model_loads_once_even_beyond_the_model_cache_capacity(
    dataset, tmp_path, monkeypatch
):
    """Two detectors with room for one model (SALIENCY_MAX_MODELS=1, as the app may run): the
    run holds both for its duration instead of rebuilding them for every image, then gives
    the room back."""
    from saliency_core.maps import detector_maps
    from saliency_core.models import cache as model_cache

    builds: list[str] = []
    load = detector_maps.load_detector
    monkeypatch.setattr(
        detector_maps,
        "load_detector",
        lambda name, *a, **k: builds.append(name) or load(name, *a, **k),
    )
    monkeypatch.setattr(model_cache.MODELS, "capacity", 1)
    model_cache.MODELS.clear()
    report = engine.run(dataset, SETTINGS, tmp_path / "out", engine.Options(finegrained=False))
    assert report.errors == {} and report.computed == 4
    assert sorted(builds) == sorted(DETECTORS)
    assert model_cache.MODELS.capacity == 1 and len(model_cache.MODELS) == 1
    assert pipeline.models_needed(SETTINGS.with_changes(type2=("DeepGaze IIE",))) == 3
    assert pipeline.models_needed(SETTINGS.with_changes(type2=("Spectral residual",))) == 2
