"""Dataset folders: the shipped sample, user folders, path safety, fixation scaling."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from saliency_core.data import datasets
from saliency_core.data.datasets import Dataset, DatasetError
from saliency_core.data.fixations import to_pixel_coords


def test_the_sample_ships_50_images_with_real_fixations_and_its_licence():
    sample = datasets.sample_dataset()
    manifest = pd.read_csv(datasets.SAMPLE_DIR / "manifest.csv", dtype={"id": str})
    assert sample.ids == sorted(manifest["id"]) and len(sample.ids) == 50
    assert "MIT License" in (datasets.SAMPLE_DIR / "LICENSE").read_text()
    loaded = sample.load("024")
    row = manifest.set_index("id").loc["024"]
    assert loaded.image.shape == (row.height, row.width, 3)
    assert loaded.fixations.shape == (row.n_fixations, 2) and loaded.mask is None
    assert sample.has_fixations and not sample.has_masks
    others = sample.other_fixations("024", limit=3)
    assert others.shape[1] == 2 and others.min() >= 0.0 and others.max() <= 1.0


def write_image(path: Path, size=(40, 30), colour=(200, 10, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_user_dataset_with_masks_and_fixations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "voc"
    write_image(root / "images" / "a.jpg")
    write_image(root / "images" / "b.PNG")
    (root / "images" / "notes.txt").write_text("not an image")
    mask = np.zeros((15, 20), np.uint8)
    mask[:, 10:] = 255
    (root / "masks").mkdir()
    Image.fromarray(mask).save(root / "masks" / "a.png")
    (root / "fixations").mkdir()
    (root / "fixations" / "a.csv").write_text("x,y\n10,5\n39,29\n")
    monkeypatch.setenv(datasets.DATA_DIR_VARIABLE, str(root))
    found = datasets.all_datasets()
    assert list(found) == [datasets.SAMPLE_NAME, "voc"]
    dataset = found["voc"]
    assert dataset.ids == ["a", "b"]
    sample = dataset.load("a")
    assert sample.mask.shape == (30, 40) and sample.mask[:, 30].min() == 1.0
    assert any("Mask resized from 20×15" in n for n in sample.notices)
    np.testing.assert_allclose(sample.fixations, [[10, 5], [39, 29]])
    assert dataset.load("b").mask is None and dataset.load("b").fixations is None
    assert dataset.thumbnail("a", side=20).shape == (15, 20, 3)


def test_a_stem_in_two_formats_is_listed_once(tmp_path: Path):
    write_image(tmp_path / "images" / "a.jpg")
    write_image(tmp_path / "images" / "a.png")
    assert Dataset("twice", tmp_path).ids == ["a"]


def test_a_folder_of_datasets(tmp_path: Path):
    write_image(tmp_path / "one" / "images" / "x.png")
    write_image(tmp_path / "two" / "images" / "y.png")
    (tmp_path / "not_a_dataset").mkdir()
    assert [d.name for d in datasets.user_datasets(tmp_path)] == ["one", "two"]
    missing = datasets.scan_user_datasets(tmp_path / "missing")
    assert missing.datasets == []
    assert missing.notices == [
        f"SALIENCY_DATA_DIR: {tmp_path / 'missing'} is not a folder; skipped."
    ]


def test_several_data_roots_joined_by_the_path_separator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """SALIENCY_DATA_DIR=a:b (";" on Windows): a folder of datasets, a dataset folder, a missing
    folder (a notice, the others still listed) and a name already taken (its root appended)."""
    write_image(tmp_path / "lab" / "one" / "images" / "x.png")
    write_image(tmp_path / "lab" / "two" / "images" / "y.png")
    write_image(tmp_path / "other" / "one" / "images" / "z.png")
    write_image(tmp_path / "three" / "images" / "w.png")
    folders = [tmp_path / "lab", tmp_path / "gone", tmp_path / "three", tmp_path / "other"]
    monkeypatch.setenv(datasets.DATA_DIR_VARIABLE, os.pathsep.join(map(str, folders)) + os.pathsep)
    scan = datasets.scan_user_datasets()
    assert [(d.name, d.root) for d in scan.datasets] == [
        ("one", tmp_path / "lab" / "one"),
        ("two", tmp_path / "lab" / "two"),
        ("three", tmp_path / "three"),
        (f"one ({tmp_path / 'other'})", tmp_path / "other" / "one"),
    ]
    assert scan.notices == [f"SALIENCY_DATA_DIR: {tmp_path / 'gone'} is not a folder; skipped."]
    assert list(datasets.all_datasets())[1:] == [d.name for d in scan.datasets]
    assert datasets.all_datasets()[f"one ({tmp_path / 'other'})"].ids == ["z"]
    assert datasets.dataset_roots() == [datasets.SAMPLE_DIR, *folders]
    # every root confines what a manifest may name; the sample set is a root too
    inside = tmp_path / "three" / "images"
    assert datasets.open_dataset_folder(inside) == inside.resolve()
    assert datasets.open_dataset_folder(datasets.SAMPLE_DIR) == datasets.SAMPLE_DIR.resolve()
    monkeypatch.delenv("SALIENCY_ALLOW_ANY_PATH", raising=False)
    with pytest.raises(ValueError, match="is outside the dataset folders"):
        datasets.open_dataset_folder(tmp_path)


def test_paths_never_leave_the_dataset_root(tmp_path: Path):
    outside = tmp_path / "secret.png"
    write_image(outside)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "link.png").symlink_to(outside)
    dataset = Dataset("data", root)
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        dataset.load("link")
    with pytest.raises(DatasetError, match="Invalid image id"):
        dataset.image_path("../secret")
    with pytest.raises(DatasetError, match="No image"):
        dataset.image_path("nothing")


def test_fixations_follow_a_downscaled_image(tmp_path: Path):
    root = tmp_path / "big"
    write_image(root / "images" / "z.png", size=(100, 60))
    (root / "fixations").mkdir()
    (root / "fixations" / "z.csv").write_text("x,y,subject\n80,40,1\n")
    sample = Dataset("big", root).load("z", max_side=50)
    assert sample.image.shape == (30, 50, 3)
    np.testing.assert_allclose(sample.fixations, [[39.75, 19.75]])  # fixations.rescale_points


def test_fixations_follow_a_downscaled_image_to_its_edge(tmp_path: Path):
    """An image over images.MAX_SIDE is downscaled on load; its edge fixations stay inside."""
    root = tmp_path / "big"
    write_image(root / "images" / "wide.png", size=(8192, 410))  # images.MAX_ASPECT, 20:1
    (root / "fixations").mkdir()
    (root / "fixations" / "wide.csv").write_text("x,y\n8191,409\n0,0\n")
    sample = Dataset("big", root).load("wide")
    assert sample.shape == (205, 4096)
    np.testing.assert_allclose(sample.fixations, [[4095.25, 204.25], [-0.25, -0.25]])
    assert to_pixel_coords(sample.fixations, sample.shape).tolist() == [[4095, 204], [0, 0]]
