"""`saliency import-dataset`: MIT1003, CAT2000 and SALICON written in their original formats
(tiny), converted, and read back as a project dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from saliency_core.commands import cli
from saliency_core.data.csvfiles import read_csv
from saliency_core.data.datasets import Dataset
from saliency_core.data.importers import IMPORTERS, import_dataset
from saliency_core.data.importers.base import ImportRefused
from saliency_core.data.importers.mit1003 import detect_fixations

RATE = 240.0
H, W = 48, 64


def _image(path: Path, height: int = H, width: int = W) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path)


def _samples(*runs: tuple[int, float, float]) -> np.ndarray:
    """Gaze samples: each run is (count, x, y), MATLAB 1-based pixels."""
    return np.concatenate([np.tile([x, y], (count, 1)) for count, x, y in runs]).astype(float)


# Subject ajs on image a: the central cross (dropped), a fixation at MATLAB (11, 21), a blink
# (-1, -1), a fixation at (41, 31), one outside the 64-px-wide image, and a 10-sample (42 ms)
# run, too short. A jump makes samples i..i+3 saccadic (4-sample average speed > 1020 px/s).
AJS_A = _samples(
    (30, 100, 50), (30, 11, 21), (5, -1, -1), (30, 41, 31), (30, 2000, 10), (10, 31, 11)
)
HP_A = _samples((20, 50, 40), (40, 21, 11))


def _subject_file(path: Path, stem: str, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {stem: {"imgName": f"{stem}.jpeg", "DATA": {"eyeData": samples}}})


@pytest.fixture
def mit1003(tmp_path: Path) -> Path:
    """ALLSTIMULI/{a,b,c}.jpeg; DATA/{ajs,hp}/<image>.mat. hp's b.mat is damaged and both of c's
    files are, so c has no readable fixations."""
    source = tmp_path / "mit"
    for stem in "abc":
        _image(source / "ALLSTIMULI" / f"{stem}.jpeg")
    _subject_file(source / "DATA" / "ajs" / "a.mat", "a", AJS_A)
    _subject_file(source / "DATA" / "hp" / "a.mat", "a", HP_A)
    _subject_file(source / "DATA" / "ajs" / "b.mat", "b", HP_A)
    (source / "DATA" / "hp" / "b.mat").write_bytes(b"not a mat file")
    (source / "DATA" / "ajs" / "c.mat").write_bytes(b"")
    return source


def test_fixations_are_detected_from_gaze_samples_as_stated():
    found = detect_fixations(AJS_A)
    # runs: 0-29 (cross), 34-59, 65-94, 99-124 (outside); 133-134 is 6 samples < 12 (50 ms)
    np.testing.assert_allclose(found.points, [[100, 50], [11, 21], [41, 31], [2000, 10]])
    np.testing.assert_allclose(found.onset_s, np.array([0, 34, 65, 99]) / RATE)
    np.testing.assert_allclose(found.duration_s, np.array([30, 26, 30, 26]) / RATE)


def test_mit1003_converts_with_subjects_onsets_and_0_based_pixels(mit1003, tmp_path):
    destination = tmp_path / "out"
    report = import_dataset("mit1003", mit1003, destination)

    table = read_csv(destination / "fixations" / "a.csv")
    assert list(table.columns) == ["x", "y", "subject", "onset_s", "duration_s"]
    assert table[["x", "y"]].to_numpy().tolist() == [[10, 20], [40, 30], [20, 10]]
    assert table["subject"].tolist() == ["ajs", "ajs", "hp"]
    np.testing.assert_allclose(table["onset_s"], np.array([34, 65, 24]) / RATE)
    np.testing.assert_allclose(table["duration_s"], np.array([26, 30, 36]) / RATE)
    assert (destination / "images" / "a.jpeg").read_bytes() == (
        mit1003 / "ALLSTIMULI" / "a.jpeg"
    ).read_bytes()

    # one bad file costs only itself: b keeps ajs, c (no readable file) is not imported
    assert read_csv(destination / "fixations" / "b.csv")["subject"].tolist() == ["ajs"]
    assert not (destination / "images" / "c.jpeg").exists()
    assert (report.imported, report.already_there) == (2, 0)
    assert [problem.file for problem in report.failed] == ["ALLSTIMULI/c.jpeg"]
    assert report.failed[0].reason.startswith(
        "no usable fixation; image not imported: DATA/ajs/c.mat: not a readable .mat file ("
    )
    assert report.failed[0].reason.endswith(") (and 1 more in import_log.csv)")
    assert [problem.file for problem in report.left_out] == ["DATA/hp/b.mat"]
    log = read_csv(destination / "import_log.csv")
    assert log[["image", "file", "status"]].values.tolist() == [
        ["a", "ALLSTIMULI/a.jpeg", "imported"],
        ["b", "DATA/hp/b.mat", "left out"],
        ["b", "ALLSTIMULI/b.jpeg", "imported"],
        ["c", "DATA/ajs/c.mat", "left out"],
        ["c", "DATA/hp/c.mat", "left out"],
        ["c", "ALLSTIMULI/c.jpeg", "failed"],
    ]
    assert log["reason"].iloc[4] == "DATA/hp/c.mat: no such file"
    lines = (destination / "import_log.csv").read_text().splitlines()
    assert lines[:2] == ["image,file,status,fixations,reason", "a,ALLSTIMULI/a.jpeg,imported,3,"]


def test_the_converted_folder_opens_as_a_dataset_and_its_fixations_load(mit1003, tmp_path):
    destination = tmp_path / "out"
    import_dataset("mit1003", mit1003, destination)
    dataset = Dataset("MIT1003", destination)
    assert dataset.ids == ["a", "b"]
    sample = dataset.load("a")
    assert sample.notices == []
    np.testing.assert_array_equal(sample.fixations, [[10, 20], [40, 30], [20, 10]])
    assert sample.fixation_columns["subject"].tolist() == ["ajs", "ajs", "hp"]


def test_the_readme_states_the_conversion_licence_and_citation(mit1003, tmp_path):
    destination = tmp_path / "out"
    import_dataset("mit1003", mit1003, destination)
    readme = (destination / "README.md").read_text()
    assert "Judd, T., Ehinger, K., Durand, F., & Torralba, A. (2009)" in readme
    assert "The download states no licence of its own" in readme
    assert "`x = x_MIT − 1`" in readme
    assert "The first fixation of each recording is dropped" in readme
    assert "saccadic above 30°/s (34 px per degree" in readme
    assert "Images here: 2" in readme


def test_a_rerun_skips_what_is_there_and_redoes_what_is_missing(mit1003, tmp_path):
    destination = tmp_path / "out"
    import_dataset("mit1003", mit1003, destination)
    (destination / "fixations" / "b.csv").unlink()
    again = import_dataset("mit1003", mit1003, destination)
    assert (again.imported, again.already_there, len(again.failed)) == (1, 1, 1)
    assert read_csv(destination / "fixations" / "b.csv")["subject"].tolist() == ["ajs"]


def test_a_destination_of_another_kind_or_with_other_files_is_refused(mit1003, cat2000, tmp_path):
    destination = tmp_path / "out"
    import_dataset("mit1003", mit1003, destination)
    with pytest.raises(ImportRefused) as refused:
        import_dataset("cat2000", cat2000, destination)
    assert str(refused.value) == (
        f"{destination} holds a mit1003 import (import.json); refusing to add cat2000 to it. "
        "Choose another DST."
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ImportRefused, match="is not empty and holds no import.json"):
        import_dataset("mit1003", mit1003, other)


def test_a_source_without_its_folders_is_refused_naming_the_folder(tmp_path):
    source = tmp_path / "mit"
    (source / "ALLSTIMULI").mkdir(parents=True)
    with pytest.raises(ImportRefused) as refused:
        import_dataset("mit1003", source, tmp_path / "out")
    assert str(refused.value) == (
        f"{source / 'DATA'}: no such folder (MIT1003's eye-tracking files, from DATA.zip); is "
        "this the right source folder?"
    )
    assert not (tmp_path / "out").exists()


def test_a_matlab_v73_file_is_named_with_what_reading_it_needs(mit1003, tmp_path):
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    (mit1003 / "DATA" / "hp" / "b.mat").write_bytes(header.ljust(124) + b"\x00\x02IM")
    report = import_dataset("mit1003", mit1003, tmp_path / "out")
    assert report.left_out[0].reason == (
        "DATA/hp/b.mat: a MATLAB v7.3 (HDF5) .mat file, which scipy cannot read; reading it "
        "needs h5py, which this project does not depend on: re-save it in MATLAB with "
        "save(..., '-v7')"
    )


@pytest.fixture
def cat2000(tmp_path: Path) -> Path:
    """trainSet/Stimuli/{Action,Affective}/001.jpg with their FIXATIONLOCS maps (Affective's of
    the wrong size) and an Output folder that is not stimuli."""
    root = tmp_path / "cat" / "trainSet"
    _image(root / "Stimuli" / "Action" / "001.jpg", 20, 30)
    _image(root / "Stimuli" / "Affective" / "001.jpg", 20, 30)
    _image(root / "Stimuli" / "Output" / "001.jpg", 20, 30)
    locations = np.zeros((20, 30), dtype=np.uint8)
    locations[2, 5] = locations[10, 0] = locations[19, 29] = 1
    (root / "FIXATIONLOCS" / "Action").mkdir(parents=True)
    (root / "FIXATIONLOCS" / "Affective").mkdir(parents=True)
    savemat(root / "FIXATIONLOCS" / "Action" / "001.mat", {"fixLocs": locations})
    savemat(root / "FIXATIONLOCS" / "Affective" / "001.mat", {"fixLocs": locations[:10]})
    return tmp_path / "cat"


def test_cat2000_reads_the_fixation_location_maps(cat2000, tmp_path):
    destination = tmp_path / "out"
    report = import_dataset("cat2000", cat2000, destination)
    table = read_csv(destination / "fixations" / "Action_001.csv")
    assert list(table.columns) == ["x", "y"]
    assert table.to_numpy().tolist() == [[5, 2], [0, 10], [29, 19]]
    assert Dataset("CAT2000", destination).ids == ["Action_001"]
    assert [(problem.file, problem.reason) for problem in report.failed] == [
        (
            "trainSet/Stimuli/Affective/001.jpg",
            "no usable fixation; image not imported: FIXATIONLOCS/Affective/001.mat: the map "
            "is 10×30 px but the image is 20×30 (height×width)",
        )
    ]
    readme = (destination / "README.md").read_text()
    assert "no subject ids, onsets or durations" in readme
    assert "`x = c`,\n  `y = r` (0-based" in readme


def _salicon_json(images: list[dict], annotations: list[dict]) -> dict:
    return {
        "info": {},
        "type": "fixations",
        "licenses": [],
        "images": images,
        "annotations": annotations,
    }


@pytest.fixture
def salicon(tmp_path: Path) -> Path:
    """fixations_train2014.json: image 1 (two workers; one pair outside), image 2 whose file is
    missing; a damaged fixations_val2014.json."""
    source = tmp_path / "salicon"
    _image(source / "images" / "train" / "COCO_train2014_000000000001.jpg")
    images = [
        {"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "height": H, "width": W},
        {"id": 2, "file_name": "COCO_train2014_000000000002.jpg", "height": H, "width": W},
    ]
    annotations = [
        {"image_id": 1, "worker_id": 7, "id": 11, "fixations": [[1, 1], [48, 64], [49, 10]]},
        {"image_id": 1, "worker_id": 9, "id": 12, "fixations": [[10, 20]]},
        {"image_id": 2, "worker_id": 9, "id": 13, "fixations": [[3, 3]]},
    ]
    (source / "annotations").mkdir()
    train = source / "annotations" / "fixations_train2014.json"
    train.write_text(json.dumps(_salicon_json(images, annotations)))
    (source / "annotations" / "fixations_val2014.json").write_text("{broken")
    return source


def test_salicon_rows_and_columns_become_0_based_x_y_with_workers(salicon, tmp_path):
    destination = tmp_path / "out"
    report = import_dataset("salicon", salicon, destination)
    table = read_csv(destination / "fixations" / "COCO_train2014_000000000001.csv")
    assert list(table.columns) == ["x", "y", "subject"]
    assert table.values.tolist() == [[0, 0, 7], [63, 47, 7], [19, 9, 9]]
    assert [problem.reason for problem in report.left_out] == [
        "annotations/fixations_val2014.json: not a readable JSON file (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))",
        "annotations/fixations_train2014.json: image file 'COCO_train2014_000000000002.jpg' not "
        "found under SRC",
        "annotations/fixations_train2014.json: annotation 11: 1 of 3 [row, col] pairs outside "
        "1..48 × 1..64; left out",
    ]
    assert report.imported == 1
    sample = Dataset("SALICON", destination).load("COCO_train2014_000000000001")
    np.testing.assert_array_equal(sample.fixations, [[0, 0], [63, 47], [19, 9]])
    assert "`x = col − 1`, `y = row − 1`" in (destination / "README.md").read_text()


def test_a_salicon_source_with_no_readable_json_is_refused_naming_it(salicon, tmp_path):
    (salicon / "annotations" / "fixations_train2014.json").unlink()
    with pytest.raises(ImportRefused, match=r"^annotations/fixations_val2014\.json: not a "):
        import_dataset("salicon", salicon, tmp_path / "out")


def test_the_command_prints_a_summary_naming_the_failures(mit1003, tmp_path, capsys):
    destination = tmp_path / "out"
    assert cli.main(["import-dataset", "mit1003", str(mit1003), str(destination)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"mit1003 into {destination}: 2 image(s) imported (4 fixations), 0 already there, 1 "
        f"failed, 1 file(s) or part(s) left out (all in {destination / 'import_log.csv'})."
    )
    assert (
        "  failed: ALLSTIMULI/c.jpeg: no usable fixation; image not imported: DATA/ajs/c.mat" in out
    )
    assert "  left out: DATA/hp/b.mat: not a readable .mat file" in out


def test_the_command_refuses_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert cli.main(["import-dataset", "salicon", str(missing), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        f"error: {missing}: no such folder (the dataset's download, unpacked).\n"
    )


def test_every_kind_is_registered_with_a_readme():
    assert list(IMPORTERS) == ["mit1003", "cat2000", "salicon"]
    assert all("### Conversion" in importer.readme for importer in IMPORTERS.values())
