"""One bad file, one casualty (issue 19): a decompression bomb, a corrupt mask or an unreadable
fixation CSV costs only itself, in the dataset loader, Explore, the evaluate command and the
augment command; file-system errors (a path too long, a full disk) are one line naming the path."""

from __future__ import annotations

import csv
import errno
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from saliency_core.commands import augment as augment_command
from saliency_core.commands import evaluate as evaluate_command
from saliency_core.data import atomic, datasets, file_errors, images
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import ImageLoadError, image_size
from saliency_core.evaluate.store import ResultsFolder

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 300
SIZE = (40, 30)
"""(W, H) of the good images."""
TOO_LARGE = images.TOO_LARGE
BOMB_SKIPPED = f"{datasets.OTHER_FIXATIONS_SKIPPED} bomb.png: {TOO_LARGE}"
CORRUPT_CSV = "x,y\n1,oops\n"
CSV_PROBLEM = "no data row has a usable x,y; y must be numeric, got 'oops' in data row 1"
CORRUPT_MASK = b"\x89PNG\r\n\x1a\n not really a mask"


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG header declaring ``width`` × ``height`` pixels (no pixel data): Pillow refuses it
    with DecompressionBombError while opening it (over twice its MAX_IMAGE_PIXELS)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_dataset(root: Path) -> Dataset:
    """a, b, c (40×30, fixations and masks) and bomb.png (with fixations/bomb.csv)."""
    for folder in ("images", "masks", "fixations"):
        (root / folder).mkdir(parents=True)
    for index, stem in enumerate("abc"):
        rgb = np.full((SIZE[1], SIZE[0], 3), 60 + 40 * index, np.uint8)
        rgb[5:20, 5 + 5 * index : 25 + 5 * index] = (230, 200, 30)
        Image.fromarray(rgb).save(root / "images" / f"{stem}.png")
        mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        mask[5:20, 5 + 5 * index : 25 + 5 * index] = 255
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        (root / "fixations" / f"{stem}.csv").write_text(f"x,y\n{10 + index},{5 + index}\n20,15\n")
    (root / "images" / "bomb.png").write_bytes(bomb_png())
    (root / "fixations" / "bomb.csv").write_text("x,y\n1,1\n")
    return Dataset(root.name, root)


# --- the dataset loader ---------------------------------------------------------------------


def test_a_bomb_among_the_images_is_a_notice_for_the_others_and_an_error_for_itself(tmp_path):
    dataset = write_dataset(tmp_path / "toy")
    sample = dataset.load("a")
    np.testing.assert_allclose(sample.fixations, [[10, 5], [20, 15]])
    # b's then c's fixations, normalised ((x + 0.5) / W, (y + 0.5) / H); the bomb's left out
    b = [[11.5 / 40, 6.5 / 30], [20.5 / 40, 15.5 / 30]]
    c = [[12.5 / 40, 7.5 / 30], [20.5 / 40, 15.5 / 30]]
    np.testing.assert_allclose(sample.other_fixations, [*b, *c])
    assert sample.notices == [BOMB_SKIPPED]
    with pytest.raises(ImageLoadError, match="too large to decode safely"):
        dataset.load("bomb")  # was a raw DecompressionBombError naming no file


def test_an_unreadable_other_image_was_left_out_silently_and_now_says_so(tmp_path):
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "images" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    notices = dataset.other_fixations_with_notices("a")[1]
    assert notices[0].startswith(f"{datasets.OTHER_FIXATIONS_SKIPPED} b.png: ")
    assert notices[1] == BOMB_SKIPPED
    assert len(notices) == 2


def test_a_bomb_found_by_a_lowered_pillow_limit_is_named_too(tmp_path, monkeypatch):
    """Any failure reading another image counts, whatever Pillow raises."""
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "images" / "bomb.png").unlink()
    Image.new("RGB", (200, 100)).save(dataset.root / "images" / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)  # 20 000 px > twice the limit
    assert dataset.load("a").notices == [BOMB_SKIPPED]


def test_image_size_reads_the_header_with_the_exif_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: width and height swap
    Image.new("RGB", (40, 30)).save(path, exif=exif)
    assert image_size(path) == (40, 30)
    Image.new("RGB", (40, 30)).save(path)
    assert image_size(path) == (30, 40)


def test_a_corrupt_mask_loads_the_image_without_it_and_names_the_mask(tmp_path):
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "masks" / "a.png").write_bytes(CORRUPT_MASK)
    sample = dataset.load("a")
    assert sample.image.shape == (30, 40, 3) and sample.mask is None
    assert sample.notices[0] == (
        f"{images.MASK_NOT_LOADED} a.png: This file is not an image format we can read."
    )
    np.testing.assert_allclose(sample.fixations, [[10, 5], [20, 15]])


def test_only_the_inputs_asked_for_are_read(tmp_path):
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "fixations" / "a.csv").write_text(CORRUPT_CSV)
    (dataset.root / "masks" / "a.png").write_bytes(CORRUPT_MASK)
    sample = dataset.load("a", inputs=())
    assert (sample.mask, sample.fixations, sample.other_fixations) == (None, None, None)
    assert sample.notices == []


