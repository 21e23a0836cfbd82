"""The Dataset report's pure functions on hand-made tables (no Streamlit, no model)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency_core import pipeline
from saliency_core.data.images import Sample
from saliency_core.evaluate.outcome import Outcome
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.maps.cams import CamResult, Detections
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings, from_query
from ui import tables
from ui.report import figures, folders, gallery, links, summary_table, thumbnails

NAN = float("nan")
CAM_A = "A (UNTRAINED) · EigenCAM @ layer4"
CAM_B = "B (UNTRAINED) · EigenCAM @ layer4"
FLOOR = "centre-bias floor (Gaussian)"


def per_image(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    """A per-image table from (image, map, reference_key, metric, value) rows."""
    kinds = {CAM_A: "type-1", CAM_B: "type-1", FLOOR: "baseline"}
    higher = {"IoU@top-10%": True, "MAE": False, "NSS": True}
    frame = pd.DataFrame(rows, columns=["image", "map", "reference_key", "metric", "value"])
    frame["kind"] = frame["map"].map(kinds)
    frame["detector"] = frame["map"].map({CAM_A: "A", CAM_B: "B"}).fillna("")
    frame["weights"] = np.where(frame["kind"] == "baseline", "weight-free", "untrained")
    frame["method"] = np.where(frame["kind"] == "baseline", "centre bias", "EigenCAM")
    frame["target"] = np.where(frame["kind"] == "baseline", "", "layer4")
    frame["trained"] = frame["kind"] == "baseline"
    frame["reference"] = frame["reference_key"].map(
        {"mask": "human attention mask", "fixation points": "fixations"}
    )
    frame["higher_is_better"] = frame["metric"].map(higher)
    frame["top_percent"] = np.where(frame["metric"].str.startswith("IoU@"), 10.0, NAN)
    frame["reason"] = np.where(frame["value"].isna(), "constant map", None)
    return frame


def summary_rows(rows: list[tuple[str, str, str, float, float, float, int, int]]) -> pd.DataFrame:
    """A long summary from (map, reference_key, metric, mean, ci_low, ci_high, n, n_undef)."""
    info = {
        CAM_A: ("type-1", "A", "EigenCAM", "untrained", "layer4"),
        CAM_B: ("type-1", "B", "EigenCAM", "untrained", "layer4"),
        FLOOR: ("baseline", "", "centre bias", "weight-free", ""),
    }
    higher = {"IoU@top-10%": True, "MAE": False, "NSS": True}
    records = [
        (*info[m], ref, metric, mean, lo, hi, n, nu, higher[metric])
        for m, ref, metric, mean, lo, hi, n, nu in rows
    ]
    columns = ["kind", "detector", "method", "weights", "target", "reference_key", "metric"]
    columns += ["mean", "ci_low", "ci_high", "n", "n_undefined", "higher_is_better"]
    return pd.DataFrame(records, columns=columns)


TABLE = per_image(
    [
        ("a", CAM_A, "mask", "IoU@top-10%", 0.5),
        ("b", CAM_A, "mask", "IoU@top-10%", 0.1),
        ("c", CAM_A, "mask", "IoU@top-10%", NAN),
        ("d", CAM_A, "mask", "IoU@top-10%", 0.3),
        ("e", CAM_A, "mask", "IoU@top-10%", 0.1),
        ("a", CAM_A, "mask", "MAE", 0.2),
        ("b", CAM_A, "mask", "MAE", 0.4),
        ("c", CAM_A, "mask", "MAE", 0.3),
        ("a", FLOOR, "mask", "IoU@top-10%", 0.2),
        ("b", FLOOR, "mask", "IoU@top-10%", NAN),
        ("a", CAM_A, "fixation points", "NSS", 1.5),
    ]
)


def test_images_are_ranked_worst_first_with_undefined_last():
    iou = gallery.rank_images(TABLE, CAM_A, "mask", "IoU@top-10%")
    # higher is better: lowest first; the tie at 0.1 broken by image id; NaN last
    assert iou["image"].tolist() == ["b", "e", "d", "a", "c"]
    assert iou["rank"].tolist() == [1, 2, 3, 4, 5]
    assert iou["reason"].iloc[-1] == "constant map"
    mae = gallery.rank_images(TABLE, CAM_A, "mask", "MAE")
    assert mae["image"].tolist() == ["b", "c", "a"]  # lower is better: highest first
    assert mae["value"].tolist() == [0.4, 0.3, 0.2]
    assert gallery.rank_images(TABLE, CAM_B, "mask", "MAE").empty


def test_filtering_by_value_range_undefined_and_tags():
    ranked = gallery.rank_images(TABLE, CAM_A, "mask", "IoU@top-10%")
    inside = gallery.filter_images(ranked, (0.1, 0.3), include_undefined=False)
    assert inside["image"].tolist() == ["b", "e", "d"]  # bounds inclusive
    with_na = gallery.filter_images(ranked, (0.2, 0.5), include_undefined=True)
    assert with_na["image"].tolist() == ["d", "a", "c"]
    assert gallery.filter_images(ranked, None, include_undefined=False)["image"].tolist() == [
        "b",
        "e",
        "d",
        "a",
    ]
    tags = gallery.tag_lists(
        pd.DataFrame({"image": ["a", "e", "c"], "tags": ["Clutter, text", "small object", "text"]})
    )
    assert tags == {"a": ("Clutter", "text"), "e": ("small object",), "c": ("text",)}
    assert gallery.all_tags(tags) == ["Clutter", "small object", "text"]
    tagged = gallery.filter_images(ranked, None, True, tags, ["clutter", "small object"])
    assert tagged["image"].tolist() == ["e", "a"]  # any of the tags, case-insensitive
    assert gallery.filter_images(ranked, (0.0, 0.2), False, tags, ["text"]).empty


def test_tags_are_parsed_from_free_text():
    assert gallery.parse_tags(" clutter,  Text ,,clutter, TEXT,  two   words ") == (
        "clutter",
        "Text",
        "two words",
    )
    assert gallery.parse_tags("") == ()


def test_pages_of_the_gallery():
    frame = pd.DataFrame({"image": list("abcdefghij")})
    assert gallery.page_count(10, 8) == 2 and gallery.page_count(0, 8) == 1
    assert gallery.page_of(frame, 2, 8)["image"].tolist() == ["i", "j"]
    assert gallery.page_of(frame, 9, 8)["image"].tolist() == ["i", "j"]  # clamped


def test_summary_table_marks_the_best_map_per_column_never_the_floor():
    long = summary_rows(
        [
            (CAM_A, "mask", "IoU@top-10%", 0.30, 0.20, 0.40, 4, 0),
            (CAM_B, "mask", "IoU@top-10%", 0.25, NAN, NAN, 3, 1),
            (FLOOR, "mask", "IoU@top-10%", 0.60, 0.50, 0.70, 4, 0),
            (CAM_A, "mask", "MAE", 0.20, 0.10, 0.30, 4, 0),
            (CAM_B, "mask", "MAE", 0.20, 0.15, 0.25, 4, 0),
            (FLOOR, "mask", "MAE", 0.05, 0.04, 0.06, 4, 0),
            (CAM_A, "fixation points", "NSS", NAN, NAN, NAN, 0, 4),
            (CAM_B, "fixation points", "NSS", NAN, NAN, NAN, 0, 4),
            (FLOOR, "fixation points", "NSS", 1.2, 1.0, 1.4, 4, 0),
        ]
    )
    labels = summary_table.map_labels(
        per_image([(x, m, "mask", "MAE", 0.1) for x in "a" for m in (CAM_A, CAM_B, FLOOR)])
    )
    view = summary_table.summary_table(long, labels)
    assert view.metric_columns == ["IoU@top-10% vs mask", "MAE vs mask", "NSS vs fixation points"]
    assert view.values["map"].tolist() == [CAM_A, CAM_B, FLOOR]
    assert view.values["kind"].tolist() == ["type-1", "type-1", "floor"]
    assert view.values["n images"].tolist() == [4, 4, 4]
    assert view.values["IoU@top-10% vs mask"].tolist() == [0.30, 0.25, 0.60]
    assert view.higher_is_better == {
        "IoU@top-10% vs mask": True,
        "MAE vs mask": False,
        "NSS vs fixation points": True,
    }
    # IoU: A beats B (the floor's 0.60 is a reading aid, not a contender); MAE: A and B tie;
    # NSS: no map has a value, so nothing is best
    assert view.best["IoU@top-10% vs mask"].tolist() == [True, False, False]
    assert view.best["MAE vs mask"].tolist() == [True, True, False]
    assert view.best["NSS vs fixation points"].tolist() == [False, False, False]
    assert view.ci["IoU@top-10% vs mask"].tolist() == ["[0.200, 0.400]", "n/a", "[0.500, 0.700]"]
    wide = view.with_ci()
    assert wide.columns.tolist()[3:5] == ["IoU@top-10% vs mask", "IoU@top-10% vs mask 95% CI"]
    assert tables.format_value(NAN) == "n/a" and tables.format_value(-1e-9) == "0.000"


def test_undefined_values_are_explained():
    notes = summary_table.undefined_notes(TABLE)
    assert notes == [
        f"{CAM_A}, IoU@top-10% vs mask: n/a on 1 image — constant map",
        f"{FLOOR}, IoU@top-10% vs mask: n/a on 1 image — constant map",
    ]
    assert summary_table.undefined_notes(TABLE[TABLE["value"].notna()]) == []


def test_a_ceiling_below_the_floor_is_named_with_its_images():
    people = "people (leave-one-subject-out)"
    below = "below the floor with 2 subjects: not a ceiling"
    rows = per_image([(i, people, "fixation points", "NSS", 0.5) for i in ("a", "b", "c")])
    rows["kind"] = "ceiling"
    rows["reason"] = [below, None, below]
    rows.loc[2, "value"] = NAN  # an undefined value is explained elsewhere, not counted here
    rows.loc[2, "reason"] = "needs fixations of at least 2 subjects"
    assert summary_table.ceiling_notes(rows) == [
        f"{people}, NSS vs fixation points: {below} on 1 of 3 images"
    ]
    assert summary_table.ceiling_notes(TABLE) == []


def test_distribution_figure_has_one_trace_per_map_without_undefined_values():
    figure = figures.distribution_figure(TABLE, "mask", "IoU@top-10%")
    names = [trace.name for trace in figure.data]
    assert names == [f"{CAM_A} (n/a: 1)", f"{FLOOR} (n/a: 1)"]
    assert list(figure.data[0].y) == [0.5, 0.1, 0.3, 0.1]
    assert list(figure.data[0].text) == ["a", "b", "d", "e"]
    assert figure.data[1].marker.color == "grey"
    assert "higher is better" in figure.layout.title.text
    violin = figures.distribution_figure(TABLE, "mask", "MAE", "violin")
    assert violin.data[0].type == "violin" and list(violin.data[0].y) == [0.2, 0.4, 0.3]


def test_mean_curves_average_the_defined_values_and_mark_the_study_percent():
    curves = pd.DataFrame(
        [
            ("a", CAM_A, "human attention mask", "mask", 1, 0.2),
            ("b", CAM_A, "human attention mask", "mask", 1, 0.4),
            ("a", CAM_A, "human attention mask", "mask", 2, NAN),
            ("b", CAM_A, "human attention mask", "mask", 2, 0.6),
            ("a", CAM_A, "fixation density", "fixations", 1, 0.9),
        ],
        columns=["image", "map", "reference", "reference_key", "percent", "iou"],
    )
    means = figures.mean_curves(curves, "mask")
    assert means["iou"].tolist() == pytest.approx([0.3, 0.6])
    assert means["n"].tolist() == [2, 1]
    figure = figures.mean_curve_figure(curves, "mask")
    assert list(figure.data[0].y) == pytest.approx([0.3, 0.6])
    assert figure.layout.shapes[0].x0 == 10.0  # the study's top-10%
    assert figure.layout.annotations[0].text == "study: top 10%"
    assert "(2 images)" in figure.layout.title.text


def test_map_settings_keep_only_what_one_thumbnail_needs():
    run = Settings(
        detectors=("Faster R-CNN R50-FPN", "FCOS R50-FPN"),
        weights=WeightSource.PRETRAINED,
        untrained_twins=True,
        cams=("EigenCAM", "GradCAM"),
        type2=("DeepGaze IIE",),
        references=("deepgaze", "fixations"),
        consensus=True,
    )
    twin = thumbnails.MapIdentity("x", "type-1", "FCOS R50-FPN", "untrained", "GradCAM", "layer4")
    narrowed = thumbnails.map_settings(run, twin, "fixations")
    assert narrowed.detectors == ("FCOS R50-FPN",) and narrowed.cams == ("GradCAM",)
    assert narrowed.weights is WeightSource.UNTRAINED and not narrowed.untrained_twins
    assert narrowed.type2 == () and narrowed.references == ("fixations",)
    assert not narrowed.consensus
    trained = thumbnails.MapIdentity("x", "type-1", "FCOS R50-FPN", "pretrained", "EigenCAM")
    assert thumbnails.map_settings(run, trained, "deepgaze").weights is WeightSource.PRETRAINED
    gaze = thumbnails.MapIdentity("x", "type-2", "", "untrained", "DeepGaze IIE")
    assert thumbnails.map_settings(run, gaze, "fixations").type2 == ("DeepGaze IIE",)
    assert thumbnails.map_settings(run, gaze, "fixations").detectors == ()
    floor = thumbnails.MapIdentity(FLOOR, "baseline", "", "weight-free", "centre bias")
    only_floor = thumbnails.map_settings(run, floor, "fixation points")
    assert only_floor.detectors == () and only_floor.references == ()
    consensus = thumbnails.MapIdentity("c", "consensus", method="consensus")
    assert thumbnails.map_settings(run, consensus, "deepgaze").consensus


def fake_cam(values: np.ndarray):
    def cam(sample, choice, method, layer, score, explain) -> CamResult:
        empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0), [])
        return CamResult(values, empty, f"{choice.label} · {method} @ {layer}", False)

    return cam


def test_thumbnail_draws_the_top_percent_agreement():
    # black 20×20 image; the map's top 10% (40 px) is rows 0-1, the mask covers rows 0-3
    ramp = np.repeat(np.linspace(1, 0, 20, dtype=np.float32)[:, None], 20, axis=1)
    mask = np.zeros((20, 20), np.float32)
    mask[:4] = 1
    sample = Sample("s", np.zeros((20, 20, 3), np.uint8), "test", mask=mask)
    settings = Settings(
        detectors=("FCOS R50-FPN",), cams=("EigenCAM",), type2=(), references=("mask",)
    )
    identity = thumbnails.MapIdentity(
        "FCOS R50-FPN (UNTRAINED) · EigenCAM @ layer4",
        "type-1",
        "FCOS R50-FPN",
        "untrained",
        "EigenCAM",
        "layer4",
    )
    functions = pipeline.MapFunctions(cam=fake_cam(ramp))
    thumb = thumbnails.agreement_thumbnail(sample, settings, identity, "mask", 10.0, functions)
    assert thumb.picture.shape == (20, 20, 3)
    assert thumb.picture[0, 0].tolist() == [191, 165, 0]  # both: 0.75 · yellow
    assert thumb.picture[3, 5].tolist() == [30, 90, 191]  # the reference only: 0.75 · blue
    assert thumb.picture[10, 5].tolist() == [0, 0, 0]  # neither: the dimmed black image
    assert thumb.caption == "top 10% vs. human attention mask"
    small = thumbnails.agreement_thumbnail(sample, settings, identity, "mask", 10.0, functions, 10)
    assert small.picture.shape == (10, 10, 3)


def test_thumbnail_against_fixation_points_draws_them_on_the_floor():
    sample = Sample(
        "s", np.full((30, 40, 3), 128, np.uint8), "test", fixations=np.array([[20.0, 15.0]])
    )
    settings = Settings(detectors=(), type2=(), references=())
    floor = thumbnails.MapIdentity(
        "centre-bias floor (x)", "baseline", "", "weight-free", "centre bias"
    )
    thumb = thumbnails.agreement_thumbnail(sample, settings, floor, "fixation points", 10.0)
    assert thumb.caption == "the map with the fixation points"
    assert thumb.picture[15, 20].tolist() == [60, 255, 90]  # the fixation's green disc


def test_the_explore_link_carries_the_image_and_the_settings():
    settings = Settings(
        detectors=("FCOS R50-FPN",), input_size=64, type2=(), references=("fixations", "mask")
    )
    query = links.explore_query("toy", "b", settings)
    assert query["dataset"] == "toy" and query["image"] == "b"
    restored, notes = from_query({k: v for k, v in query.items()})
    assert notes == [] and restored == settings


def test_results_folders_are_found_and_their_changes_seen(tmp_path: Path):
    assert folders.find_results_folders(tmp_path / "missing") == []
    for name in ("one", "group/two", "exp/scores/none-s0", "a/b/c/too-deep"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "manifest.json").write_text("{}")
    (tmp_path / "not-a-run").mkdir()
    assert folders.find_results_folders(tmp_path) == [
        tmp_path / "exp/scores/none-s0",  # an experiment's scores (3 levels down)
        tmp_path / "group/two",
        tmp_path / "one",
    ]
    folder = ResultsFolder(tmp_path / "one")
    before = folders.folder_fingerprint(folder.root)
    frame = pd.DataFrame({"image": ["a"], "value": [1.0]})
    folder.write_image("a", frame, frame)
    assert folders.folder_fingerprint(folder.root) != before
    assert folders.results_dir({"SALIENCY_RESULTS_DIR": str(tmp_path)}) == tmp_path
    assert folders.results_dir({}) == folders.DEFAULT_RESULTS_DIR
    assert Path(__file__).resolve().parents[1] / "results" == folders.DEFAULT_RESULTS_DIR
    assert folders.output_folder(tmp_path, " run-1 ") == tmp_path / "run-1"
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="one folder name"):
            folders.output_folder(tmp_path, bad)


def test_run_dataset_is_found_by_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from saliency_core.data.datasets import Dataset

    monkeypatch.setenv("SALIENCY_DATA_DIR", str(tmp_path))
    (tmp_path / "toy" / "images").mkdir(parents=True)
    listed = Dataset("toy", tmp_path / "toy")
    manifest = {"dataset": str((tmp_path / "toy").resolve())}
    assert folders.run_dataset(manifest, {"toy": listed}) == folders.RunDataset(
        listed, True, manifest["dataset"]
    )
    unlisted = folders.run_dataset(manifest, {})
    assert unlisted.dataset == Dataset("toy", (tmp_path / "toy").resolve()) and not unlisted.listed
    gone = folders.run_dataset({"dataset": str(tmp_path / "gone")}, {})
    assert gone.dataset is None and gone.root.endswith("gone")
    assert gone.missing == f"The run's dataset folder {tmp_path / 'gone'} is gone."


OUTSIDE_DATA = (
    " is outside the dataset folders (SALIENCY_DATA_DIR and the sample set): refused (the app "
    "reads only under its configured folders). On a single-user machine, start the app with "
    "SALIENCY_ALLOW_ANY_PATH=1 to open any folder."
)


def fake_run(folder: Path, dataset: Path) -> Path:
    """A results folder whose manifest names ``dataset`` (a folder with one image)."""
    (dataset / "images").mkdir(parents=True)
    (dataset / "images" / "secret.png").write_bytes(b"not read")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(f'{{"dataset": "{dataset}"}}')
    return folder


def test_a_fake_manifest_outside_the_roots_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A manifest written outside $SALIENCY_RESULTS_DIR is refused; one inside it that names a
    dataset outside the dataset roots gets no pictures; SALIENCY_ALLOW_ANY_PATH=1 allows both."""
    monkeypatch.delenv("SALIENCY_ALLOW_ANY_PATH", raising=False)
    results, data = tmp_path / "results", tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(data))
    fake = fake_run(tmp_path / "elsewhere" / "run", tmp_path / "private")
    with pytest.raises(ValueError) as refused:
        folders.open_results_folder(fake, results)
    assert str(refused.value) == (
        f"{fake} is outside the results folder $SALIENCY_RESULTS_DIR ({results}): refused (the "
        "app reads only under its configured folders). On a single-user machine, start the app "
        "with SALIENCY_ALLOW_ANY_PATH=1 to open any folder."
    )
    inside = fake_run(results / "run", tmp_path / "private2")
    assert folders.open_results_folder(inside, results).root == inside.resolve()
    run = folders.run_dataset(ResultsFolder(inside).manifest(), {})
    assert run.dataset is None and not run.listed
    assert run.missing == f"The run's dataset folder {tmp_path / 'private2'}{OUTSIDE_DATA}"
    monkeypatch.setenv("SALIENCY_ALLOW_ANY_PATH", "1")
    assert folders.open_results_folder(fake, results).root == fake.resolve()
    opened = folders.run_dataset(ResultsFolder(inside).manifest(), {}).dataset
    assert opened is not None and opened.ids == ["secret"]


