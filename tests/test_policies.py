"""Zoph et al.'s detection policies over torchvision.transforms.v2: boxes follow the pixels."""

import numpy as np
import pytest
import torch

from saliency_core.augment.policies import (
    OPERATIONS,
    POLICIES,
    Operation,
    PolicyAugmenter,
    Step,
    _tensors,
)

H, W = 60, 80
BOXES = np.array([[10, 10, 30, 40], [50, 5, 75, 25]], dtype=np.float32)
LABELS = ("cat", "dog")


def _image() -> np.ndarray:
    """Dark grey with a white 20×30 block at x 10..29, y 10..39 (the first box's content)."""
    image = np.full((H, W, 3), 40, dtype=np.uint8)
    image[10:40, 10:30] = 255
    return image


def _one(name: str, probability: float = 1.0, level: int = 10, **kwargs) -> PolicyAugmenter:
    return PolicyAugmenter([[Operation(name, probability, level)]], **kwargs)


def _run_step(name: str, magnitude: float, boxes=BOXES) -> tuple[np.ndarray, np.ndarray]:
    image, boxes = _tensors(_image(), boxes)
    step = Step(Operation(name, 1.0, 10), magnitude)
    out, moved = OPERATIONS[name].apply(image, boxes, step, torch.Generator().manual_seed(0))
    return out.permute(1, 2, 0).numpy(), moved.as_subclass(torch.Tensor).numpy()


def test_flip_mirrors_the_boxes_by_hand():
    image, boxes, labels = _one("Flip")(_image(), BOXES, LABELS, torch.Generator().manual_seed(0))
    # x1' = W - x2, x2' = W - x1, y unchanged: (80-30, 10, 80-10, 40), (80-75, 5, 80-50, 25)
    np.testing.assert_array_equal(boxes, [[50, 10, 70, 40], [5, 5, 30, 25]])
    assert labels == LABELS
    assert (image[10:40, 50:70] == 255).all() and (image[10:40, 10:30] == 40).all()


def test_translate_moves_boxes_and_pixels_by_exactly_the_pixels():
    image, boxes = _run_step("TranslateX_BBox", 12)
    np.testing.assert_array_equal(boxes, [[22, 10, 42, 40], [62, 5, 80, 25]])  # second clipped
    assert (image[10:40, 22:42] == 255).all() and (image[10:40, 12:22] == 40).all()
    assert (image[:, :12] == 128).all()  # the emptied strip is the original's grey
    image, boxes = _run_step("TranslateY_BBox", -7)
    np.testing.assert_array_equal(boxes, [[10, 3, 30, 33], [50, 0, 75, 18]])
    assert (image[3:33, 10:30] == 255).all() and (image[H - 7 :] == 128).all()


def test_a_box_pushed_out_of_the_image_is_dropped_with_its_label():
    # 0.2 × 250 = 50 px to the right (sign drawn); the dog box (x ≥ 50) leaves, the cat stays
    augmenter = _one("TranslateX_BBox", level=2)
    for seed in range(20):
        generator = torch.Generator().manual_seed(seed)
        draw = augmenter.draw(generator)
        if draw.steps[0].magnitude > 0:
            break
    assert draw.steps[0].magnitude == 50
    _, boxes, labels = augmenter.apply(_image(), BOXES, LABELS, draw, generator)
    np.testing.assert_array_equal(boxes, [[60, 10, 80, 40]])
    assert labels == ("cat",)


def test_rotation_keeps_every_box_inside_the_image():
    corners = np.array([[0, 0, 20, 15], [60, 45, 80, 60], [30, 20, 50, 40]], dtype=np.float32)
    augmenter = _one("Rotate_BBox", level=10)
    generator = torch.Generator().manual_seed(3)
    for _ in range(10):
        image, boxes, labels = augmenter(_image(), corners, ("a", "b", "c"), generator)
        assert len(boxes) == len(labels) >= 1
        assert (
            (boxes[:, [0, 1]] >= 0).all() and (boxes[:, 2] <= W).all() and (boxes[:, 3] <= H).all()
        )
        assert (boxes[:, 2] - boxes[:, 0] >= 1).all() and (boxes[:, 3] - boxes[:, 1] >= 1).all()
    # 30° about the centre (40, 30): the centre box's corners (±10, ±10) span ±(10cos30+10sin30)
    _, rotated = _run_step("Rotate_BBox", 30, corners[2:])
    half = 10 * (np.cos(np.pi / 6) + np.sin(np.pi / 6))
    np.testing.assert_allclose(rotated[0], [40 - half, 30 - half, 40 + half, 30 + half], atol=1e-4)


