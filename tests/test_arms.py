"""Augmentation arms: parsing, sampling (copies first, then the policy), precomputed copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_augment_cli import CHOICE, SHAPE, make_dataset

from saliency_core.augment.arms import Arm, ArmSampler, parse_arm, prepare_copies
from saliency_core.augment.dataset import AugmentOptions
from saliency_core.data.annotations import Annotation
from saliency_core.data.images import load_image

CHOICES = "none, erase, inpaint, transform"
BOXES = np.array([[4, 6, 40, 50], [70, 20, 120, 60]], dtype=np.float32)


def _annotation(folder: Path, stem: str = "img", size=(64, 128)) -> Annotation:
    folder.mkdir(parents=True, exist_ok=True)
    rgb = np.zeros((*size, 3), np.uint8)
    rgb[:, : size[1] // 2] = 200  # left half bright
    Image.fromarray(rgb).save(folder / f"{stem}.png")
    boxes = BOXES.copy()
    return Annotation(
        stem, folder / f"{stem}.png", size[1], size[0], boxes, ("a", "b"), (False,) * 2
    )


def _copy(folder: Path, stem: str, value: int, size=(64, 128)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(folder / f"{stem}.png")


def test_parse_arm_orders_parts_and_takes_probabilities():
    assert parse_arm("transform+erase", {"erase": 0.5}) == Arm((("erase", 0.5), ("transform", 1.0)))
    arm = parse_arm(" erase + transform ")
    assert arm.name == "erase+transform" and arm.copies == ("erase",)
    assert parse_arm("none") == Arm((("none", 1.0),)) and parse_arm("none").copies == ()


@pytest.mark.parametrize(
    ("text", "probabilities", "message"),
    [
        ("blur", None, f"Unknown arm 'blur' in 'blur': choose from {CHOICES}"),
        ("erase+", None, f"Arm 'erase+' has an empty part: choose from {CHOICES}"),
        ("erase+erase", None, "Arm 'erase' is named twice in 'erase+erase'"),
        ("none+erase", None, "Arm 'none' cannot be combined with others ('none+erase')"),
        ("erase", {"erase": 1.5}, "The probability of 'erase' must be in [0, 1], not 1.5"),
        ("erase", {"erase": float("nan")}, "The probability of 'erase' must be in [0, 1], not nan"),
        ("erase", {"transform": 0.5},
         "A probability is given for 'transform', which is not part of 'erase'"),
    ],
)  # fmt: skip
def test_parse_arm_refuses_with_exact_messages(text, probabilities, message):
    with pytest.raises(ValueError) as error:
        parse_arm(text, probabilities)
    assert str(error.value) == message


def test_erase_and_inpaint_read_their_copy_and_leave_the_boxes(tmp_path):
    annotation = _annotation(tmp_path / "images")
    copies = {"erase": tmp_path / "erase", "inpaint": tmp_path / "inpaint"}
    _copy(copies["erase"], "img", 11)
    _copy(copies["inpaint"], "img", 22)
    generator = torch.Generator().manual_seed(0)
    for arm, value in (("erase", 11), ("inpaint", 22), ("erase+inpaint", 11)):
        sampler = ArmSampler(parse_arm(arm), copies)
        image, boxes, labels = sampler(annotation, generator)
        assert (image == value).all() and image.shape == (64, 128, 3)
        np.testing.assert_array_equal(boxes, BOXES)
        assert labels == ("a", "b") and sampler.notices == []
    image, boxes, _ = ArmSampler(parse_arm("none"))(annotation, generator)
    np.testing.assert_array_equal(image, load_image(annotation.image).rgb)
    np.testing.assert_array_equal(boxes, BOXES)


def test_a_missing_or_resized_copy_falls_back_to_the_original_with_a_notice(tmp_path):
    annotation = _annotation(tmp_path / "images")
    _copy(tmp_path / "erase", "img", 11, size=(32, 64))
    sampler = ArmSampler(parse_arm("erase+inpaint", {"erase": 0.0}), {
        "erase": tmp_path / "erase", "inpaint": tmp_path / "none"})  # fmt: skip
    image, boxes, _ = sampler(annotation, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(image, load_image(annotation.image).rgb)
    assert sampler.notices == [f"inpaint: no copy of img in {tmp_path / 'none'}; original used."]
    sampler = ArmSampler(parse_arm("erase"), {"erase": tmp_path / "erase"})
    for _ in range(2):  # each notice once
        image, boxes, _ = sampler(annotation, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(image, load_image(annotation.image).rgb)
    assert sampler.notices == [
        f"erase: {tmp_path / 'erase' / 'img.png'} is 64×32, the image 128×64; original used."
    ]
    with pytest.raises(ValueError, match=r"^Arm 'erase' needs copies for erase$"):
        ArmSampler(parse_arm("erase"), {})


def test_parts_apply_with_their_probability_and_the_copy_comes_before_the_transform(tmp_path):
    annotation = _annotation(tmp_path / "images")  # left half 200, right half 0
    copy = np.full((64, 128, 3), 11, np.uint8)
    copy[:, 64:] = 33  # the copy: left 11, right 33
    (tmp_path / "erase").mkdir()
    Image.fromarray(copy).save(tmp_path / "erase" / "img.png")
    arm = parse_arm("erase+transform", {"erase": 0.3})
    sampler = ArmSampler(arm, {"erase": tmp_path / "erase"}, policy="hflip")
    generator = torch.Generator().manual_seed(0)
    seen = {}
    for _ in range(1000):
        image, boxes, labels = sampler(annotation, generator)
        flipped = bool(boxes[0, 0] == 128 - 40)  # x1' = W - x2 of the first box
        expected = [[88, 6, 124, 50], [8, 20, 58, 60]] if flipped else BOXES
        np.testing.assert_array_equal(boxes, expected)
        left, from_copy = int(image[0, 0, 0]), int(image[0, 0, 0]) in (11, 33)
        # the copy's left column, mirrored when flipped; else the original's (200; flipped 0)
        assert left == {(True, False): 11, (True, True): 33, (False, False): 200,
                        (False, True): 0}[from_copy, flipped]  # fmt: skip
        seen[from_copy, flipped] = seen.get((from_copy, flipped), 0) + 1
    erased = (seen[True, True] + seen[True, False]) / 1000
    flips = (seen[True, True] + seen[False, True]) / 1000
    assert abs(erased - 0.3) < 0.04 and abs(flips - 0.5) < 0.05 and seen[True, True] > 100


def test_study_boxes_keep_the_original_boxes_through_the_transform(tmp_path):
    annotation = _annotation(tmp_path / "images")
    sampler = ArmSampler(parse_arm("transform"), policy="hflip", study_boxes=True)
    generator = torch.Generator().manual_seed(0)
    images = [sampler(annotation, generator) for _ in range(20)]
    assert any((image[:, :64] == 0).all() for image, _, _ in images)  # some were flipped
    for _, boxes, _ in images:
        np.testing.assert_array_equal(boxes, BOXES)


def test_prepare_copies_erases_and_inpaints_only_the_given_stems_and_resumes(tmp_path):
    dataset = make_dataset(tmp_path / "voc")
    (dataset / "images").rename(dataset / "JPEGImages")  # PASCAL VOC's image folder
    options = AugmentOptions(detector=CHOICE.name, weights="untrained", cam="EigenCAM",
                             reference="mask", input_size=128, metric="MAE", comparator=">=",
                             threshold=0.0, inpaint="telea")  # fmt: skip
    out = tmp_path / "copies"
    arm = parse_arm("erase+inpaint+transform")
    folders = prepare_copies(dataset, arm, out, ["img_b"], options)
    assert folders == {"erase": out / "erase" / "images", "inpaint": out / "inpaint" / "images"}
    original = load_image(dataset / "JPEGImages" / "img_b.jpg").rgb
    erased = np.asarray(Image.open(folders["erase"] / "img_b.png"))
    inpainted = np.asarray(Image.open(folders["inpaint"] / "img_b.png"))
    assert erased.shape == inpainted.shape == (*SHAPE, 3)
    assert (erased == 0).all(axis=-1).sum() > 0  # black fill
    assert (inpainted != original).any() and not (inpainted == 0).all(axis=-1).any()
    assert sorted(p.name for p in folders["erase"].iterdir()) == ["img_b.png"]
    mtime = (folders["inpaint"] / "img_b.png").stat().st_mtime_ns
    prepare_copies(dataset, arm, out, ["img_b"], options)  # resumes: nothing left to do
    assert (folders["inpaint"] / "img_b.png").stat().st_mtime_ns == mtime
    assert prepare_copies(dataset, parse_arm("transform"), out, ["img_b"], options) == {}
