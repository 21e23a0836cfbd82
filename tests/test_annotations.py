"""Detection datasets (PASCAL VOC, COCO), the synthetic VOC writer, and ``Dataset`` over a VOC
folder: boxes and labels by hand, every bad annotation's notice and count, the study's split."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from saliency_core.commands.evaluate import dataset_of
from saliency_core.data import datasets
from saliency_core.data.annotations import (
    VOC_CLASSES,
    Annotation,
    AnnotationError,
    read_coco,
    read_detection_dataset,
    read_voc,
    study_split,
)
from saliency_core.data.synthetic import draw_image, write_synthetic_voc, write_voc_xml

GOOD_XML = """<annotation>
  <filename>good.jpg</filename>
  <size><width>64</width><height>48</height><depth>3</depth></size>
  <object>
    <name>cat</name>
    <difficult>0</difficult>
    <bndbox><xmin>4</xmin><ymin>6</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>
  </object>
  <object>
    <name>dog</name>
    <difficult>1</difficult>
    <bndbox><xmin>10.5</xmin><ymin>2</ymin><xmax>60</xmax><ymax>20</ymax></bndbox>
  </object>
</annotation>
"""


def _image(path: Path, width: int = 64, height: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 128, np.uint8))


def _voc(root: Path, files: dict[str, str], images: list[str], splits: dict[str, str]) -> Path:
    (root / "Annotations").mkdir(parents=True)
    for stem, text in files.items():
        (root / "Annotations" / f"{stem}.xml").write_text(text)
    for stem in images:
        _image(root / "JPEGImages" / f"{stem}.jpg")
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for name, text in splits.items():
        (root / "ImageSets" / "Main" / f"{name}.txt").write_text(text)
    return root


def _objects(*objects: tuple[str, tuple[float, float, float, float]]) -> str:
    """A 64×48 VOC file, one element per line: object k's <object> is on line 3 + 8·(k-1)."""
    lines = ["<annotation>", "<size><width>64</width><height>48</height></size>"]
    for name, (x1, y1, x2, y2) in objects:
        lines += [
            "<object>",
            f"<name>{name}</name>",
            "<bndbox>",
            f"<xmin>{x1}</xmin>",
            f"<ymin>{y1}</ymin>",
            f"<xmax>{x2}</xmax>",
            f"<ymax>{y2}</ymax>",
            "</bndbox></object>",
        ]
    return "\n".join([*lines, "</annotation>", ""])


def test_voc_boxes_labels_and_classes_by_hand(tmp_path: Path) -> None:
    splits = {"train": "good\n", "val": "", "test": "", "trainval": "good\n"}
    dataset = read_voc(_voc(tmp_path / "voc", {"good": GOOD_XML}, ["good"], splits))
    annotation = dataset.annotations["good"]
    np.testing.assert_array_equal(annotation.boxes, [[4, 6, 30, 40], [10.5, 2, 60, 20]])
    assert annotation.boxes.dtype == np.float32
    assert annotation.labels == ("cat", "dog")
    assert annotation.difficult == (False, True)
    assert (annotation.width, annotation.height) == (64, 48)
    assert annotation.image == tmp_path / "voc" / "JPEGImages" / "good.jpg"
    assert dataset.classes == VOC_CLASSES  # every name is VOC's
    assert dataset.layout == "voc"
    assert dataset.splits["train"] == ("good",) and dataset.splits["test"] == ()
    assert dataset.notices == ()
    summary = dataset.summary()
    assert (summary["images"], summary["boxes"], summary["difficult"]) == (1, 2, 1)
    assert summary["boxes_per_class"]["cat"] == 1 and summary["boxes_per_class"]["dog"] == 1
    json.dumps(summary)  # plain values, manifest-ready