# --- the evaluate command -------------------------------------------------------------------


def test_evaluate_a_bomb_a_corrupt_mask_and_an_unreadable_csv_cost_only_themselves(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "cache"))
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "masks" / "b.png").write_bytes(CORRUPT_MASK)
    (dataset.root / "fixations" / "c.csv").write_text(CORRUPT_CSV)
    out = tmp_path / "out"
    config = tmp_path / "run.toml"
    config.write_text(
        'detectors = []\ntype2 = ["Spectral residual"]\nreferences = ["fixations", "mask"]\n'
    )
    argv = ["--dataset", str(dataset.root), "--out", str(out), "--config", str(config)]
    assert evaluate_command.main([*argv, "--no-finegrained"]) == 1
    err = capsys.readouterr().err
    assert f"skipped bomb: ImageLoadError: {TOO_LARGE}" in err
    folder = ResultsFolder(out)
    assert folder.done() == {"a", "b", "c"}
    assert folder.errors()["image"].tolist() == ["bomb"]
    table = folder.table()
    references = table.groupby("image")["reference"].agg(lambda r: set(r.dropna()))
    assert "human attention mask" not in references["b"]  # its mask was unreadable
    assert "human attention mask" in references["a"] and "human attention mask" in references["c"]
    fixation_rows = table[table["metric"] == "NSS"]
    assert set(fixation_rows["image"]) == {"a", "b"}  # c's CSV was unreadable


# --- the augment command ----------------------------------------------------------------------

MODEL = ["--detector", "FCOS R50-FPN", "--weights", "untrained", "--cam", "EigenCAM"]
MODEL += ["--input-size", "64"]
KEEP = ["--metric", "MAE", "--comparator", "<", "--threshold", "0"]
"""MAE < 0 never holds: every image is copied unchanged."""


def augment(dataset: Path, out: Path, reference: str) -> dict[str, dict[str, str]]:
    argv = ["--dataset", str(dataset), "--out", str(out), "--reference", reference, *MODEL, *KEEP]
    augment_command.main(argv)
    with (out / augment_command.LOG_NAME).open(newline="") as handle:
        return {row["stem"]: row for row in csv.DictReader(handle)}


def stems_of(out: Path) -> dict[str, set[str]]:
    """Each output folder's file stems (the run's own files aside)."""
    found: dict[str, set[str]] = {}
    for path in out.rglob("*"):
        if path.is_file() and path.parent != out:
            found.setdefault(path.parent.name, set()).add(path.stem)
    return found


@pytest.fixture
def augment_dataset(tmp_path: Path) -> Path:
    """a (corrupt mask), b (unreadable CSV), c, and the bomb with its annotation."""
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "masks" / "a.png").write_bytes(CORRUPT_MASK)
    (dataset.root / "fixations" / "b.csv").write_text(CORRUPT_CSV)
    (dataset.root / "annotations").mkdir()
    for stem in ("a", "b", "c", "bomb"):
        (dataset.root / "annotations" / f"{stem}.xml").write_text(f"<filename>{stem}</filename>")
    (dataset.root / "README.txt").write_text("shared by every image\n")
    return dataset.root


def test_augment_reads_no_fixations_for_a_model_reference(augment_dataset, tmp_path):
    out = tmp_path / "out"
    rows = augment(augment_dataset, out, "spectral-residual")
    assert {stem: row["decision"] for stem, row in rows.items()} == {
        "a": "keep",
        "b": "keep",  # its unreadable CSV is not used by this reference: never read
        "c": "keep",
        "bomb": "error",
    }
    assert rows["bomb"]["reason"] == f"ImageLoadError: {TOO_LARGE}"
    assert rows["bomb"]["notes"] == (
        "Left out of the output with its own files (annotations/bomb.xml, fixations/bomb.csv)."
    )
    assert "not loaded" not in " ".join(row["notes"] for row in rows.values())
    assert stems_of(out) == {
        "images": {"a", "b", "c"},
        "masks": {"a", "b", "c"},
        "fixations": {"a", "b", "c"},
        "annotations": {"a", "b", "c"},
    }
    assert (out / "README.txt").is_file()
    assert (out / "fixations" / "b.csv").read_text() == CORRUPT_CSV  # copied unchanged


