"""A synthetic PASCAL VOC dataset: coloured shapes with tight boxes and attention masks.

Used by the tests, the training benchmark and the GPU proof run: each image holds 1–3 shapes
("square" red, "disc" green, "triangle" blue), one per cell of a 2×2 grid (so they never overlap),
on a light, mildly noisy background. Deterministic per seed (one :class:`numpy.random.Generator`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from saliency_core.data.annotations import Annotation

SHAPES: dict[str, tuple[int, int, int]] = {
    "square": (200, 40, 40),
    "disc": (40, 170, 60),
    "triangle": (50, 70, 210),
}
"""Class name -> RGB colour."""
GRID = 2
"""Cells per side; one shape at most per cell."""
SIDE_RANGE = (0.4, 0.9)
"""A shape's side as a fraction of its cell's side."""
VAL_SHARE = 0.2
"""Share of the unmasked images in the ``val`` split (the rest: ``train``)."""
JPEG_QUALITY = 95


def _square(canvas: np.ndarray, x: int, y: int, side: int) -> None:
    cv2.rectangle(canvas, (x, y), (x + side - 1, y + side - 1), 255, thickness=-1)


def _disc(canvas: np.ndarray, x: int, y: int, side: int) -> None:
    radius = (side - 1) // 2
    cv2.circle(canvas, (x + radius, y + radius), radius, 255, thickness=-1)


def _triangle(canvas: np.ndarray, x: int, y: int, side: int) -> None:
    corners = np.array([[x, y + side - 1], [x + side - 1, y + side - 1], [x + side // 2, y]])
    cv2.fillPoly(canvas, [corners.astype(np.int32)], 255)


DRAW: dict[str, Callable[[np.ndarray, int, int, int], None]] = {
    "square": _square,
    "disc": _disc,
    "triangle": _triangle,
}
"""Class name -> draws the filled shape (255) on a uint8 canvas, in the square (x, y, side)."""


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A light grey-ish RGB background with smooth noise: Gaussian noise (σ = 12 grey levels)
    drawn at a quarter of the resolution and upscaled bilinearly (cheap, mildly textured)."""
    base = rng.integers(170, 235, size=3).astype(np.float32)
    coarse = max(1, size // 4)
    noise = rng.standard_normal((coarse, coarse, 3), dtype=np.float32) * 12.0
    noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def draw_image(
    rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """(RGB image, boxes (N, 4) float32 x1 y1 x2 y2 tight around the drawn pixels (x2, y2
    exclusive), labels, union of the shapes (uint8 0/255))."""
    rgb = _background(rng, size)
    cell = size // GRID
    union = np.zeros((size, size), np.uint8)
    boxes, labels = [], []
    names = list(SHAPES)
    cells = rng.permutation(GRID * GRID)[: rng.integers(1, 4)]
    for index in cells:
        name = names[rng.integers(len(names))]
        side = int(cell * rng.uniform(*SIDE_RANGE))
        x = int(index % GRID * cell + rng.integers(0, cell - side + 1))
        y = int(index // GRID * cell + rng.integers(0, cell - side + 1))
        shape = np.zeros_like(union)
        DRAW[name](shape, x, y, side)
        left, top, width, height = cv2.boundingRect(shape)
        rgb[shape > 0] = SHAPES[name]
        union |= shape
        boxes.append((left, top, left + width, top + height))
        labels.append(name)
    return rgb, np.array(boxes, np.float32).reshape(-1, 4), tuple(labels), union


def _coordinate(value: float) -> str:
    return f"{value:g}"


def write_voc_xml(path: str | Path, annotation: Annotation) -> None:
    """``annotation`` as a PASCAL VOC XML file (one element per line: notices' line numbers
    point somewhere meaningful). Boxes are written as given, valid or not (tests write bad ones)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "synthetic"
    ET.SubElement(root, "filename").text = annotation.image.name
    size = ET.SubElement(root, "size")
    for tag, value in (("width", annotation.width), ("height", annotation.height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for box, label, difficult in zip(
        annotation.boxes, annotation.labels, annotation.difficult, strict=True
    ):
        element = ET.SubElement(root, "object")
        ET.SubElement(element, "name").text = label
        ET.SubElement(element, "pose").text = "Unspecified"
        ET.SubElement(element, "truncated").text = "0"
        ET.SubElement(element, "difficult").text = str(int(difficult))
        bndbox = ET.SubElement(element, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bndbox, tag).text = _coordinate(float(value))
    ET.indent(root)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8") + b"\n")


def _split_stems(rng: np.random.Generator, stems: list[str], n_masked: int) -> dict[str, list[str]]:
    """``n_masked`` random stems are ``test``; of the rest, ``VAL_SHARE`` ``val``, the others
    ``train``; ``trainval`` = train ∪ val. Each list sorted."""
    order = [stems[i] for i in rng.permutation(len(stems))]
    test, rest = order[:n_masked], order[n_masked:]
    n_val = round(len(rest) * VAL_SHARE)
    splits = {"train": rest[n_val:], "val": rest[:n_val], "test": test, "trainval": rest}
    return {name: sorted(chosen) for name, chosen in splits.items()}


def write_synthetic_voc(
    root: str | Path, n_images: int = 24, size: int = 96, seed: int = 0, n_masked: int = 6
) -> Path:
    """Write the dataset under ``root`` (``JPEGImages/``, ``Annotations/``, ``ImageSets/Main/``
    train/val/test/trainval, and ``masks/<stem>.png`` for the ``n_masked`` test images: the
    shapes' area, Gaussian-blurred with σ = size/32 px); returns ``root``."""
    if not 0 <= n_masked <= n_images:
        raise ValueError(f"n_masked must lie in 0..n_images ({n_images}), not {n_masked}.")
    root = Path(root)
    names = ("JPEGImages", "Annotations", "masks") if n_masked else ("JPEGImages", "Annotations")
    folders = {name: root / name for name in names}
    for folder in (*folders.values(), root / "ImageSets" / "Main"):
        folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    stems = [f"synth_{index:05d}" for index in range(n_images)]
    splits = _split_stems(rng, stems, n_masked)
    masked = set(splits["test"])
    for stem in stems:
        rgb, boxes, labels, union = draw_image(rng, size)
        image = folders["JPEGImages"] / f"{stem}.jpg"
        cv2.imwrite(str(image), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        annotation = Annotation(stem, image, size, size, boxes, labels, (False,) * len(labels))
        write_voc_xml(folders["Annotations"] / f"{stem}.xml", annotation)
        if stem in masked:
            mask = cv2.GaussianBlur(union, (0, 0), sigmaX=size / 32)
            cv2.imwrite(str(folders["masks"] / f"{stem}.png"), mask)
    for name, chosen in splits.items():
        text = "".join(f"{stem}\n" for stem in chosen)
        (root / "ImageSets" / "Main" / f"{name}.txt").write_text(text)
    return root
