"""Tests only: ``saliency_core.data.annotations`` (SPEC16 §A, another branch) or, until it is
merged, a minimal stand-in of its names that the mAP tests use, installed under its module name.
Delete this file once the real module is on main (the tests then import it directly)."""

from __future__ import annotations

import sys
import types
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from saliency_core.data import annotations
except ImportError:

    @dataclass(frozen=True)
    class Annotation:
        stem: str
        image: Path
        width: int
        height: int
        boxes: np.ndarray
        labels: tuple[str, ...]
        difficult: tuple[bool, ...]

    @dataclass(frozen=True)
    class DetectionDataset:
        root: Path
        layout: str
        classes: tuple[str, ...]
        annotations: dict[str, Annotation]
        splits: dict[str, tuple[str, ...]]
        notices: tuple[str, ...]

        def split(self, name: str) -> list[Annotation]:
            if name not in self.splits:
                raise ValueError(
                    f"{self.root}: no split {name!r}; splits: {', '.join(self.splits)}"
                )
            return [self.annotations[stem] for stem in self.splits[name]]

        def summary(self) -> dict[str, object]:
            return {
                "images": len(self.annotations),
                "boxes": sum(len(a.labels) for a in self.annotations.values()),
                "notices": list(self.notices),
            }

    def _annotation(root: Path, stem: str) -> Annotation:
        tree = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
        objects = tree.findall("object")
        box = [[float(o.find("bndbox").find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
               for o in objects]  # fmt: skip
        return Annotation(
            stem,
            root / "JPEGImages" / tree.findtext("filename"),
            int(tree.find("size").findtext("width")),
            int(tree.find("size").findtext("height")),
            np.array(box, np.float32).reshape(-1, 4),
            tuple(o.findtext("name") for o in objects),
            tuple(o.findtext("difficult") == "1" for o in objects),
        )

    def read_detection_dataset(root: str | Path) -> DetectionDataset:
        root = Path(root)
        if not (root / "Annotations").is_dir():
            raise ValueError(f"{root}: no Annotations/ folder")
        stems = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
        found = {stem: _annotation(root, stem) for stem in stems}
        classes = tuple(sorted({n for a in found.values() for n in a.labels}))
        splits = {
            p.stem: tuple(p.read_text().split()) for p in (root / "ImageSets/Main").glob("*.txt")
        }
        return DetectionDataset(root, "voc", classes, found, splits, ())

    annotations = types.ModuleType("saliency_core.data.annotations")
    annotations.Annotation = Annotation
    annotations.DetectionDataset = DetectionDataset
    annotations.read_detection_dataset = read_detection_dataset
    sys.modules[annotations.__name__] = annotations

Annotation = annotations.Annotation
DetectionDataset = annotations.DetectionDataset
read_detection_dataset = annotations.read_detection_dataset


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
