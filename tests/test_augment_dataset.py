"""The dataset augmentation as a library call (no argparse), and the one overlap/resume check
(saliency_core.data.runs) that it shares with the evaluate engine."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_augment_cli import CHOICE, STEMS, make_dataset

from saliency_core.augment import dataset as library
from saliency_core.augment.dataset import AugmentOptions, AugmentRefused, augment_dataset
from saliency_core.data import runs
from saliency_core.data.images import load_image
from saliency_core.evaluate import engine
from saliency_core.evaluate.store import ResultsError, ResultsFolder
from saliency_core.settings import Settings

OPTIONS = AugmentOptions(
    detector=CHOICE.name,
    weights="untrained",
    cam="EigenCAM",
    reference="mask",
    input_size=128,
    metric="MAE",
    comparator=">=",
    threshold=0.0,  # MAE ≥ 0 holds for every image: erase all
    limit=2,
)


def test_augment_dataset_writes_images_log_and_settings_and_resumes(tmp_path):
    dataset, out = make_dataset(tmp_path / "dataset"), tmp_path / "out"
    plans, steps = [], []
    report = augment_dataset(
        dataset,
        out,
        OPTIONS,
        on_start=plans.append,
        progress=lambda done, total, counts: steps.append((done, total, dict(counts))),
    )
    assert report.log == out / "augment_log.csv"
    assert dict(report.counts) == {"erase": 2, "keep": 0, "error": 0}
    [plan] = plans
    assert (plan.label, plan.images, plan.todo) == (f"{CHOICE.name} (UNTRAINED)", 2, STEMS[:2])
    assert plan.copied == 1  # images/README.txt; an image's own files go with it
    assert steps == [
        (0, 2, {"erase": 0, "keep": 0, "error": 0}),
        (1, 2, {"erase": 1, "keep": 0, "error": 0}),
        (2, 2, {"erase": 2, "keep": 0, "error": 0}),
    ]
    with report.log.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["stem"], row["decision"], row["output"]) for row in rows] == [
        ("img_a", "erase", "images/img_a.png"),
        ("img_b", "erase", "images/img_b.png"),
    ]
    for row in rows:
        original = load_image(dataset / "images" / f"{row['stem']}.jpg").rgb
        written = np.asarray(Image.open(out / row["output"]))
        assert written.shape == original.shape
        assert (written != original).any(axis=-1).sum() == int(row["erased_pixels"]) > 0
        assert row["inpaint"] == "none"  # no inpainting: the erased pixels keep the fill
    own = ["annotations/img_a.xml", "masks/img_a.png", "annotations/img_b.xml", "masks/img_b.png"]
    for relative in [*own, "fixations/img_b.csv", "images/README.txt"]:
        assert (out / relative).read_bytes() == (dataset / relative).read_bytes()
    assert not (out / "annotations" / "img_c.xml").exists()  # beyond the limit
    identity = json.loads((out / "augment_settings.json").read_text())
    assert identity == OPTIONS.identity(dataset)
    assert identity["dataset"] == str(dataset.resolve()) and "limit" not in identity
    assert identity["top_percent"] == 2.5 and identity["fill"] == "black"

    plans.clear()
    report = augment_dataset(dataset, out, OPTIONS, on_start=plans.append)
    assert (plans[0].todo, dict(report.counts)) == ((), {"erase": 0, "keep": 0, "error": 0})

    with pytest.raises(AugmentRefused) as refused:
        augment_dataset(dataset, out, replace(OPTIONS, top_percent=5.0))
    assert str(refused.value) == (
        f"--out {out} holds a run with other settings (top_percent differ); resuming would mix "
        "them. Use a new output folder, or the earlier settings."
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fill": "pink"}, "--fill pink: choose one of black, dataset-mean, gaussian-noise"),
        ({"detector": "Nope"}, "--detector Nope: choose one of "),
        ({"weights": "file"}, "--weights file needs --weights-path"),
        ({"limit": 0}, "--limit 0: not a whole number in 1..1000000000 images"),
        ({"top_percent": 150}, r"--top-percent 150: not in \(0, 100\] %"),
        ({"dip_lr": float("nan")}, r"--dip-lr nan: not in \(0, 1\]"),
    ],
)
def test_options_the_command_line_cannot_give_are_refused_before_anything_is_written(
    tmp_path, change, message
):
    dataset, out = make_dataset(tmp_path / "dataset"), tmp_path / "out"
    with pytest.raises(AugmentRefused, match=f"^{message}"):
        augment_dataset(dataset, out, replace(OPTIONS, **change))
    assert not out.exists()


def test_options_from_parsed_arguments_keep_only_theirs():
    values = {**vars(OPTIONS), "dataset": Path("d"), "out": Path("o")}
    assert AugmentOptions.from_arguments(values) == OPTIONS
    assert library.FILL_OPTIONS["dataset-mean"] == "dataset mean"


def test_overlap_refusal_names_both_folders(tmp_path):
    data = tmp_path / "data"
    message = (
        f"--out {data / 'x'} and the dataset {data} overlap; a run never writes into its input. "
        "Choose an output folder outside the dataset (and not above it)."
    )
    assert runs.overlap_refusal(data, data / "x") == message
    assert runs.overlap_refusal(data / "x", data) is not None  # the output above the dataset
    assert runs.overlap_refusal(data, data) is not None
    assert runs.overlap_refusal(data, tmp_path / "out") is None


def test_resume_refusal_names_what_differs(tmp_path):
    record = tmp_path / "run.json"
    assert runs.resume_refusal(record, {"a": 1}) is None  # no earlier run
    record.write_text('{"a": 1, "b": [1, 2]}')
    assert runs.resume_refusal(record, {"a": 1, "b": [1, 2]}) is None
    assert runs.resume_refusal(record, {"a": 2, "b": [1, 2], "c": 0}) == (
        f"--out {tmp_path} holds a run with other settings (a, c differ); resuming would mix "
        "them. Use a new output folder, or the earlier settings."
    )
    record.write_text("[1]")
    assert runs.resume_refusal(record, {"a": 1}) == (
        f"{record} is unreadable (not a JSON object); use a new output folder."
    )
    record.write_text("{")
    assert runs.resume_refusal(record, {"a": 1}).startswith(f"{record} is unreadable (")


def test_the_engine_names_the_setting_that_differs(tmp_path):
    """The evaluate engine goes through the same check: the manifest's other keys (python,
    status …) do not count, settings missing from an older manifest are at their default."""
    folder = ResultsFolder(tmp_path)
    identity = {"dataset": "/d", "settings": Settings().to_dict(), "metrics": ["MAE"]}
    older = {k: v for k, v in identity["settings"].items() if k != "ties"}
    folder.write_manifest({**identity, "settings": older, "python": "3.11", "status": "done"})
    engine.check_resume(folder, identity)  # the same run
    changed = {**identity, "settings": Settings(sigma=3.0).to_dict(), "metrics": ["IoU"]}
    with pytest.raises(ResultsError) as refused:
        engine.check_resume(folder, changed)
    assert str(refused.value) == (
        f"--out {tmp_path} holds a run with other settings (metrics, sigma differ); resuming "
        "would mix them. Use a new output folder, or the earlier settings."
    )
