"""``saliency experiment`` end to end on the synthetic VOC: untrained SSDlite at 96 px, arms none
and transform × seed 0, one epoch each; the pre-fine-tuning model and both final models scored
on the 6 masked test images (agreement with the masks, mAP); the table; a rerun does nothing."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from saliency_core.commands import cli
from saliency_core.commands import experiment as command
from saliency_core.data.csvfiles import read_csv
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings
from saliency_core.train import experiment_runner
from saliency_core.train.experiment import REFERENCE_ARM
from saliency_core.train.experiment_runner import ExperimentPlan, run_experiment
from saliency_core.train.run_folder import RunRefused

SSD = "SSDlite320 MobileNetV3"
TRAIN = {"epochs": 1, "batch_size": 4, "lr": 0.01, "warmup_iters": 2, "lr_steps": (),
         "input_size": 96, "workers": 0, "amp": False}  # fmt: skip
PLAN = ExperimentPlan(
    detector=SSD,
    weights=WeightSource.UNTRAINED,
    arms=("none", "transform"),
    seeds=(0,),
    train=TRAIN,
    scoring=Settings(detectors=(), cams=("EigenCAM",), type2=(), references=("mask",)),
)
TEST_IMAGES = 6


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def finished(synthetic_voc: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("experiment") / "exp"
    said: list[str] = []
    report = run_experiment(PLAN, synthetic_voc, out, say=said.append, device="cpu")
    return report, said


def test_the_table_has_the_reference_then_each_arm_with_finite_map(finished):
    report, said = finished
    assert said == [
        "training none-s0",
        "training transform-s0",
        f"scoring reference on {TEST_IMAGES} test images",
        f"scoring none-s0 on {TEST_IMAGES} test images",
        f"scoring transform-s0 on {TEST_IMAGES} test images",
    ]
    assert report.missing == [] and not report.stopped
    table = read_csv(report.out / "table.csv")
    assert table["arm"].tolist() == [REFERENCE_ARM, "none", "transform"]
    assert table["n_seeds"].tolist() == [1, 1, 1]
    for column in ("map", "map_50", "MAE vs mask", "IoU@top-10% vs mask"):
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in table[column]), column
    results = read_csv(report.out / "results.csv")
    assert results["arm"].tolist() == [REFERENCE_ARM, "none", "transform"]
    manifest = json.loads((report.out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["arms"] == ["none", "transform"]


def test_each_final_model_is_scored_as_its_fine_tuned_row_on_the_test_images(finished):
    report, _ = finished
    scored = ResultsFolder(report.out / "scores" / "transform-s0").table()
    assert scored["image"].nunique() == TEST_IMAGES
    type1 = scored[scored["kind"] == "type-1"]
    assert set(type1["weights"]) == {"fine-tuned: transform-s0"}
    reference = ResultsFolder(report.out / "scores" / "reference").table()
    assert set(reference.loc[reference["kind"] == "type-1", "weights"]) == {"untrained"}


def test_a_rerun_trains_and_scores_nothing(finished, synthetic_voc, monkeypatch):
    report, _ = finished

    def refuse(*args, **kwargs):
        raise AssertionError("nothing should run again")

    monkeypatch.setattr(experiment_runner, "train", refuse)
    monkeypatch.setattr(experiment_runner.engine, "run", refuse)
    again = run_experiment(PLAN, synthetic_voc, report.out, device="cpu")
    pd.testing.assert_frame_equal(again.table, report.table)


def test_the_command_resumes_the_experiment_and_prints_the_table(finished, synthetic_voc, capsys):
    report, _ = finished
    flags = ["--dataset", str(synthetic_voc), "--out", str(report.out), "--detector", SSD,
             "--weights", "untrained", "--arms", "none,transform", "--seeds", "0", "--epochs",
             "1", "--batch-size", "4", "--lr", "0.01", "--warmup-iters", "2", "--lr-steps", "",
             "--no-amp", "--input-size", "96", "--workers", "0", "--cams", "EigenCAM",
             "--type2", "", "--references", "mask", "--device", "cpu"]  # fmt: skip
    assert cli.main(["experiment", *flags]) == 0, capsys.readouterr().err
    printed = capsys.readouterr()
    assert printed.out.splitlines()[0].split()[:4] == ["arm", "weights", "n_seeds", "map"]
    assert printed.out.splitlines()[1].split()[:2] == [REFERENCE_ARM, "untrained"]
    assert f"results in {report.out}" in printed.err


def test_the_flags_make_the_plan():
    args = command.build_parser().parse_args(
        ["--dataset", "d", "--out", "o", "--arms", "none,erase", "--seeds", "0,1,2",
         "--epochs", "3", "--references", "mask", "--copies", "erase=/c/erase/images"]
    )  # fmt: skip
    plan = command.plan_of(args)
    assert (plan.arms, plan.seeds, dict(plan.train)) == (
        ("none", "erase"),
        (0, 1, 2),
        {"epochs": 3},
    )
    assert plan.scoring.references == ("mask",) and plan.copies == {"erase": "/c/erase/images"}
    assert plan.train_settings("erase", 1, {"erase": Path("/c")}).seed == 1


def test_a_rerun_may_add_arms_and_seeds_but_not_change_the_recipe(tmp_path: Path):
    """A folder holds one experiment: more arms or seeds join it; other effective training or
    scoring settings, another detector or dataset are refused before anything is written."""
    dataset = str(tmp_path / "voc")

    def manifest(plan: ExperimentPlan, where: str = dataset) -> dict:
        return {**plan.to_dict(), "dataset": where, "identity": plan.identity()}

    (tmp_path / "out").mkdir()
    record = tmp_path / "out" / "manifest.json"
    record.write_text(written := json.dumps(manifest(PLAN) | {"status": "complete"}))
    refusal = experiment_runner.plan_refusal
    more = replace(PLAN, arms=("none", "erase"), seeds=(0, 1), copies={"erase": "/c"})
    assert refusal(record.parent, manifest(more)) is None
    same = replace(PLAN, train={**TRAIN, "workers": 2})  # workers do not change a result
    assert refusal(record.parent, manifest(same)) is None
    longer = replace(PLAN, train={**TRAIN, "epochs": 2, "lr": 0.02})
    assert refusal(record.parent, manifest(longer)) == (
        f"--out {record.parent} holds a run with other settings (train.epochs, train.lr "
        "differ); resuming would mix them. Use a new output folder, or the earlier settings."
    )
    scored = replace(PLAN, scoring=PLAN.scoring.with_changes(cams=("GradCAM",)))
    assert "(scoring.cams differ)" in refusal(record.parent, manifest(scored))
    with pytest.raises(RunRefused, match=r"\(dataset, detector, train\.\S+ differ"):
        run_experiment(replace(PLAN, detector="FCOS R50-FPN"), tmp_path / "other", record.parent)
    assert record.read_text() == written, "nothing written"
    assert not (record.parent / "settings.toml").exists()
    older = {k: v for k, v in manifest(PLAN).items() if k != "identity"}
    record.write_text(json.dumps(older))  # written before identities: its plan's is compared
    assert "(train.epochs, train.lr differ)" in refusal(record.parent, manifest(longer))
    assert refusal(record.parent, manifest(more)) is None


def test_a_folder_from_before_identities_is_checked_by_its_plan_and_its_runs(
    finished, synthetic_voc: Path, tmp_path: Path
):
    """A manifest without ``identity`` (written before it was recorded): the identity of the
    plan it records is compared, and each finished run is reused only when trained with the
    rerun's settings."""
    import shutil

    report, _ = finished
    old = tmp_path / "old"
    shutil.copytree(report.out, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["identity"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    said: list[str] = []
    again = run_experiment(PLAN, synthetic_voc, old, say=said.append, device="cpu")
    assert said == [] and again.missing == [], "the same plan: everything reused"
    del manifest["status"]
    (old / "manifest.json").write_text(json.dumps(manifest))  # identity gone again
    scored = replace(PLAN, scoring=PLAN.scoring.with_changes(cams=("GradCAM",)))
    with pytest.raises(RunRefused, match=r"\(scoring\.cams differ\)"):
        run_experiment(scored, synthetic_voc, old, device="cpu")
    longer = replace(PLAN, train={**TRAIN, "epochs": 2})
    with pytest.raises(RunRefused, match=r"\(train\.epochs differ\)"):
        run_experiment(longer, synthetic_voc, old, device="cpu")
    manifest["train"] = longer.train  # a manifest that does not say what its runs were
    (old / "manifest.json").write_text(json.dumps(manifest))
    run = old / "runs" / "none-s0"
    with pytest.raises(RunRefused, match=rf"^The run folder {run} holds a run with other .*epochs"):
        run_experiment(longer, synthetic_voc, old, device="cpu")
    (old / "manifest.json").write_text("{}")
    with pytest.raises(RunRefused, match=r"records no plan that can be read \('detector'\)"):
        run_experiment(PLAN, synthetic_voc, old, device="cpu")
