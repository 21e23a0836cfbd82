"""Blank values and failing optional analyses never cost an image; the run keeps every notice."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from test_evaluate import write_dataset

from saliency_core import pipeline
from saliency_core.commands import evaluate as command
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import Sample
from saliency_core.evaluate import engine, finegrained
from saliency_core.evaluate.optional import Guard, OptionalAnalysis
from saliency_core.evaluate.store import DATASET_NOTICE, ResultsFolder
from saliency_core.maps.classifier_maps import classifier_steps
from saliency_core.settings import Settings
from saliency_core.study import MapKind

DETECTOR = "FCOS R50-FPN"
SETTINGS = Settings(
    detectors=(DETECTOR,), cams=("EigenCAM",), type2=(), references=("fixations",),
    input_size=64,
)  # fmt: skip
CONFIG = (
    f'detectors = ["{DETECTOR}"]\ncams = ["EigenCAM"]\ntype2 = []\nreferences = ["fixations"]\n'
    "input_size = 64\n"
)
CAM = f"{DETECTOR} (UNTRAINED) · EigenCAM @ layer4"
LEFT_OUT = "those fixations are left out of the time analysis only"


def messy_dataset(root: Path) -> Dataset:
    """The 4-image toy dataset (8 fixations each, onsets 0, 0.2, …, 1.4 s) with real-export
    faults: a: the onset column empty in every row; b: empty onsets in data rows 2 and 5;
    c: a text onset in data row 3, an empty x in row 4 and a NaN y in row 7; d: intact."""
    dataset = write_dataset(root)
    folder = root / "fixations"
    for stem, edit in {
        "a": lambda t: t.assign(onset_s=""),
        "b": lambda t: t.astype({"onset_s": object}).assign(
            onset_s=lambda u: u["onset_s"].where(~u.index.isin([1, 4]), "")
        ),
        "c": lambda t: t.astype({"onset_s": object, "x": object, "y": object}).assign(
            onset_s=lambda u: u["onset_s"].where(u.index != 2, "soon"),
            x=lambda u: u["x"].where(u.index != 3, ""),
            y=lambda u: u["y"].where(u.index != 6, "NaN"),
        ),
    }.items():
        edit(pd.read_csv(folder / f"{stem}.csv")).to_csv(folder / f"{stem}.csv", index=False)
    return dataset


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path, str]:
    """The messy dataset evaluated by the command; (dataset, results folder, stderr)."""
    base = tmp_path_factory.mktemp("messy")
    dataset = messy_dataset(base / "toy")
    config = base / "run.toml"
    config.write_text(CONFIG)
    out = base / "out"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(printed):
        patch.setenv("SALIENCY_CACHE_DIR", str(base / "cache"))
        code = command.main(
            ["--dataset", str(dataset.root), "--out", str(out), "--config", str(config)]
        )
    assert code == 0, printed.getvalue()
    return dataset, out, printed.getvalue()


def test_every_image_is_scored_with_its_usable_fixations(messy):
    dataset, out, _ = messy
    table = ResultsFolder(out).table()
    nss = table[(table["map"] == CAM) & (table["metric"] == "NSS")]
    assert sorted(nss["image"]) == ["a", "b", "c", "d"]
    assert nss["value"].notna().all()
    for stem, rows in {"a": 8, "b": 8, "c": 6, "d": 8}.items():
        assert len(dataset.load(stem).fixations) == rows


def test_the_time_table_leaves_out_only_the_fixations_without_onsets(messy):
    _, out, _ = messy
    temporal = ResultsFolder(out).extra_table("temporal")
    rows = temporal[(temporal["map"] == CAM) & (temporal["metric"] == "NSS")]
    counts = {
        image: group.sort_values("start")["n_fixations"].tolist()
        for image, group in rows.groupby("image")
    }
    # a: no onsets at all; b: 0.2 and 0.8 s blank; c: 0.4 s text, 0.6 and 1.2 s rows dropped
    assert counts == {"b": [2, 1, 3], "c": [2, 1, 2], "d": [3, 2, 3]}


def test_the_notices_table_names_every_thing_left_out(messy):
    dataset, out, _ = messy
    files = dataset.root.resolve() / "fixations"
    expected = [
        ("b", f"Fixations file {files / 'b.csv'}: onset_s is empty in 2 of 8 rows "
              f"(data rows 2, 5): {LEFT_OUT}"),
        ("c", f"Fixations file {files / 'c.csv'}: 2 rows dropped (no usable x/y: data rows 4, 7)"),
        ("c", f"Fixations file {files / 'c.csv'}: onset_s must be a number of seconds >= 0, not "
              f"in data row 3 ('soon'): {LEFT_OUT}"),
        (DATASET_NOTICE, "No onset times in the fixations of 1 of 4 images with fixations (a): "
                         "onset_s is absent, empty or not a number of seconds >= 0, so they are "
                         "left out of the time analysis"),
    ]  # fmt: skip
    notices = ResultsFolder(out).notices()
    assert list(notices.columns) == ["image", "notice"]
    assert list(notices.itertuples(index=False, name=None)) == expected
    written = pd.read_csv(out / "notices.csv")
    assert list(written.itertuples(index=False, name=None)) == expected
    assert sorted(p.stem for p in (out / "notices").glob("*.parquet")) == ["b", "c"]
    assert json.loads((out / "manifest.json").read_text())["notices"] == 4


def test_the_command_counts_the_notices_in_its_last_line(messy):
    _, out, printed = messy
    # the output ends with it (a progress bar redrawn by tqdm's monitor thread under load may
    # share its line in a captured stream)
    assert printed.rstrip().endswith(
        f"4 computed, 0 already done, 0 skipped, 4 notices (notices.parquet); results in {out}"
    )


# --- the guard of the optional analyses ------------------------------------------------------


def test_an_optional_analysis_failing_for_one_image_costs_it_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "cache"))
    dataset = write_dataset(tmp_path / "toy")
    options = engine.Options(limit=2)
    settings = SETTINGS.with_changes(score_threshold=0.0)  # untrained boxes become regions
    intact = engine.run(dataset, settings, tmp_path / "intact", options)
    assert intact.notices == 0 and ResultsFolder(tmp_path / "intact").notices().empty
    assert set(ResultsFolder(tmp_path / "intact").extra_table("regions")["image"]) == {"a", "b"}
    real = finegrained.region_table

    def fails_on_b(bundle: pipeline.Bundle) -> pd.DataFrame:
        if bundle.sample.id == "b":
            raise RuntimeError("no regions today")
        return real(bundle)

    monkeypatch.setattr(finegrained, "region_table", fails_on_b)
    report = engine.run(dataset, settings, tmp_path / "out", options)
    assert report.errors == {} and report.computed == 2 and report.notices == 1
    folder = ResultsFolder(tmp_path / "out")
    pd.testing.assert_frame_equal(folder.table(), ResultsFolder(tmp_path / "intact").table())
    assert list(folder.notices().itertuples(index=False, name=None)) == [
        ("b", "Region shares left out for this image: RuntimeError: no regions today")
    ]
    regions = folder.extra_table("regions")
    assert set(regions["image"]) == {"a"}
    assert set(folder.extra_table("temporal")["image"]) == {"a", "b"}


def test_every_registered_optional_analysis_runs_through_the_guard(tmp_path, monkeypatch):
    """The floor alone (no model): the ceiling, time curves and region shares all failing
    leave its 10 main rows exactly as they were, with one notice each."""
    sample = write_dataset(tmp_path / "toy").load("a")
    settings = Settings(detectors=(), type2=(), references=("fixations",))

    def scored() -> engine.ImageResult:
        computed = engine.compute_maps(sample, settings, pipeline.MapFunctions())
        return engine.score(computed, engine.Options())

    real = scored()
    assert MapKind.CEILING in set(real.table["kind"]) and set(real.extras) == {"temporal"}
    failing = tuple(
        OptionalAnalysis(entry.name, _raises, entry.part, entry.stage, entry.wanted)
        for entry in engine.OPTIONAL_ANALYSES
    )
    monkeypatch.setattr(engine, "OPTIONAL_ANALYSES", failing)
    failed = scored()
    main = real.table[real.table["kind"] != MapKind.CEILING].reset_index(drop=True)
    assert len(main) == 10  # the floor: 5 map metrics vs the density, 5 fixation metrics
    pd.testing.assert_frame_equal(failed.table, main)
    assert set(failed.extras) == {"notices"}
    assert failed.extras["notices"].values.tolist() == [
        ["a", f"{name} left out for this image: cannot"]
        for name in ("Human ceiling", "Time curves", "Region shares")
    ]


def _raises(bundle: pipeline.Bundle, options: engine.Options) -> pd.DataFrame:
    raise ValueError("cannot")


def test_the_guard_turns_a_failure_into_one_notice():
    guard = Guard()
    rows = guard.run(OptionalAnalysis("Thing", _raises), None, None)
    assert rows.empty and guard.notices == ["Thing left out for this image: cannot"]


def evaluated(sample: Sample, settings: Settings) -> engine.ImageResult | tuple[str, str]:
    """One image the engine's way (its batch's maps, then the scoring), or (stem, why not)."""
    [item] = engine.BatchMaps().bundles([(sample.id, lambda: sample)], settings, engine.Timings())
    return engine.score(item, engine.Options()) if isinstance(item, engine.Computed) else item


def test_a_failing_classifier_map_is_a_notice_and_the_other_maps_stand(tmp_path, monkeypatch):
    dataset = write_dataset(tmp_path / "toy")
    settings = Settings(
        detectors=(), type2=(), references=("fixations",), classifiers=("ResNet-50",),
        classifier_input_size=64,
    )  # fmt: skip
    [job], _ = classifier_steps(settings)

    def fails(rgb, job):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(pipeline, "compute_classifier_map", fails)
    result = evaluated(dataset.load("a"), settings)
    alone = evaluated(
        dataset.load("a"), Settings(detectors=(), type2=(), references=("fixations",))
    )
    pd.testing.assert_frame_equal(result.table, alone.table)
    assert result.extras["notices"].values.tolist() == [
        ["a", f"Classifier map {job.label} left out for this image: RuntimeError: out of memory"]
    ]

    def cam(*args, **kwargs):
        raise RuntimeError("a detector map fails the image")

    monkeypatch.setattr(pipeline, "compute_cam", cam)
    assert evaluated(dataset.load("a"), SETTINGS) == (
        "a",
        "RuntimeError: a detector map fails the image",
    )


def test_a_retried_image_leaves_no_stale_notices(tmp_path: Path):
    folder = ResultsFolder(tmp_path)
    rows = pd.DataFrame({"image": ["x"], "value": [1.0]})
    notices = engine.notices_table("x", ["Fixations file x.csv: 1 row dropped"])
    folder.write_image("x", rows, rows, {"notices": notices})
    assert folder.notices().values.tolist() == [["x", "Fixations file x.csv: 1 row dropped"]]
    folder.write_image("x", rows, rows, {})  # the file was fixed, the image computed again
    assert folder.write_notices().empty
    assert pd.read_csv(tmp_path / "notices.csv").columns.tolist() == ["image", "notice"]