def test_every_bad_annotation_is_named_and_counted(tmp_path: Path) -> None:
    files = {
        "broken": "<annotation>\n  <object>\n</annotation>\n",
        "empty_box": _objects(("cat", (1, 2, 20, 30)), ("dog", (40, 10, 30, 50))),
        "outside": _objects(("cat", (-5, 10, 70, 40)), ("cat", (70, 1, 90, 9))),
        "negative": _objects(),
        "no_image": _objects(("cat", (1, 1, 9, 9))),
    }
    images = ["broken", "empty_box", "outside", "negative", "loose"]
    splits = {"train": "broken\nempty_box\noutside\n", "val": "negative\n"}
    dataset = read_voc(_voc(tmp_path / "voc", files, images, splits))
    assert dataset.notices == (
        "Annotations/broken.xml:3:3: malformed XML (mismatched tag); image skipped.",
        "Annotations/empty_box.xml:11: object 2 'dog': empty box (40, 10, 30, 50): "
        "x2 ≤ x1 or y2 ≤ y1; object skipped.",
        "Annotations/no_image.xml: image file for 'no_image' not found; image skipped.",
        "Annotations/outside.xml:3: object 1 'cat': box (-5, 10, 70, 40) outside the 64×48 "
        "image; clipped to (0, 10, 64, 40).",
        "Annotations/outside.xml:11: object 2 'cat': box (70, 1, 90, 9) lies outside the 64×48 "
        "image; object skipped.",
        "JPEGImages/: 1 images without an annotation file left out (loose).",
        "ImageSets/Main/train.txt: 1 listed images without a usable annotation left out "
        "(broken).",
        "ImageSets/Main/trainval.txt missing: derived as train ∪ val.",
        "ImageSets/Main/test.txt missing: no 'test' split.",
    )
    np.testing.assert_array_equal(dataset.annotations["outside"].boxes, [[0, 10, 64, 40]])
    np.testing.assert_array_equal(dataset.annotations["empty_box"].boxes, [[1, 2, 20, 30]])
    assert dataset.splits["trainval"] == ("empty_box", "outside", "negative")
    summary = dataset.summary()
    expected = {
        "images": 3,
        "boxes": 2,
        "negatives": 1,
        "skipped_objects": 2,
        "clipped_boxes": 1,
        "skipped_images": 2,
        "negatives_skipped": 0,
        "unannotated_images": 1,
    }
    assert {key: summary[key] for key in expected} == expected
    assert dataset.classes == VOC_CLASSES


def test_negatives_skipped_and_unknown_classes_by_option(tmp_path: Path) -> None:
    files = {
        "a": _objects(("cat", (1, 1, 9, 9)), ("unicorn", (10, 10, 20, 20))),
        "b": _objects(),
    }
    root = _voc(tmp_path / "voc", files, ["a", "b"], {"train": "a\nb\n"})
    dataset = read_voc(root, classes=("cat", "dog"), keep_negatives=False)
    assert dataset.classes == ("cat", "dog")
    assert dataset.notices[:2] == (
        "Annotations/a.xml:11: object 2 'unicorn': class not in the given classes; "
        "object skipped.",
        "Annotations/b.xml: no boxes; image skipped (keep_negatives=False).",
    )
    assert list(dataset.annotations) == ["a"]
    summary = dataset.summary()
    assert (summary["skipped_objects"], summary["negatives_skipped"], summary["negatives"]) == (
        1,
        1,
        0,
    )
    assert summary["boxes_per_class"] == {"cat": 1, "dog": 0}
    # without the option: negatives kept, the class list is the data's sorted union
    free = read_voc(root)
    assert free.classes == ("cat", "unicorn")
    assert free.summary()["negatives"] == 1
    assert free.annotations["b"].boxes.shape == (0, 4)


def test_non_finite_coordinates_skip_the_object(tmp_path: Path) -> None:
    files = {"a": _objects(("cat", (1, 1, 9, 9)), ("cat", ("nan", 1, 9, 9)))}
    dataset = read_voc(_voc(tmp_path / "voc", files, ["a"], {"train": "a\n"}))
    assert dataset.notices[0] == (
        "Annotations/a.xml:11: object 2 'cat': box (nan, 1, 9, 9) is not finite; object skipped."
    )
    np.testing.assert_array_equal(dataset.annotations["a"].boxes, [[1, 1, 9, 9]])


