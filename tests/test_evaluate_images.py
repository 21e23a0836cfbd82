"""A run over a list of images (``Options.images``, ``--images FILE``): only those, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_evaluate import write_dataset

from saliency_core.commands import evaluate as command
from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine
from saliency_core.evaluate.options import Options
from saliency_core.evaluate.store import DATASET_NOTICE, ResultsFolder
from saliency_core.settings import Settings

SETTINGS = Settings(
    detectors=("FCOS R50-FPN",), cams=("EigenCAM",), type2=(), references=("mask",),
    input_size=64,
)  # fmt: skip


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The toy dataset less image d: a, b and c."""
    dataset = write_dataset(tmp_path_factory.mktemp("data") / "toy")
    for folder, suffix in (("images", "png"), ("masks", "png"), ("fixations", "csv")):
        (dataset.root / folder / f"d.{suffix}").unlink()
    return Dataset(dataset.root.name, dataset.root)


def test_the_listed_images_are_scored_in_their_order_and_unknown_ones_are_named(dataset, tmp_path):
    out = tmp_path / "two"
    options = Options(images=("c", "zz", "a", "c"), finegrained=False)
    assert engine.chosen_stems(dataset, options) == (
        ["c", "a"],
        [f"1 of the 3 listed images are not in {dataset.root} and are left out: zz"],
    )
    report = engine.run(dataset, SETTINGS, out, options)
    assert (report.images, report.computed) == (2, 2)
    folder = ResultsFolder(out)
    assert sorted(set(folder.table()["image"])) == ["a", "c"]
    notices = folder.notices()
    assert notices.values.tolist() == [
        [DATASET_NOTICE, f"1 of the 3 listed images are not in {dataset.root} and are left out: zz"]
    ]
    assert folder.manifest()["images"] == 2


def test_the_list_is_part_of_the_run_identity(dataset, tmp_path):
    out = tmp_path / "run"
    engine.run(dataset, SETTINGS, out, Options(images=("b",), finegrained=False))
    with pytest.raises(ValueError, match="image_list differ"):
        engine.run(dataset, SETTINGS, out, Options(images=("a",), finegrained=False))


def test_the_images_flag_reads_one_stem_per_line(dataset, tmp_path, capsys):
    listed = tmp_path / "test.txt"
    listed.write_text("b\n\nq  -1\na\n")
    out = tmp_path / "cli"
    flags = ["--detectors", "FCOS R50-FPN", "--type2", "", "--references", "mask"]
    code = command.main(
        ["--dataset", str(dataset.root), "--out", str(out), "--images", str(listed),
         "--input-size", "64", "--no-finegrained", *flags]
    )  # fmt: skip
    assert code == 0
    assert sorted(set(ResultsFolder(out).table()["image"])) == ["a", "b"]
    err = capsys.readouterr().err
    assert "toy: 2 images" in err
    assert f"1 of the 3 listed images are not in {dataset.root} and are left out: q" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    args = ["--dataset", str(dataset.root), "--out", str(out), "--images", str(empty)]
    assert command.main(args) == 1
    assert f"--images {empty} lists no image" in capsys.readouterr().err


def test_a_rerun_with_the_same_list_resumes(dataset, tmp_path):
    out = tmp_path / "again"
    options = Options(images=("b",), finegrained=False)
    engine.run(dataset, SETTINGS, out, options)
    report = engine.run(dataset, SETTINGS, out, options)
    assert (report.computed, report.skipped_done) == (0, 1)