def test_augment_a_bad_mask_or_csv_costs_only_its_image_and_says_which_file(
    augment_dataset, tmp_path
):
    out = tmp_path / "mask"
    rows = augment(augment_dataset, out, "mask")
    assert [rows[stem]["decision"] for stem in ("a", "b", "c", "bomb")] == [
        "error",
        "keep",  # b's unreadable CSV does not matter for the mask reference
        "keep",
        "error",
    ]
    assert rows["a"]["reason"].startswith("ValueError: ")
    assert f"{images.MASK_NOT_LOADED} a.png: This file is not an image" in rows["a"]["reason"]
    assert rows["a"]["notes"] == (
        "Left out of the output with its own files (annotations/a.xml, fixations/a.csv, "
        "masks/a.png)."
    )
    assert stems_of(out)["images"] == stems_of(out)["masks"] == {"b", "c"}

    out = tmp_path / "fixations"
    rows = augment(augment_dataset, out, "fixations")
    assert [rows[stem]["decision"] for stem in ("a", "b", "c", "bomb")] == [
        "keep",  # a's corrupt mask does not matter for the fixation reference
        "error",
        "keep",
        "error",
    ]
    assert f"{datasets.FIXATIONS_NOT_LOADED} " in rows["b"]["reason"]
    assert f"b.csv: {CSV_PROBLEM}" in rows["b"]["reason"]
    assert stems_of(out)["images"] == stems_of(out)["fixations"] == {"a", "c"}


# --- Explore ----------------------------------------------------------------------------------


def explore(monkeypatch: pytest.MonkeyPatch, data: Path) -> AppTest:
    """The Explore page with only the spectral-residual map (no detector: cheapest)."""
    import streamlit as st

    st.cache_data.clear()
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(data))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = at.switch_page("app_pages/1_Explore.py").run()
    at.sidebar.multiselect(key="explore_detectors").set_value([])
    at.sidebar.multiselect(key="explore_type2").set_value(["Spectral residual"])
    return at.run()


def test_explore_loads_an_image_with_a_corrupt_mask_next_to_a_bomb(tmp_path, monkeypatch):
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "masks" / "a.png").write_bytes(CORRUPT_MASK)
    at = explore(monkeypatch, dataset.root)
    at.sidebar.selectbox(key="explore_dataset").set_value("toy").run()
    at.sidebar.selectbox(key="explore_image").set_value("a").run()
    assert not at.exception, at.exception
    thumbnail = f"Thumbnail bomb: {TOO_LARGE}"  # the gallery: the bomb costs its own thumbnail
    assert [e.value for e in at.error] == [thumbnail]
    infos = [i.value for i in at.info]
    assert f"{images.MASK_NOT_LOADED} a.png: This file is not an image format we can read." in infos
    assert BOMB_SKIPPED in infos

    at.sidebar.selectbox(key="explore_image").set_value("bomb").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [thumbnail, f"Loading bomb: {TOO_LARGE}"]


def test_explore_an_upload_with_a_corrupt_mask_loads_without_the_mask(tmp_path, monkeypatch):
    at = explore(monkeypatch, tmp_path)
    at.sidebar.radio(key="explore_source").set_value("Upload").run()
    rgb = np.full((48, 64, 3), 90, np.uint8)
    at.sidebar.file_uploader(key="explore_upload").upload("scene.png", png(rgb), "image/png")
    at.sidebar.file_uploader(key="explore_mask_upload").upload(
        "scene_mask.png", CORRUPT_MASK, "image/png"
    )
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    infos = [i.value for i in at.info]
    expected = f"{images.MASK_NOT_LOADED} scene_mask.png: This file is not an image format"
    assert any(info.startswith(expected) for info in infos), infos


# --- file-system errors: a path too long, a full disk ---------------------------------------


def test_a_5000_character_results_path_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SALIENCY_RESULTS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = at.switch_page("app_pages/3_Dataset_report.py").run()
    path = f"{tmp_path}/" + "r" * (5000 - len(str(tmp_path)))  # under the results root
    at.sidebar.text_input(key="report_path").set_value(path).run()
    assert not at.exception, at.exception
    [message] = [e.value for e in at.error]
    checked = f"{path}/manifest.json"
    shown = f"{checked[:80]}…{checked[-80:]} ({len(checked)} characters)"
    assert message == (
        f"The results folder: {shown}: the path is too long for the file system "
        "(File name too long)"
    )
    assert "failed unexpectedly" not in message
    assert at.expander, "the rest of the page (starting a run) is still there"


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_names_the_file_being_written(tmp_path):
    target = tmp_path / "results" / "table.csv"
    with pytest.raises(OSError) as caught:
        atomic.write_atomically(target, full_disk)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert file_errors.describe(caught.value) == (
        f"{target}: the disk is full (No space left on device)"
    )
    assert list(target.parent.iterdir()) == [], "no temporary file left"


def test_a_full_disk_stops_the_evaluate_command_with_one_line_naming_the_file(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("SALIENCY_CACHE_DIR", str(tmp_path / "cache"))
    dataset = write_dataset(tmp_path / "toy")
    (dataset.root / "images" / "bomb.png").unlink()
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    out = tmp_path / "out"
    argv = ["--dataset", str(dataset.root), "--out", str(out), "--detectors", ""]
    argv += ["--type2", "Spectral residual", "--references", "fixations", "--no-finegrained"]
    assert evaluate_command.main(argv) == 1
    [line] = [text for text in capsys.readouterr().err.splitlines() if text.startswith("error")]
    assert line == (
        f"error: {out / 'curves' / 'a.parquet'}: the disk is full (No space left on device)"
    )