def test_a_symlink_inside_the_results_root_pointing_outside_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("SALIENCY_ALLOW_ANY_PATH", raising=False)
    results = tmp_path / "results"
    fake_run(results / "real", tmp_path / "data")
    fake = fake_run(tmp_path / "elsewhere", tmp_path / "private")
    (results / "link").symlink_to(fake, target_is_directory=True)
    assert folders.find_results_folders(results) == [results / "real"]
    with pytest.raises(ValueError, match=r"link is outside the results folder"):
        folders.open_results_folder(results / "link", results)
    with pytest.raises(ValueError, match=r"link is outside the results folder"):
        folders.output_folder(results, "link")  # a run from the page would write out there
    with pytest.raises(ValueError, match="is not a results folder"):
        folders.open_results_folder(results, results)
    monkeypatch.setenv("SALIENCY_ALLOW_ANY_PATH", "1")
    assert folders.find_results_folders(results) == [results / "link", results / "real"]
    assert folders.open_results_folder(results / "link", results).root == fake.resolve()


def test_sessions_tagging_at_once_keep_every_tag(tmp_path: Path):
    """11 writers started together, each tagging 2 images (one read–merge–write each): every
    tag is kept (the unlocked read–merge–write kept 4 to 6 of 22), and a second write of
    an image's tags replaces them, an empty one removes them."""
    writers, images = 11, 2
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def tag(writer: int) -> None:
        start.wait()
        try:
            for image in range(images):
                ResultsFolder(tmp_path).set_tags(f"img{writer:02d}_{image}", f"by {writer}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=tag, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    tags = ResultsFolder(tmp_path).tags()
    expected = [[f"img{w:02d}_{i}", f"by {w}"] for w in range(writers) for i in range(images)]
    assert tags.values.tolist() == expected
    ResultsFolder(tmp_path).set_tags("img00_0", "clutter, text")
    ResultsFolder(tmp_path).set_tags("img00_1", " ")
    tags = gallery.tag_lists(ResultsFolder(tmp_path).tags())
    assert tags["img00_0"] == ("clutter", "text") and "img00_1" not in tags
    assert len(tags) == writers * images - 1


def test_a_single_map_is_not_marked_best():
    values = pd.DataFrame({"MAE vs mask": [0.2, 0.1]})
    only_one = pd.Series([True, False])
    assert not summary_table.best_cells(values, {"MAE vs mask": False}, only_one).any().any()
    both = pd.Series([True, True])
    assert summary_table.best_cells(values, {"MAE vs mask": False}, both)[
        "MAE vs mask"
    ].tolist() == [
        False,
        True,
    ]


def test_a_runs_status_counts_scored_and_skipped_images_by_cause():
    unreadable = "ImageLoadError: The file is empty."
    failed = Outcome(5, 0, {stem: unreadable for stem in "abcde"})
    assert failed.status == "failed"
    assert failed.text() == "failed: 0 of 5 images scored, 5 skipped (5 unreadable)"
    assert failed.advice().startswith("Replace or remove the unreadable files")
    assert "a rerun cannot help them" in failed.advice()
    mixed = Outcome(5, 2, {"a": unreadable, "b": "RuntimeError: boom", "c": unreadable})
    assert mixed.text() == "partial: 2 of 5 images scored, 3 skipped (2 unreadable, 1 RuntimeError)"
    assert mixed.advice().endswith(
        "; a rerun retries the other skipped images (see their reasons)."
    )
    assert Outcome(4, 4).text() == "complete: 4 of 4 images scored"
    assert Outcome(4, 4).advice() == ""
    stopped = Outcome(15, 3, stopped=True)
    assert stopped.text() == "stopped: 3 of 15 images scored" and "resume" in stopped.advice()


def test_the_report_reads_a_runs_outcome_from_its_manifest_and_errors():
    reasons = ["ImageLoadError: x", "ImageLoadError: y"]
    errors = pd.DataFrame({"image": ["a", "b"], "reason": reasons})
    outcome = folders.run_outcome({"status": "complete", "images": 2}, 0, errors)
    assert outcome.text() == "failed: 0 of 2 images scored, 2 skipped (2 unreadable)"
    assert folders.run_outcome({"status": "running", "images": 2}, 0, errors) is None
    no_errors = errors.iloc[:0]
    assert folders.run_outcome({"status": "stopped", "images": 9}, 3, no_errors).status == "stopped"


CEILING = "people (leave-one-subject-out)"
DEEPGAZE = "DeepGaze IIE (UNTRAINED)"


def with_rows(table: pd.DataFrame, label: str, kind: str, method: str, weights: str, cells):
    """``table`` plus rows of one more map: (image, reference_key, metric, value) ``cells``."""
    rows = pd.DataFrame(cells, columns=["image", "reference_key", "metric", "value"])
    rows = rows.assign(map=label, kind=kind, method=method, weights=weights, detector="")
    rows = rows.assign(target="", trained=weights != "untrained", reason=None)
    rows["higher_is_better"] = rows["metric"].map({"IoU@top-10%": True, "MAE": False})
    return pd.concat([table, rows], ignore_index=True)


def test_every_na_cell_of_the_summary_says_why_next_to_its_row():
    table = per_image(
        [
            ("a", CAM_A, "mask", "IoU@top-10%", NAN),  # every image undefined: its reason
            ("a", CAM_A, "mask", "MAE", 0.2),
            ("a", CAM_A, "deepgaze", "MAE", 0.3),
            ("a", FLOOR, "mask", "IoU@top-10%", 0.2),
            ("a", FLOOR, "mask", "MAE", 0.1),
            ("a", FLOOR, "deepgaze", "MAE", 0.01),
        ]
    )
    table = with_rows(table, CEILING, "ceiling", "people", "", [("a", "mask", "IoU@top-10%", 0.9)])
    table = with_rows(
        table, DEEPGAZE, "type-2", "DeepGaze IIE", "untrained", [("a", "mask", "MAE", 0.1)]
    )
    from saliency_core.evaluate import summary

    view = summary_table.summary_table(summary.summarize(table), summary_table.map_labels(table))
    notes = dict(zip(view.values["map"], summary_table.row_notes(view, table), strict=True))
    assert notes[CAM_A] == "n/a: IoU@top-10% vs mask — constant map"
    assert notes[FLOOR] == ""
    assert notes[CEILING] == (
        "n/a: MAE vs deepgaze; MAE vs mask — " + summary_table.ABSENT_REASONS["ceiling"]
    )
    assert notes[DEEPGAZE] == (
        f"{DEEPGAZE}: {summary_table.UNTRAINED_GAZE_NOTE} · "
        "n/a: MAE vs deepgaze — the map is this reference · "
        "n/a: IoU@top-10% vs mask — not computed for this map"
    )
    assert "i.e. the floor" in summary_table.UNTRAINED_GAZE_NOTE


def test_a_type2_reference_without_weights_is_said_to_be_the_floor():
    untrained = Settings(references=("deepgaze", "fixations"), type2_weights=WeightSource.UNTRAINED)
    assert summary_table.reference_notes(untrained) == [
        f"The deepgaze reference (DeepGaze IIE): {summary_table.UNTRAINED_GAZE_NOTE}."
    ]
    assert summary_table.reference_notes(untrained.with_changes(references=("centre-bias",))) == []
    trained = untrained.with_changes(type2_weights=WeightSource.PRETRAINED)
    assert summary_table.reference_notes(trained) == []


def test_the_explore_link_builds_the_runs_type2_references():
    """Explore builds a type-2 reference only from a chosen type-2 model: the link adds it."""
    settings = Settings(
        detectors=("FCOS R50-FPN",), input_size=64, type2=(), references=("deepgaze", "fixations")
    )
    query = links.explore_query("toy", "b", settings)
    restored, notes = from_query(query)
    assert notes == [] and restored.type2 == ("DeepGaze IIE",)
    assert restored == settings.with_changes(type2=("DeepGaze IIE",))
    assert links.explore_settings(settings)[1] == [
        "Explore also shows DeepGaze IIE's map: it builds the deepgaze reference from it."
    ]
    already = settings.with_changes(type2=("DeepGaze IIE",))
    assert links.explore_settings(already) == (already, [])


def test_missing_text_reads_na_and_a_defined_values_reason_is_blank():
    """The peaks table printed the literal "None" (a window never defined, a defined reason)."""
    from ui import tables

    peaks = pd.DataFrame(
        {"map": ["A", "B"], "window": ["0–0.5 s", None], "value": [1.23456, NAN],
         "reason": [None, "no fixation in any window"]}
    )  # fmt: skip
    shown = tables.readable(peaks)
    assert shown["window"].tolist() == ["0–0.5 s", "n/a"]
    assert shown["value"].tolist() == ["1.235", "n/a"]
    assert shown["reason"].tolist() == ["", "no fixation in any window"]


def test_the_value_range_slider_steps_by_a_hundredth_of_the_range_rounded_to_1_2_5():
    assert gallery.slider_step(0.0, 0.0048) == 2e-05  # was 0.01: more than the whole range
    assert gallery.slider_step(0.0, 1.0) == 0.01
    assert gallery.slider_step(0.2, 0.7) == 0.005
    assert gallery.slider_step(-3.5, 4.1) == 0.05
    assert gallery.slider_step(0.0, 250.0) == 2.0
    assert gallery.slider_format(2e-05) == "%.5f" and gallery.slider_format(0.05) == "%.3f"


def test_a_run_started_from_the_report_shows_the_time_left_as_explore_does():
    from ui.results import RunProgress, progress_text

    assert progress_text(RunProgress(0, 5, "")) == (
        0.0,
        "Loading the models, then the first image…",
    )
    first = RunProgress(1, 5, "a", 0.0, 100.0)
    assert progress_text(first, now=102.0) == (
        0.2,
        "1/5 images (last: a) · time left not known yet",
    )
    # 2 images in 8 s after the first: 4 s each, 2 left, 1 s since the last ended → 7 s
    third = RunProgress(3, 5, "c", 8.0, 100.0)
    assert progress_text(third, now=101.0) == (0.6, "3/5 images (last: c) · about 7 s left")