def test_unknown_split_names_the_known_ones(tmp_path: Path) -> None:
    dataset = read_voc(_voc(tmp_path / "voc", {"good": GOOD_XML}, ["good"], {"val": "good\n"}))
    with pytest.raises(ValueError) as error:
        dataset.split("test")
    assert str(error.value) == (
        f"No split 'test' in {tmp_path / 'voc'}; known splits: all, trainval, val."
    )
    assert [a.stem for a in dataset.split("val")] == ["good"]


def test_not_a_voc_folder(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    with pytest.raises(AnnotationError, match="no JPEGImages/ folder"):
        read_voc(tmp_path)


COCO = {
    "images": [
        {"id": 1, "file_name": "p.jpg", "width": 64, "height": 48},
        {"id": 2, "file_name": "q.jpg", "width": 64, "height": 48},
    ],
    "categories": [{"id": 3, "name": "zebra"}, {"id": 1, "name": "person"}],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 1, "bbox": [5, 6, 20, 10], "iscrowd": 0},
        {"id": 11, "image_id": 1, "category_id": 3, "bbox": [50, 40, 30, 20], "iscrowd": 1},
        {"id": 12, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5]},
        {"id": 13, "image_id": 5, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 14, "image_id": 2, "category_id": 1, "bbox": [8, 8, 0, 5]},
    ],
}


def _coco(root: Path) -> Path:
    (root / "annotations").mkdir(parents=True)
    for name in ("p", "q"):
        _image(root / "images" / f"{name}.jpg")
    path = root / "annotations" / "instances_val.json"
    path.write_text(json.dumps(COCO))
    return path


def test_coco_xywh_to_xyxy_by_hand(tmp_path: Path) -> None:
    dataset = read_coco(_coco(tmp_path / "coco"), tmp_path / "coco" / "images")
    p = dataset.annotations["p"]
    # (x, y, w, h) = (5, 6, 20, 10) -> (5, 6, 25, 16); (50, 40, 30, 20) -> (50, 40, 80, 60),
    # clipped to the 64×48 image -> (50, 40, 64, 48)
    np.testing.assert_array_equal(p.boxes, [[5, 6, 25, 16], [50, 40, 64, 48]])
    assert p.labels == ("person", "zebra") and p.difficult == (False, True)
    assert dataset.classes == ("person", "zebra")  # categories in id order
    assert dataset.annotations["q"].labels == ()  # a negative
    assert dataset.notices == (
        "instances_val.json: annotation id 13: unknown image_id 5; object skipped.",
        "instances_val.json: annotation id 11 'zebra': box (50, 40, 80, 60) outside the 64×48 "
        "image; clipped to (50, 40, 64, 48).",
        "instances_val.json: annotation id 12: unknown category_id 9; object skipped.",
        "instances_val.json: annotation id 14 'person': empty box (8, 8, 8, 13): x2 ≤ x1 or "
        "y2 ≤ y1; object skipped.",
    )
    summary = dataset.summary()
    assert (summary["boxes"], summary["negatives"], summary["skipped_objects"]) == (2, 1, 3)
    assert dataset.splits == {"all": ("p", "q"), "val": ("p", "q")}


def test_read_detection_dataset_finds_the_layout(tmp_path: Path, synthetic_voc: Path) -> None:
    _coco(tmp_path / "coco")
    coco = read_detection_dataset(tmp_path / "coco")
    assert (coco.layout, coco.root, list(coco.annotations)) == (
        "coco",
        tmp_path / "coco",
        ["p", "q"],
    )
    assert read_detection_dataset(synthetic_voc).layout == "voc"
    (tmp_path / "coco" / "annotations" / "other.json").write_text("{}")
    with pytest.raises(
        AnnotationError, match="found: annotations/instances_val.json, annotations/"
    ):
        read_detection_dataset(tmp_path / "coco")


def test_malformed_coco_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(AnnotationError) as error:
        read_coco(path, tmp_path)
    assert (
        str(error.value)
        == "bad.json:2:12: malformed JSON (Expecting property name enclosed in double quotes)"
    )


