"""Tests only: a tiny PASCAL VOC folder written by hand (images, XML, the test split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_voc(
    root: Path, images: dict[str, tuple[tuple[int, int], list[tuple[str, tuple[int, ...]]]]]
) -> Path:
    """A tiny VOC folder: ``images`` maps stem -> ((width, height), [(class, box)]); every stem
    is in the "test" split. The images are grey with each box painted a flat colour."""
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for stem, ((width, height), objects) in images.items():
        rgb = np.full((height, width, 3), 90, np.uint8)
        xml = [f"<annotation><filename>{stem}.png</filename>"]
        xml.append(f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>")
        for name, (x1, y1, x2, y2) in objects:
            rgb[y1:y2, x1:x2] = (230, 40, 40)
            xml.append(
                f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin>"
                f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            )
        Image.fromarray(rgb).save(root / "JPEGImages" / f"{stem}.png")
        (root / "Annotations" / f"{stem}.xml").write_text("".join(xml) + "</annotation>")
    (root / "ImageSets/Main/test.txt").write_text("\n".join(images) + "\n")
    return root
