"""Non-trivial transformations: the learned detection augmentation policies of Zoph et al. (2019).

"Learning Data Augmentation Strategies for Object Detection" (Zoph, Cubuk, Ghiasi, Lin, Shlens,
Le; arXiv:1906.11172) found policies v0–v3 (the TensorFlow object-detection
``autoaugment_utils.py``, re-implemented by ``bbaug``). A policy is a list of sub-policies; a
sub-policy is a short sequence of operations (name, probability, level 0–10). Per image one
sub-policy is drawn uniformly, and each of its operations applies with its probability.

Here the policies are data (:data:`POLICIES`) and every operation is a registry entry
(:data:`OPERATIONS`) over :mod:`torchvision.transforms.v2`: geometric operations move the
:class:`~torchvision.tv_tensors.BoundingBoxes` with the pixels (torchvision's box kernels), boxes
that leave the image are clipped and those left degenerate dropped with their labels
(``ClampBoundingBoxes``, ``SanitizeBoundingBoxes``). Level -> magnitude as in the original
(level/10 of the maximum): colour enhance factor 0.1–1.9, rotate 0–30°, shear 0–0.3,
translate 0–250 px (120 px inside a box), cutout half-side 0–100 px (50 px inside a box),
bbox-cutout 0–0.75 of the box, solarize threshold 0–256, solarize-add 0–110; rotate, shear and
translate take a random sign. Posterize keeps 8 − 4·level/10 bits (the study's range: the
original's ``int(level·4/10)`` bits turns an image black at low levels). "Only_BBoxes"
operations run inside each box (crop, operation, paste back; the box is unchanged) with
probability ``probability / 3`` per box, as in the original. Empty pixels are filled with grey
128, as in the original.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

MAX_LEVEL = 10
FILL = 128
"""Grey value of the pixels a geometric operation or a cutout leaves empty (the original's)."""
BOX_PROBABILITY_SCALE = 3.0
"""An "Only_BBoxes" operation applies inside each box with ``probability / 3`` (the original)."""


@dataclass(frozen=True)
class Operation:
    """One entry of a sub-policy: an :data:`OPERATIONS` name, its probability, its level 0–10."""

    name: str
    probability: float
    level: int


@dataclass(frozen=True)
class Step:
    """An operation that applies to this image, with its drawn (signed) magnitude."""

    operation: Operation
    magnitude: float

    def describe(self) -> str:
        """e.g. "Rotate_BBox (-24°, p 0.6)"."""
        spec = OPERATIONS[self.operation.name]
        amount = f"{self.magnitude:g}{spec.unit}, " if spec.unit is not None else ""
        return f"{self.operation.name} ({amount}p {self.operation.probability:g})"


@dataclass(frozen=True)
class Draw:
    """One call's random choices: the sub-policy (index) and its operations that apply
    ("Only_BBoxes" ones always: their probability is drawn per box)."""

    index: int
    steps: tuple[Step, ...]


Boxes = tv_tensors.BoundingBoxes
Image = tv_tensors.Image
ImageOp = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
"""(image or crop uint8 CHW, magnitude, generator) -> image: a pixel-only operation."""
BoxOp = Callable[[Image, Boxes, Step, torch.Generator], tuple[Image, Boxes]]
Region = tuple[int, int, int, int]
"""left, top, right, bottom (exclusive) in pixels."""


@dataclass(frozen=True)
class OperationSpec:
    """How one named operation runs: ``magnitude(level)`` (the unsigned amount), whether it takes
    a random sign, its unit (None: no amount shown), whether it runs per box, and ``apply``."""

    magnitude: Callable[[int], float]
    apply: BoxOp
    signed: bool = False
    unit: str | None = ""
    per_box: bool = False


def _scaled(maximum: float, integer: bool = False) -> Callable[[int], float]:
    """level -> maximum · level / 10 (truncated to an integer when ``integer``)."""

    def magnitude(level: int) -> float:
        value = maximum * level / MAX_LEVEL
        return float(int(value)) if integer else value

    return magnitude


def _enhance(level: int) -> float:
    """PIL ImageEnhance factor 0.1 + 1.8 · level/10 (1.0 leaves the image as it is)."""
    return 0.1 + 1.8 * level / MAX_LEVEL


def _posterize_bits(level: int) -> float:
    return float(int(8 - 4 * level / MAX_LEVEL))


def _none(level: int) -> float:
    return 0.0


def _uniform(generator: torch.Generator) -> float:
    return float(torch.rand((), generator=generator))


def _integer(high: int, generator: torch.Generator) -> int:
    """Uniform in 0..high-1."""
    return int(torch.randint(high, (), generator=generator))


# --- pixel operations (image or crop) -------------------------------------------------------


def _solarize_add(image: torch.Tensor, addition: float) -> torch.Tensor:
    """Pixels below 128 get ``addition`` added (clipped to 255); the others are kept."""
    added = (image.to(torch.int16) + int(addition)).clamp(0, 255).to(torch.uint8)
    return torch.where(image < 128, added, image)


def _cutout(
    image: torch.Tensor, half: tuple[int, int], region: Region, generator: torch.Generator
) -> torch.Tensor:
    """Grey out a (2·half[0] × 2·half[1]) rectangle (rows × columns) centred on a pixel drawn
    uniformly in ``region`` (left, top, right, bottom exclusive), cut by the image's edges."""
    height, width = image.shape[-2:]
    left, top, right, bottom = region
    row = top + _integer(max(1, bottom - top), generator)
    column = left + _integer(max(1, right - left), generator)
    i, j = max(0, row - half[0]), max(0, column - half[1])
    h, w = min(height, row + half[0]) - i, min(width, column + half[1]) - j
    if h <= 0 or w <= 0:
        return image
    return F.erase(image, i, j, h, w, torch.tensor(FILL, dtype=image.dtype))


def _cutout_anywhere(image: torch.Tensor, pad: float, generator: torch.Generator) -> torch.Tensor:
    height, width = image.shape[-2:]
    return _cutout(image, (int(pad), int(pad)), (0, 0, width, height), generator)


def _rotate(image: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    return F.rotate(image, degrees, fill=[FILL])


def _affine_arguments(
    shear_x: float = 0.0, shear_y: float = 0.0, dx: float = 0.0, dy: float = 0.0
) -> dict:
    """``F.affine`` keywords: shear factors (tan of the angle) about the top-left corner, as
    PIL and the original shear; a translation in pixels (positive: right, down)."""
    shear = [math.degrees(math.atan(shear_x)), math.degrees(math.atan(shear_y))]
    return {"angle": 0.0, "translate": [dx, dy], "scale": 1.0, "shear": shear, "center": [0, 0]}


def _affine_image(keyword: str) -> ImageOp:
    """An image op for ``F.affine`` whose magnitude is the :func:`_affine_arguments` keyword."""

    def apply(image: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
        return F.affine(image, **_affine_arguments(**{keyword: magnitude}), fill=[FILL])

    return apply


def _pixels(function: Callable[..., torch.Tensor], cast: type = float) -> ImageOp:
    """An image op calling ``function(image, cast(magnitude))``."""

    def apply(image: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
        return function(image, cast(magnitude))

    return apply


def _plain(function: Callable[[torch.Tensor], torch.Tensor]) -> ImageOp:
    """An image op without a magnitude."""

    def apply(image: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
        return function(image)

    return apply


# --- operations on image and boxes -----------------------------------------------------------


def _on_image(operation: ImageOp) -> BoxOp:
    """The whole image changes; the boxes stay."""

    def apply(image: Image, boxes: Boxes, step: Step, generator: torch.Generator):
        return Image(operation(image, step.magnitude, generator)), boxes

    return apply


def _geometric(arguments: Callable[[float], dict], kernel: Callable[..., torch.Tensor]) -> BoxOp:
    """Image and boxes through the same v2 kernel (``kernel(x, **arguments(magnitude))``)."""

    def apply(image: Image, boxes: Boxes, step: Step, generator: torch.Generator):
        keywords = arguments(step.magnitude)
        return kernel(image, **keywords, fill=[FILL]), kernel(boxes, **keywords)

    return apply


def _flip(image: Image, boxes: Boxes, step: Step, generator: torch.Generator):
    return F.horizontal_flip(image), F.horizontal_flip(boxes)


def _bbox_cutout(image: Image, boxes: Boxes, step: Step, generator: torch.Generator):
    """Cutout centred inside one box drawn uniformly, ``magnitude`` × the box's half-sides."""
    if len(boxes) == 0:
        return image, boxes
    region = _pixel_box(boxes[_integer(len(boxes), generator)], image)
    left, top, right, bottom = region
    half = (int(step.magnitude * (bottom - top) / 2), int(step.magnitude * (right - left) / 2))
    return Image(_cutout(image, half, region, generator)), boxes


def _pixel_box(box: torch.Tensor, image: torch.Tensor) -> Region:
    """The pixels a box covers (left, top, right, bottom exclusive; at least one), in the image."""
    height, width = image.shape[-2:]
    x1, y1, x2, y2 = (float(v) for v in box)
    left, top = min(width - 1, max(0, math.floor(x1))), min(height - 1, max(0, math.floor(y1)))
    right = min(width, max(left + 1, math.ceil(x2)))
    return left, top, right, min(height, max(top + 1, math.ceil(y2)))


def _inside_boxes(operation: ImageOp) -> BoxOp:
    """``operation`` on each box's pixels (crop, operate, paste back) with probability
    ``probability / 3`` per box, boxes visited in a random order; the boxes are unchanged."""

    def apply(image: Image, boxes: Boxes, step: Step, generator: torch.Generator):
        probability = step.operation.probability / BOX_PROBABILITY_SCALE
        result = image.as_subclass(torch.Tensor).clone()
        for index in torch.randperm(len(boxes), generator=generator).tolist():
            if _uniform(generator) >= probability:
                continue
            left, top, right, bottom = _pixel_box(boxes[index], result)
            crop = F.crop(result, top, left, bottom - top, right - left)
            result[..., top:bottom, left:right] = operation(crop, step.magnitude, generator)
        return Image(result), boxes

    return apply


def _colour(function: Callable[[torch.Tensor, float], torch.Tensor]) -> OperationSpec:
    return OperationSpec(_enhance, _on_image(_pixels(function)), unit="×")


def _box_spec(operation: ImageOp, magnitude=_none, signed=False, unit=None) -> OperationSpec:
    return OperationSpec(magnitude, _inside_boxes(operation), signed, unit, per_box=True)


_ROTATE = _geometric(lambda degrees: {"angle": degrees}, F.rotate)
_SHEAR_X = _geometric(lambda factor: _affine_arguments(shear_x=factor), F.affine)
_SHEAR_Y = _geometric(lambda factor: _affine_arguments(shear_y=factor), F.affine)
_TRANSLATE_X = _geometric(lambda pixels: _affine_arguments(dx=pixels), F.affine)
_TRANSLATE_Y = _geometric(lambda pixels: _affine_arguments(dy=pixels), F.affine)

OPERATIONS: dict[str, OperationSpec] = {
    "AutoContrast": OperationSpec(_none, _on_image(_plain(F.autocontrast)), unit=None),
    "Equalize": OperationSpec(_none, _on_image(_plain(F.equalize)), unit=None),
    "Posterize": OperationSpec(_posterize_bits, _on_image(_pixels(F.posterize, int)), unit=" bits"),
    "Solarize": OperationSpec(_scaled(256, True), _on_image(_pixels(F.solarize))),
    "SolarizeAdd": OperationSpec(_scaled(110, True), _on_image(_pixels(_solarize_add))),
    "Color": _colour(F.adjust_saturation),
    "Contrast": _colour(F.adjust_contrast),
    "Brightness": _colour(F.adjust_brightness),
    "Sharpness": _colour(F.adjust_sharpness),
    "Cutout": OperationSpec(_scaled(100, True), _on_image(_cutout_anywhere), unit=" px"),
    "BBox_Cutout": OperationSpec(_scaled(0.75), _bbox_cutout, unit="× box"),
    "Rotate_BBox": OperationSpec(_scaled(30), _ROTATE, signed=True, unit="°"),
    "ShearX_BBox": OperationSpec(_scaled(0.3), _SHEAR_X, signed=True),
    "ShearY_BBox": OperationSpec(_scaled(0.3), _SHEAR_Y, signed=True),
    "TranslateX_BBox": OperationSpec(_scaled(250), _TRANSLATE_X, signed=True, unit=" px"),
    "TranslateY_BBox": OperationSpec(_scaled(250), _TRANSLATE_Y, signed=True, unit=" px"),
    "Rotate_Only_BBoxes": _box_spec(_rotate, _scaled(30), True, "°"),
    "ShearX_Only_BBoxes": _box_spec(_affine_image("shear_x"), _scaled(0.3), True, ""),
    "ShearY_Only_BBoxes": _box_spec(_affine_image("shear_y"), _scaled(0.3), True, ""),
    "TranslateX_Only_BBoxes": _box_spec(_affine_image("dx"), _scaled(120), True, " px"),
    "TranslateY_Only_BBoxes": _box_spec(_affine_image("dy"), _scaled(120), True, " px"),
    "Flip_Only_BBoxes": _box_spec(_plain(F.horizontal_flip)),
    "Solarize_Only_BBoxes": _box_spec(_pixels(F.solarize), _scaled(256, True), unit=""),
    "Equalize_Only_BBoxes": _box_spec(_plain(F.equalize)),
    "Cutout_Only_BBoxes": _box_spec(_cutout_anywhere, _scaled(50, True), unit=" px"),
    "Flip": OperationSpec(_none, _flip, unit=None),
}
"""Operation name -> how it runs. All but "Flip" are the original's; "Flip" (whole image, boxes
mirrored) is the horizontal flip of torchvision's detection reference recipe (policy "hflip")."""


def _policy(*sub_policies: tuple[tuple[str, float, int], ...]) -> tuple[tuple[Operation, ...], ...]:
    return tuple(tuple(Operation(*entry) for entry in sub) for sub in sub_policies)


_V0 = (
    (("TranslateX_BBox", 0.6, 4), ("Equalize", 0.8, 10)),
    (("TranslateY_Only_BBoxes", 0.2, 2), ("Cutout", 0.8, 8)),
    (("Sharpness", 0.0, 8), ("ShearX_BBox", 0.4, 0)),
    (("ShearY_BBox", 1.0, 2), ("TranslateY_Only_BBoxes", 0.6, 6)),
    (("Rotate_BBox", 0.6, 10), ("Color", 1.0, 6)),
)
POLICIES: dict[str, tuple[tuple[Operation, ...], ...]] = {
    "v0": _policy(*_V0),
    "v1": _policy(
        *_V0,
        (("Color", 0.0, 0), ("ShearX_Only_BBoxes", 0.8, 4)),
        (("ShearY_Only_BBoxes", 0.8, 2), ("Flip_Only_BBoxes", 0.0, 10)),
        (("Equalize", 0.6, 10), ("TranslateX_BBox", 0.2, 2)),
        (("Color", 1.0, 10), ("TranslateY_Only_BBoxes", 0.4, 6)),
        (("Rotate_BBox", 0.8, 10), ("Contrast", 0.0, 10)),
        (("Cutout", 0.2, 2), ("Brightness", 0.8, 10)),
        (("Color", 1.0, 6), ("Equalize", 1.0, 2)),
        (("Cutout_Only_BBoxes", 0.4, 6), ("TranslateY_Only_BBoxes", 0.8, 2)),
        (("Color", 0.2, 8), ("Rotate_BBox", 0.8, 10)),
        (("Sharpness", 0.4, 4), ("TranslateY_Only_BBoxes", 0.0, 4)),
        (("Sharpness", 1.0, 4), ("SolarizeAdd", 0.4, 4)),
        (("Rotate_BBox", 1.0, 8), ("Sharpness", 0.2, 8)),
        (("ShearY_BBox", 0.6, 10), ("Equalize_Only_BBoxes", 0.6, 8)),
        (("ShearX_BBox", 0.2, 6), ("TranslateY_Only_BBoxes", 0.2, 10)),
        (("SolarizeAdd", 0.6, 8), ("Brightness", 0.8, 10)),
    ),
    "v2": _policy(
        (("Color", 0.0, 6), ("Cutout", 0.6, 8), ("Sharpness", 0.4, 8)),
        (("Rotate_BBox", 0.4, 8), ("Sharpness", 0.4, 2), ("Rotate_BBox", 0.8, 10)),
        (("TranslateY_BBox", 1.0, 8), ("AutoContrast", 0.8, 2)),
        (("AutoContrast", 0.4, 6), ("ShearX_BBox", 0.8, 8), ("Brightness", 0.0, 10)),
        (("SolarizeAdd", 0.2, 6), ("Contrast", 0.0, 10), ("AutoContrast", 0.6, 0)),
        (("Cutout", 0.2, 0), ("Solarize", 0.8, 8), ("Color", 1.0, 4)),
        (("TranslateY_BBox", 0.0, 4), ("Equalize", 0.6, 8), ("Solarize", 0.0, 10)),
        (("TranslateY_BBox", 0.2, 2), ("ShearY_BBox", 0.8, 8), ("Rotate_BBox", 0.8, 8)),
        (("Cutout", 0.8, 8), ("Brightness", 0.8, 8), ("Cutout", 0.2, 2)),
        (("Color", 0.8, 4), ("TranslateY_BBox", 1.0, 6), ("Rotate_BBox", 0.6, 6)),
        (("Rotate_BBox", 0.6, 10), ("BBox_Cutout", 1.0, 4), ("Cutout", 0.2, 8)),
        (("Rotate_BBox", 0.0, 0), ("Equalize", 0.6, 6), ("ShearY_BBox", 0.6, 8)),
        (("Brightness", 0.8, 8), ("AutoContrast", 0.4, 2), ("Brightness", 0.2, 2)),
        (("TranslateY_BBox", 0.4, 8), ("Solarize", 0.4, 6), ("SolarizeAdd", 0.2, 10)),
        (("Contrast", 1.0, 10), ("SolarizeAdd", 0.2, 8), ("Equalize", 0.2, 4)),
    ),
    "v3": _policy(
        (("Posterize", 0.8, 2), ("TranslateX_BBox", 1.0, 8)),
        (("BBox_Cutout", 0.2, 10), ("Sharpness", 1.0, 8)),
        (("Rotate_BBox", 0.6, 8), ("Rotate_BBox", 0.8, 10)),
        (("Equalize", 0.8, 10), ("AutoContrast", 0.2, 10)),
        (("SolarizeAdd", 0.2, 2), ("TranslateY_BBox", 0.2, 8)),
        (("Sharpness", 0.0, 2), ("Color", 0.4, 8)),
        (("Equalize", 1.0, 8), ("TranslateY_BBox", 1.0, 8)),
        (("Posterize", 0.6, 2), ("Rotate_BBox", 0.0, 10)),
        (("AutoContrast", 0.6, 0), ("Rotate_BBox", 1.0, 6)),
        (("Equalize", 0.0, 4), ("Cutout", 0.8, 10)),
        (("Brightness", 1.0, 2), ("TranslateY_BBox", 1.0, 6)),
        (("Contrast", 0.0, 2), ("ShearY_BBox", 0.8, 0)),
        (("AutoContrast", 0.8, 10), ("Contrast", 0.2, 10)),
        (("Rotate_BBox", 1.0, 10), ("Cutout", 1.0, 10)),
        (("SolarizeAdd", 0.8, 6), ("Equalize", 0.8, 8)),
    ),
    "hflip": _policy((("Flip", 0.5, 0),)),
}
"""Policy name -> sub-policies. v0 (the paper's), v1 (v0 plus 15), v2 (mostly three operations
per sub-policy) and v3 as in ``autoaugment_utils.py``; "hflip": torchvision's detection
recipe (a horizontal flip with probability 0.5). The study trained on v3."""
ZOPH_POLICIES = ("v0", "v1", "v2", "v3")

SubPolicies = Sequence[Sequence[Operation]]


def _tensors(image: np.ndarray, boxes: np.ndarray) -> tuple[Image, Boxes]:
    height, width = image.shape[:2]
    pixels = Image(torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1))  # a copy
    box_data = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
    return pixels, Boxes(box_data, format="XYXY", canvas_size=(height, width))


class PolicyAugmenter:
    """Apply one drawn sub-policy of a policy to an image and its boxes.

    ``study_boxes=True`` REPRODUCES THE STUDY'S BUG on purpose: the transformed image comes back
    with the ORIGINAL boxes and labels (the study's ``__getitem__`` discarded the moved boxes,
    so every geometric operation trained on misplaced boxes). Use it only to reproduce the
    study; the default moves, clips and drops the boxes with the pixels.
    """

    def __init__(self, policy: str | SubPolicies = "v3", *, study_boxes: bool = False) -> None:
        if isinstance(policy, str):
            if policy not in POLICIES:
                raise ValueError(f"Unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
            policy = POLICIES[policy]
        unknown = sorted({op.name for sub in policy for op in sub} - set(OPERATIONS))
        if unknown:
            raise ValueError(f"Unknown operation(s) {', '.join(unknown)}")
        self.sub_policies = tuple(tuple(sub) for sub in policy)
        self.study_boxes = study_boxes
        self._clamp = v2.ClampBoundingBoxes()
        self._sanitize = v2.SanitizeBoundingBoxes(labels_getter=lambda sample: sample[1]["labels"])

    def draw(self, generator: torch.Generator) -> Draw:
        """The sub-policy (uniform) and, for each of its operations, whether it applies
        (probability; "Only_BBoxes" ones always, drawn per box later) and its sign."""
        index = _integer(len(self.sub_policies), generator)
        steps = []
        for operation in self.sub_policies[index]:
            spec = OPERATIONS[operation.name]
            if not spec.per_box and _uniform(generator) >= operation.probability:
                continue
            magnitude = spec.magnitude(operation.level)
            if spec.signed and _uniform(generator) < 0.5:
                magnitude = -magnitude
            steps.append(Step(operation, magnitude))
        return Draw(index, tuple(steps))

    def apply(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        labels: tuple[str, ...],
        draw: Draw,
        generator: torch.Generator,
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """Run ``draw``'s steps in order; boxes clipped to the image, degenerate ones (under one
        pixel wide or high) dropped with their labels (``study_boxes``: the originals kept)."""
        pixels, moved = _tensors(image, boxes)
        for step in draw.steps:
            pixels, moved = OPERATIONS[step.operation.name].apply(pixels, moved, step, generator)
        result = pixels.permute(1, 2, 0).contiguous().numpy()
        if self.study_boxes:
            return result, np.asarray(boxes, dtype=np.float32).reshape(-1, 4), tuple(labels)
        indices = torch.arange(len(labels))
        _, kept = self._sanitize((pixels, {"boxes": self._clamp(moved), "labels": indices}))
        out_boxes = kept["boxes"].as_subclass(torch.Tensor).numpy().astype(np.float32)
        return result, out_boxes.reshape(-1, 4), tuple(labels[int(k)] for k in kept["labels"])

    def __call__(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        labels: tuple[str, ...],
        generator: torch.Generator,
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """uint8 H×W×3 image, (N, 4) float32 x1 y1 x2 y2 pixel boxes, N labels -> the same."""
        return self.apply(image, boxes, labels, self.draw(generator), generator)