def test_study_boxes_returns_the_original_boxes_with_the_moved_image():
    augmenter = _one("TranslateX_BBox", level=4, study_boxes=True)  # ±100 px: both boxes leave
    image, boxes, labels = augmenter(_image(), BOXES, LABELS, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(boxes, BOXES)
    assert labels == LABELS
    assert not (image[10:40, 10:30] == 255).any()  # the white block has moved away
    _, fixed, fixed_labels = _one("TranslateX_BBox", level=4)(
        _image(), BOXES, LABELS, torch.Generator().manual_seed(0)
    )
    assert fixed.shape == (0, 4) and fixed_labels == ()


def test_pixel_only_operations_leave_the_boxes_as_they_are():
    generator = torch.Generator().manual_seed(1)
    for name in ("Cutout", "BBox_Cutout", "Equalize", "Color", "Cutout_Only_BBoxes"):
        _, boxes, labels = _one(name, level=8)(_image(), BOXES, LABELS, generator)
        np.testing.assert_array_equal(boxes, BOXES, err_msg=name)
        assert labels == LABELS


def test_sub_policies_and_operations_are_drawn_with_their_declared_probabilities():
    augmenter = PolicyAugmenter("v0")
    generator = torch.Generator().manual_seed(0)
    draws = [augmenter.draw(generator) for _ in range(2000)]
    counts = np.bincount([draw.index for draw in draws], minlength=5) / 2000
    np.testing.assert_allclose(counts, 0.2, atol=0.03)
    first = [draw for draw in draws if draw.index == 0]  # TranslateX_BBox 0.6, Equalize 0.8
    applied = {name: np.mean([any(s.operation.name == name for s in d.steps) for d in first])
               for name in ("TranslateX_BBox", "Equalize")}  # fmt: skip
    assert abs(applied["TranslateX_BBox"] - 0.6) < 0.06 and abs(applied["Equalize"] - 0.8) < 0.05
    signs = [s.magnitude for d in first for s in d.steps if s.operation.name == "TranslateX_BBox"]
    assert set(signs) == {-100.0, 100.0} and abs(np.mean(np.sign(signs))) < 0.15
    third = [draw for draw in draws if draw.index == 2]  # Sharpness with probability 0.0
    assert third and not any(s.operation.name == "Sharpness" for d in third for s in d.steps)
    # "Only_BBoxes": always listed, then each box with probability / 3
    assert all(draw.steps[0].operation.name == "TranslateY_Only_BBoxes" for draw in
               (d for d in draws if d.index == 1))  # fmt: skip


def test_an_only_bboxes_operation_applies_per_box_with_a_third_of_its_probability():
    augmenter = _one("Flip_Only_BBoxes", probability=0.6)
    generator = torch.Generator().manual_seed(0)
    image = _image()
    image[10:40, 10:15] = 0  # left edge of the cat box black: a flip moves it right
    flipped = []
    for _ in range(600):
        out, boxes, _ = augmenter(image, BOXES[:1], LABELS[:1], generator)
        np.testing.assert_array_equal(boxes, BOXES[:1])
        flipped.append(bool((out[10:40, 25:30] == 0).all()))
        assert (out[:, 30:] == image[:, 30:]).all()  # nothing outside the box changes
    assert abs(np.mean(flipped) - 0.2) < 0.05


def test_the_four_policies_have_the_papers_shapes_and_known_operations():
    sizes = {name: (len(POLICIES[name]), {len(sub) for sub in POLICIES[name]}) for name in POLICIES}
    assert sizes["v0"] == (5, {2}) and sizes["v1"] == (20, {2})
    assert sizes["v2"] == (15, {2, 3}) and sizes["v3"] == (15, {2})
    assert [len(sub) for sub in POLICIES["v2"]] == [3, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    assert POLICIES["v1"][:5] == POLICIES["v0"]
    assert POLICIES["v3"][0] == (
        Operation("Posterize", 0.8, 2),
        Operation("TranslateX_BBox", 1.0, 8),
    )
    for policy in POLICIES.values():
        for operation in (op for sub in policy for op in sub):
            assert operation.name in OPERATIONS
            assert 0 <= operation.probability <= 1 and 0 <= operation.level <= 10


@pytest.mark.parametrize(
    ("name", "level", "magnitude"),
    [
        ("Rotate_BBox", 10, 30.0),
        ("ShearX_BBox", 10, 0.3),
        ("TranslateY_BBox", 10, 250.0),
        ("TranslateX_Only_BBoxes", 5, 60.0),
        ("SolarizeAdd", 10, 110.0),
        ("Solarize", 8, 204.0),
        ("Cutout", 8, 80.0),
        ("Cutout_Only_BBoxes", 6, 30.0),
        ("BBox_Cutout", 10, 0.75),
        ("Color", 0, 0.1),
        ("Brightness", 10, 1.9),
        ("Posterize", 2, 7.0),
        ("Posterize", 10, 4.0),
    ],
)
def test_level_to_magnitude(name, level, magnitude):
    assert OPERATIONS[name].magnitude(level) == pytest.approx(magnitude)


def test_unknown_policy_and_operation_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^Unknown policy 'v9': choose one of v0, v1, v2, v3"):
        PolicyAugmenter("v9")
    with pytest.raises(ValueError, match=r"^Unknown operation\(s\) Spin$"):
        PolicyAugmenter([[Operation("Spin", 1.0, 3)]])
