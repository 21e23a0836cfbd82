"""`saliency accuracy` end to end on a tiny VOC folder: the table, its files, its messages."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from tiny_voc import write_voc

from saliency_core.commands import accuracy, cli
from saliency_core.data.annotations import VOC_CLASSES
from saliency_core.data.csvfiles import read_csv
from saliency_core.evaluate.detection import FIXED_SIZE_NOTE, UNTRAINED_NOTE
from saliency_core.settings import SettingsError

OBJECTS = {
    "img1": ((48, 40), [("cat", (4, 6, 30, 30))]),
    "img2": ((40, 52), [("dog", (10, 12, 36, 44)), ("cat", (2, 2, 12, 10))]),
    "img3": ((56, 40), [("person", (20, 5, 50, 35))]),
}
DETECTORS = "SSDlite320 MobileNetV3,FCOS R50-FPN"


@pytest.fixture()
def voc(tmp_path: Path) -> Path:
    return write_voc(tmp_path / "voc", OBJECTS)


def test_accuracy_writes_table_1_for_untrained_detectors(voc: Path, tmp_path: Path, capsys):
    out = tmp_path / "table"
    argv = ["--dataset", str(voc), "--detectors", DETECTORS, "--weights", "untrained"]
    code = cli.main(["accuracy", *argv, "--input-size", "64", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    table = read_csv(out / "accuracy.csv")
    pd.testing.assert_frame_equal(
        table, pd.read_parquet(out / "accuracy.parquet"), check_dtype=False
    )
    assert table["detector"].tolist() == DETECTORS.split(",")
    assert table["weights"].tolist() == ["untrained", "untrained"]
    assert table["trained"].tolist() == [False, False]
    assert table["images"].tolist() == [3, 3]
    assert {"ap50_cat", "ap50_dog", "ap50_person"} <= set(table.columns)
    assert table["notes"].tolist() == [f"{UNTRAINED_NOTE}; {FIXED_SIZE_NOTE}", UNTRAINED_NOTE]
    for column in ("map", "map_50", "map_75", "ap50_cat", "ap50_dog", "ap50_person"):
        assert ((table[column] >= 0) & (table[column] <= 1)).all(), column
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["split"] == "test" and manifest["settings"]["device"] == "cpu"
    assert manifest["settings"]["input_size"] == 64
    assert manifest["environment"]["packages"]["torch"]
    assert manifest["dataset"]["images"] == 3 and manifest["dataset"]["classes"] == list(
        VOC_CLASSES
    )
    assert manifest["notices"] == [
        f"ImageSets/Main/{split}.txt missing: no {split!r} split."
        for split in ("train", "val", "trainval")
    ]
    assert table["ap50_aeroplane"].isna().all()  # no ground truth: no AP
    assert printed.out.splitlines()[-2:] == [
        f"SSDlite320 MobileNetV3 (untrained): {UNTRAINED_NOTE}; {FIXED_SIZE_NOTE}",
        f"FCOS R50-FPN (untrained): {UNTRAINED_NOTE}",
    ]
    header = printed.out.splitlines()[0].split()
    assert header[:8] == [
        "detector",
        "weights",
        "trained",
        "input_size",
        "map",
        "map_50",
        "map_75",
        "images",
    ]
    assert printed.err.strip().splitlines()[-1] == (
        f"2 of 2 models scored on 3 test images, 0 not loaded, 3 dataset notices; "
        f"results in {out}"
    )


def test_a_model_that_cannot_be_loaded_is_a_row_and_exit_1(voc: Path, tmp_path: Path, capsys):
    out = tmp_path / "table"
    missing = tmp_path / "absent.pt"
    argv = ["--dataset", str(voc), "--detectors", "SSDlite320 MobileNetV3", "--device", "cpu"]
    code = accuracy.main(
        [*argv, "--weights", "file", "--weights-file", str(missing), "--out", str(out)]
    )
    printed = capsys.readouterr()
    assert code == 1
    row = read_csv(out / "accuracy.csv").iloc[0]
    assert row["weights"] == "weights file" and bool(row["trained"]) and math.isnan(row["map"])
    assert row["notes"] == f"not loaded: Weights file not found: {missing}"
    assert (
        printed.err.strip()
        .splitlines()[-1]
        .startswith("0 of 1 models scored on 3 test images, 1 not loaded,")
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--detectors", "Nope"],
            "error: --detectors: unknown 'Nope'; known: Faster R-CNN R50-FPN",
        ),
        (["--weights", "magic"], "error: --weights magic: choose from pretrained, file, untrained"),
        (
            ["--weights", "file"],
            "error: --weights file needs --weights-file PATH and one detector (the file's "
            "architecture)",
        ),
        (["--weights-file", "x.pt"], "error: --weights-file is read only with --weights file"),
        (["--split", "val"], "error: No split 'val' in "),
    ],
)
def test_user_errors_are_one_line(voc: Path, tmp_path: Path, capsys, flags, message):
    argv = ["--dataset", str(voc), "--weights", "untrained", "--out", str(tmp_path / "o"), *flags]
    assert accuracy.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_out_inside_the_dataset_is_refused(voc: Path, capsys):
    argv = ["--dataset", str(voc), "--weights", "untrained", "--out", str(voc / "table")]
    assert accuracy.main(argv) == 1
    assert "a run never writes into its input" in capsys.readouterr().err
    assert not (voc / "table").exists()


def test_the_study_split_rule_scores_the_images_with_attention_masks(voc, tmp_path, capsys):
    """--split-rule study: the test split is the masked images (here img2 alone), whatever
    ImageSets says (STUDY_PROTOCOL's fine-tuning split, as `saliency train --preset study`)."""
    (voc / "masks").mkdir()
    (voc / "masks" / "img2.png").write_bytes(b"")  # only its name counts for the split
    out = tmp_path / "table"
    argv = ["--dataset", str(voc), "--detectors", "SSDlite320 MobileNetV3", "--weights"]
    argv += ["untrained", "--device", "cpu", "--split-rule", "study", "--out", str(out)]
    assert cli.main(["accuracy", *argv]) == 0, capsys.readouterr().err
    assert read_csv(out / "accuracy.csv")["images"].tolist() == [1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["split_rule"] == "study"
    assert manifest["dataset"]["splits"] == {"train": 2, "test": 1}  # the splits scored from


def test_a_device_this_machine_lacks_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """One ``--device`` check for every command (``commands.common.device_name``)."""
    from saliency_core.commands import common

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    for command in ("accuracy", "experiment"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--device", "cuda:1"])
        assert exit_info.value.code == 2
        assert "argument --device: cuda:1: CUDA is not available here" in capsys.readouterr().err
    for command in ("accuracy", "train", "readout"):
        with pytest.raises(SystemExit):
            cli.main([command, "--device", "gpu"])
        assert "argument --device: gpu: Expected one of" in capsys.readouterr().err
    # the training commands check where they train: here (local, torchrun), not for Ray's workers
    here = lambda device, quiet: 0  # noqa: E731
    for launcher in ("local", "torchrun"):
        options = {"launcher": launcher, "device": "cuda:1"}
        with pytest.raises(SettingsError, match="^--device cuda:1: CUDA is not available here$"):
            common.launch(None, tmp_path, tmp_path, [], here, options)
    assert common.launch(None, tmp_path, tmp_path, [], here, {"device": "cpu"}) == 0
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    assert common.missing_device("cuda:1") == "cuda:1: this machine has 1 CUDA device(s)"
    assert common.missing_device("cuda:0") is None and common.missing_device("cpu") is None