def test_study_split_is_the_masked_images(synthetic_voc: Path) -> None:
    dataset = read_voc(synthetic_voc)
    masked = tuple(sorted(p.stem for p in (synthetic_voc / "masks").iterdir()))
    assert len(masked) == 6
    split = study_split(dataset)
    assert split["test"] == masked == dataset.splits["test"]
    assert set(split["train"]) == set(dataset.annotations) - set(masked)
    assert len(split["train"]) == 18


def test_synthetic_voc_reads_back_clean(synthetic_voc: Path) -> None:
    dataset = read_voc(synthetic_voc)
    assert dataset.notices == ()
    assert dataset.classes == ("disc", "square", "triangle")
    assert len(dataset.annotations) == 24
    sizes = {name: len(stems) for name, stems in dataset.splits.items()}
    assert sizes == {"all": 24, "train": 14, "val": 4, "test": 6, "trainval": 18}
    for annotation in dataset.annotations.values():
        assert 1 <= len(annotation.labels) <= 3
        boxes = annotation.boxes
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 96).all()
        assert (boxes[:, 2:] > boxes[:, :2]).all()


def test_synthetic_boxes_are_tight_around_the_shapes() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        _, boxes, _, union = draw_image(rng, 96)
        covered = np.zeros_like(union, dtype=bool)
        for x1, y1, x2, y2 in boxes.astype(int):
            covered[y1:y2, x1:x2] = True
            inside = union[y1:y2, x1:x2] > 0
            # every edge row/column of the box holds shape pixels: nothing to shrink
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        assert not union[~covered].any()  # no shape pixel outside its box


def test_synthetic_writer_is_deterministic(tmp_path: Path) -> None:
    first = write_synthetic_voc(tmp_path / "a", n_images=4, size=64, seed=5, n_masked=1)
    again = write_synthetic_voc(tmp_path / "b", n_images=4, size=64, seed=5, n_masked=1)
    other = write_synthetic_voc(tmp_path / "c", n_images=4, size=64, seed=6, n_masked=1)
    for relative in ("Annotations/synth_00002.xml", "JPEGImages/synth_00002.jpg"):
        assert (first / relative).read_bytes() == (again / relative).read_bytes()
    xml = "Annotations/synth_00002.xml"
    assert (first / xml).read_bytes() != (other / xml).read_bytes()
    test = (first / "ImageSets/Main/test.txt").read_text().split()
    assert [p.stem for p in (first / "masks").iterdir()] == test


def test_write_voc_xml_round_trip(tmp_path: Path) -> None:
    _image(tmp_path / "JPEGImages" / "x.jpg")
    boxes = np.array([[1, 2, 3.5, 4], [5, 6, 7, 8]], np.float32)
    written = Annotation(
        "x", tmp_path / "JPEGImages" / "x.jpg", 64, 48, boxes, ("a", "b"), (False, True)
    )
    (tmp_path / "Annotations").mkdir()
    write_voc_xml(tmp_path / "Annotations" / "x.xml", written)
    read = read_voc(tmp_path).annotations["x"]
    np.testing.assert_array_equal(read.boxes, boxes)
    assert (read.labels, read.difficult, read.width, read.height) == (
        ("a", "b"),
        (False, True),
        64,
        48,
    )


def test_dataset_reads_a_voc_folder(synthetic_voc: Path) -> None:
    dataset = datasets.Dataset("voc", synthetic_voc)
    assert dataset.ids == sorted(p.stem for p in (synthetic_voc / "JPEGImages").iterdir())
    assert len(dataset.ids) == 24
    stem = (synthetic_voc / "ImageSets/Main/test.txt").read_text().split()[0]
    sample = dataset.load(stem)
    assert sample.image.shape == (96, 96, 3)
    assert sample.mask is not None and sample.mask.shape == (96, 96) and sample.mask.max() > 0
    assert [d.name for d in datasets.scan_user_datasets(synthetic_voc).datasets] == ["voc"]
    parent = datasets.scan_user_datasets(synthetic_voc.parent).datasets
    assert [d.root for d in parent] == [synthetic_voc]
    assert dataset_of(str(synthetic_voc)).ids == dataset.ids
