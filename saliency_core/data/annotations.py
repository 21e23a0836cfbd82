"""Detection datasets: PASCAL VOC folders and COCO JSON files, read into boxes per image.

A VOC folder holds ``JPEGImages/``, ``Annotations/<stem>.xml`` and ``ImageSets/Main/{train,val,
test,trainval}.txt``; a COCO dataset is one annotation JSON (``images``, ``annotations`` with
``bbox`` = x, y, width, height in pixels, ``categories``) plus its images folder. Boxes come out as
``x1 y1 x2 y2`` pixels (float32). Nothing is dropped silently: a box outside its image is clipped,
an object with an empty box or an unknown class is skipped, an image that cannot be used is
skipped, each with a notice naming the file (and, for VOC, the line of the ``<object>``), and
:meth:`DetectionDataset.summary` counts them all.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.parsers import expat

import numpy as np

from saliency_core.data.datasets import MASK_SUFFIXES
from saliency_core.data.images import ACCEPTED_SUFFIXES, ImageLoadError, image_size

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""The 20 PASCAL VOC class names in VOC order."""
SPLITS = ("train", "val", "test", "trainval")
"""The VOC split files read from ``ImageSets/Main/``."""
ALL = "all"
"""The split every dataset has: every image read (sorted stems)."""
SHOWN = 5
"""How many stems a notice about many images names before "…"."""


class AnnotationError(ValueError):
    """A dataset or annotation file that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True, eq=False)
class Annotation:
    """One image's boxes: ``boxes`` (N, 4) float32 x1 y1 x2 y2 in pixels, clipped to the image;
    ``labels`` and ``difficult`` one per box (``difficult``: VOC's flag, COCO's ``iscrowd``)."""

    stem: str
    image: Path
    width: int
    height: int
    boxes: np.ndarray
    labels: tuple[str, ...]
    difficult: tuple[bool, ...]


@dataclass(frozen=True)
class DetectionDataset:
    """Annotations by stem, the class list, the splits and the notices of what was changed or
    left out (``tallies``: those counts, for :meth:`summary`)."""

    root: Path
    layout: str
    classes: tuple[str, ...]
    annotations: dict[str, Annotation]
    splits: dict[str, tuple[str, ...]]
    notices: tuple[str, ...]
    tallies: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> list[Annotation]:
        """The annotations of split ``name``; ValueError naming the known splits otherwise."""
        if name not in self.splits:
            known = ", ".join(sorted(self.splits))
            raise ValueError(f"No split {name!r} in {self.root}; known splits: {known}.")
        return [self.annotations[stem] for stem in self.splits[name]]

    def summary(self) -> dict[str, object]:
        """What was read, as plain JSON-ready values (a manifest's data summary).

        ``images``: images kept (``negatives`` of them without boxes); ``boxes`` and
        ``boxes_per_class``; ``skipped_objects``, ``clipped_boxes``, ``skipped_images`` (a file
        that could not be used), ``negatives_skipped`` (``keep_negatives=False``),
        ``unannotated_images`` (image files without an annotation); ``splits``: images per split.
        """
        per_class = Counter(label for a in self.annotations.values() for label in a.labels)
        counts = {name: int(self.tallies.get(name, 0)) for name in TALLIES}
        return {
            "layout": self.layout,
            "root": str(self.root),
            "classes": list(self.classes),
            "images": len(self.annotations),
            "boxes": sum(per_class.values()),
            "boxes_per_class": {name: per_class.get(name, 0) for name in self.classes},
            "negatives": sum(1 for a in self.annotations.values() if not a.labels),
            "difficult": sum(sum(a.difficult) for a in self.annotations.values()),
            **counts,
            "splits": {name: len(stems) for name, stems in sorted(self.splits.items())},
            "notices": list(self.notices),
        }


TALLIES = (
    "skipped_objects",
    "clipped_boxes",
    "skipped_images",
    "negatives_skipped",
    "unannotated_images",
)
"""The counts :class:`DetectionDataset` keeps beside its notices."""


@dataclass(frozen=True)
class RawObject:
    """An object as written in the file, before checks: ``where`` names file and line."""

    where: str
    name: str
    box: tuple[float, float, float, float] | None
    difficult: bool
    problem: str = ""


@dataclass(frozen=True)
class RawImage:
    """An image as written in the file, before checks (``image`` None: no image file found)."""

    stem: str
    where: str
    image: Path | None
    size: tuple[int, int] | None
    objects: tuple[RawObject, ...]


@dataclass
class _Collector:
    """Turns raw images into :class:`Annotation`s, counting and noting what it changes."""

    known: frozenset[str] | None
    keep_negatives: bool
    notices: list[str] = field(default_factory=list)
    tallies: Counter = field(default_factory=Counter)

    def skip_image(self, notice: str) -> None:
        self.notices.append(notice)
        self.tallies["skipped_images"] += 1

    def annotation(self, raw: RawImage) -> Annotation | None:
        if raw.image is None:
            self.skip_image(f"{raw.where}: image file for {raw.stem!r} not found; image skipped.")
            return None
        try:
            height, width = raw.size or image_size(raw.image)
        except (ImageLoadError, OSError) as error:
            self.skip_image(f"{raw.where}: no size and image unreadable ({error}); image skipped.")
            return None
        kept = [o for o in raw.objects if self._usable(o)]
        boxes = [self._clipped(o, width, height) for o in kept]
        pairs = [(o, b) for o, b in zip(kept, boxes, strict=True) if b is not None]
        if not pairs and not self.keep_negatives:
            self.notices.append(f"{raw.where}: no boxes; image skipped (keep_negatives=False).")
            self.tallies["negatives_skipped"] += 1
            return None
        return Annotation(
            raw.stem,
            raw.image,
            width,
            height,
            np.array([b for _, b in pairs], dtype=np.float32).reshape(-1, 4),
            tuple(o.name for o, _ in pairs),
            tuple(o.difficult for o, _ in pairs),
        )

    def _skip_object(self, obj: RawObject, why: str) -> bool:
        self.notices.append(f"{obj.where}: {why}; object skipped.")
        self.tallies["skipped_objects"] += 1
        return False

    def _usable(self, obj: RawObject) -> bool:
        if obj.problem or obj.box is None:
            return self._skip_object(obj, obj.problem or "no box")
        if self.known is not None and obj.name not in self.known:
            return self._skip_object(obj, "class not in the given classes")
        if not np.isfinite(obj.box).all():
            return self._skip_object(obj, f"box {_fmt(obj.box)} is not finite")
        x1, y1, x2, y2 = obj.box
        if x2 <= x1 or y2 <= y1:
            return self._skip_object(obj, f"empty box {_fmt(obj.box)}: x2 ≤ x1 or y2 ≤ y1")
        return True

    def _clipped(self, obj: RawObject, width: int, height: int) -> tuple[float, ...] | None:
        """The box clipped to the image (notice), None when nothing is left (skipped)."""
        box = obj.box
        clipped = tuple(
            float(np.clip(v, 0, limit)) for v, limit in zip(box, (width, height) * 2, strict=True)
        )
        if clipped == box:
            return box
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            self._skip_object(obj, f"box {_fmt(box)} lies outside the {width}×{height} image")
            return None
        self.notices.append(
            f"{obj.where}: box {_fmt(box)} outside the {width}×{height} image; "
            f"clipped to {_fmt(clipped)}."
        )
        self.tallies["clipped_boxes"] += 1
        return clipped


def _fmt(box: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"


def _class_list(given: Sequence[str] | None, names: Sequence[str]) -> tuple[str, ...]:
    """``given``, else VOC_CLASSES when every name is VOC's, else ``names`` (the data's order)."""
    if given is not None:
        return tuple(given)
    return VOC_CLASSES if names and set(names) <= set(VOC_CLASSES) else tuple(names)


def _collect(raws: Iterable[RawImage], collector: _Collector) -> dict[str, Annotation]:
    """The usable annotations by stem (sorted); a second image of the same stem is skipped."""
    annotations: dict[str, Annotation] = {}
    for raw in raws:
        if raw.stem in annotations:
            collector.skip_image(f"{raw.where}: a second image named {raw.stem!r}; skipped.")
            continue
        annotation = collector.annotation(raw)
        if annotation is not None:
            annotations[raw.stem] = annotation
    return dict(sorted(annotations.items()))


def _dataset(
    root: Path,
    layout: str,
    classes: tuple[str, ...],
    annotations: dict[str, Annotation],
    splits: dict[str, tuple[str, ...]],
    collector: _Collector,
) -> DetectionDataset:
    return DetectionDataset(
        root,
        layout,
        classes,
        annotations,
        {ALL: tuple(annotations), **splits},
        tuple(collector.notices),
        {name: collector.tallies[name] for name in TALLIES},
    )


# --- PASCAL VOC ---------------------------------------------------------------------------


def _object_lines(data: bytes) -> list[int]:
    """The line of every top-level ``<object>`` element, in document order (expat, which keeps
    line numbers; ElementTree's tree does not)."""
    lines: list[int] = []
    depth = 0
    parser = expat.ParserCreate()

    def start(name: str, _attributes: dict) -> None:
        nonlocal depth
        depth += 1
        if depth == 2 and name == "object":
            lines.append(parser.CurrentLineNumber)

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return lines


def _number(element: ET.Element | None, tag: str) -> float:
    text = None if element is None else element.findtext(tag)
    if text is None:
        raise ValueError(f"no <{tag}>")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"<{tag}> is {text.strip()!r}, not a number") from None


def _voc_object(element: ET.Element, where: str) -> RawObject:
    name = (element.findtext("name") or "").strip()
    difficult = (element.findtext("difficult") or "0").strip() == "1"
    if not name:
        return RawObject(where, name, None, difficult, "no <name>")
    where = f"{where} {name!r}"
    try:
        box = tuple(_number(element.find("bndbox"), t) for t in ("xmin", "ymin", "xmax", "ymax"))
    except ValueError as error:
        return RawObject(where, name, None, difficult, f"bad <bndbox> ({error})")
    return RawObject(where, name, box, difficult)


def _voc_size(root: ET.Element) -> tuple[int, int] | None:
    """(height, width) from ``<size>``, None when missing or unusable (the image's header is
    read instead)."""
    try:
        height, width = (int(_number(root.find("size"), t)) for t in ("height", "width"))
    except (ValueError, OverflowError):
        return None
    return (height, width) if height > 0 and width > 0 else None


def _find_image(folder: Path, stem: str | None, filename: str | None) -> Path | None:
    """``folder/<filename>`` (its name only: never outside ``folder``), else ``<stem>.<suffix>``."""
    names = [Path(filename).name] if filename else []
    if stem:
        names += [stem + suffix for s in ACCEPTED_SUFFIXES for suffix in (s, s.upper())]
    return next((folder / n for n in names if (folder / n).is_file()), None)


def read_voc_xml(path: Path, images: Path, label: str | None = None) -> RawImage:
    """One VOC annotation file as written; AnnotationError (file:line:column) when malformed."""
    label = label or path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(f"{label}: cannot be read ({error.strerror})") from None
    raw, filename = _parse_voc(data, label, path.stem)
    return replace(raw, image=_find_image(images, path.stem, filename))


def read_voc_annotation(
    data: bytes, label: str, image: Path, size: tuple[int, int]
) -> tuple[Annotation, list[str]]:
    """One VOC annotation given as bytes (an upload) for ``image`` of ``size`` (H, W) when the
    XML has no ``<size>``: the checked :class:`Annotation` (boxes clipped, bad objects skipped)
    and the notices naming ``label`` and the line of what changed. AnnotationError when
    malformed."""
    raw, _ = _parse_voc(data, label, Path(label).stem)
    collector = _Collector(known=None, keep_negatives=True)
    annotation = collector.annotation(replace(raw, image=image, size=raw.size or size))
    assert annotation is not None  # an image and negatives kept: never skipped
    return annotation, collector.notices


def _parse_voc(data: bytes, label: str, stem: str) -> tuple[RawImage, str | None]:
    """The raw image (no image file looked up) and its ``<filename>`` of VOC XML ``data``."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        line, column = error.position  # expat's column counts from 0; editors' from 1
        reason = expat.ErrorString(error.code)
        raise AnnotationError(f"{label}:{line}:{column + 1}: malformed XML ({reason})") from None
    lines = _object_lines(data)
    objects = tuple(
        _voc_object(element, f"{label}:{line}: object {index}")
        for index, (element, line) in enumerate(
            zip(root.findall("object"), lines, strict=True), start=1
        )
    )
    filename = (root.findtext("filename") or "").strip() or None
    return RawImage(stem, label, None, _voc_size(root), objects), filename


def _read_split_files(folder: Path, annotated: set[str]) -> tuple[dict, list[str]]:
    """The split files of ``ImageSets/Main`` (stems without a kept annotation left out, with a
    notice), trainval derived as train ∪ val when its file is missing."""
    splits: dict[str, tuple[str, ...]] = {}
    notices: list[str] = []
    if not folder.is_dir():
        return {}, ["ImageSets/Main/ missing: no split files; only the 'all' split."]
    for name in SPLITS:
        path = folder / f"{name}.txt"
        if not path.is_file():
            continue
        listed = dict.fromkeys(
            line.split()[0] for line in path.read_text().splitlines() if line.strip()
        )
        missing = [stem for stem in listed if stem not in annotated]
        if missing:
            notices.append(
                f"ImageSets/Main/{name}.txt: {len(missing)} listed images without a usable "
                f"annotation left out ({_names(missing)})."
            )
        splits[name] = tuple(stem for stem in listed if stem in annotated)
    if "trainval" not in splits and ("train" in splits or "val" in splits):
        merged = dict.fromkeys((*splits.get("train", ()), *splits.get("val", ())))
        splits["trainval"] = tuple(merged)
        notices.append("ImageSets/Main/trainval.txt missing: derived as train ∪ val.")
    notices += [
        f"ImageSets/Main/{n}.txt missing: no {n!r} split." for n in SPLITS if n not in splits
    ]
    return splits, notices


def _names(stems: Sequence[str]) -> str:
    shown = ", ".join(stems[:SHOWN])
    return shown + (", …" if len(stems) > SHOWN else "")


def _unannotated(images: Path, stems: set[str]) -> list[str]:
    return sorted(
        p.stem
        for p in images.iterdir()
        if p.suffix.lower() in ACCEPTED_SUFFIXES and p.stem not in stems
    )


def _voc_raws(folder: Path, images: Path, collector: _Collector) -> list[RawImage]:
    """Every ``Annotations/*.xml`` as written; a file that cannot be read skips its image."""
    raws = []
    for path in sorted(folder.glob("*.xml")):
        try:
            raws.append(read_voc_xml(path, images, f"Annotations/{path.name}"))
        except AnnotationError as error:
            collector.skip_image(f"{error}; image skipped.")
    return raws


def read_voc(
    root: str | Path, *, classes: Sequence[str] | None = None, keep_negatives: bool = True
) -> DetectionDataset:
    """A PASCAL VOC folder. A malformed XML file, or one whose image is missing, skips that image
    with a notice; ``classes`` given: objects of other classes are skipped (with a notice); image
    files without an annotation file are counted in one notice."""
    root = Path(root)
    folder, images = root / "Annotations", root / "JPEGImages"
    for needed in (folder, images):
        if not needed.is_dir():
            raise AnnotationError(
                f"{root}: no {needed.name}/ folder (PASCAL VOC layout: JPEGImages/, "
                "Annotations/, ImageSets/Main/)."
            )
    collector = _Collector(None if classes is None else frozenset(classes), keep_negatives)
    raws = _voc_raws(folder, images, collector)
    annotations = _collect(raws, collector)
    loose = _unannotated(images, {p.stem for p in folder.glob("*.xml")})
    if loose:
        collector.notices.append(
            f"JPEGImages/: {len(loose)} images without an annotation file left out "
            f"({_names(loose)})."
        )
        collector.tallies["unannotated_images"] = len(loose)
    splits, notices = _read_split_files(root / "ImageSets" / "Main", set(annotations))
    collector.notices += notices
    names = sorted({o.name for raw in raws for o in raw.objects if o.name})
    return _dataset(root, "voc", _class_list(classes, names), annotations, splits, collector)


# --- COCO ---------------------------------------------------------------------------------


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise AnnotationError(
            f"{path.name}:{error.lineno}:{error.colno}: malformed JSON ({error.msg})"
        ) from None
    except OSError as error:
        raise AnnotationError(f"{path.name}: cannot be read ({error.strerror})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(f"{path.name}: not a COCO annotation file (no 'images' list)")
    return data


def _coco_object(entry: dict, names: dict, where: str) -> RawObject:
    name = names.get(entry.get("category_id"))
    crowd = bool(entry.get("iscrowd", 0))
    if name is None:
        return RawObject(where, "", None, crowd, f"unknown category_id {entry.get('category_id')}")
    where = f"{where} {name!r}"
    try:
        x, y, w, h = (float(v) for v in entry["bbox"])
    except (KeyError, TypeError, ValueError):
        return RawObject(where, name, None, crowd, f"bad bbox {entry.get('bbox')!r}")
    return RawObject(where, name, (x, y, x + w, y + h), crowd)


def _coco_raws(data: dict, label: str, images_dir: Path, collector: _Collector) -> list[RawImage]:
    """One raw image per usable ``images`` entry with its ``annotations``; an annotation of an
    unknown image, or an image entry without id/file_name, is skipped with a notice."""
    names = {c["id"]: str(c.get("name", c["id"])) for c in _categories(data)}
    entries: dict = {}
    for entry in data["images"]:
        try:
            entries[entry["id"]] = (
                str(entry["file_name"]),
                int(entry.get("height", 0)),
                int(entry.get("width", 0)),
            )
        except (KeyError, TypeError, ValueError):
            collector.skip_image(
                f"{label}: image entry {str(entry)[:60]} has no usable " "id/file_name; skipped."
            )
    objects: dict = {key: [] for key in entries}
    for entry in data.get("annotations", []):
        if not isinstance(entry, dict):
            entry = {"id": f"{str(entry)[:40]!r} (not an object)"}
        where = f"{label}: annotation id {entry.get('id')}"
        if entry.get("image_id") in objects:
            objects[entry["image_id"]].append(_coco_object(entry, names, where))
        else:
            collector.notices.append(
                f"{where}: unknown image_id {entry.get('image_id')}; object skipped."
            )
            collector.tallies["skipped_objects"] += 1
    return [
        RawImage(
            Path(file_name).stem,
            f"{label}: image {key} ({file_name})",
            _find_image(images_dir, None, file_name),
            (height, width) if height > 0 and width > 0 else None,
            tuple(objects[key]),
        )
        for key, (file_name, height, width) in entries.items()
    ]


def _categories(data: dict) -> list[dict]:
    """The JSON's categories in id order."""
    found = [c for c in data.get("categories", []) if isinstance(c, dict) and "id" in c]
    return sorted(found, key=lambda c: c["id"])


def read_coco(
    annotation_json: str | Path,
    images_dir: str | Path,
    *,
    classes: Sequence[str] | None = None,
    keep_negatives: bool = True,
    root: str | Path | None = None,
) -> DetectionDataset:
    """A COCO annotation file over ``images_dir``: ``bbox`` x, y, w, h becomes x1 y1 x2 y2 =
    (x, y, x + w, y + h); ``iscrowd`` becomes ``difficult``; class names from ``categories`` in id
    order. Notices name the file and the annotation id (JSON keeps no line per annotation).
    Splits: ``all``, and ``train``/``val``/``test`` when the file's name says which
    (``instances_val2017.json`` -> ``val``). ``root``: the dataset folder (where ``masks/`` is
    looked for; default: the JSON's folder)."""
    path, images_dir = Path(annotation_json), Path(images_dir)
    data = _load_json(path)
    collector = _Collector(None if classes is None else frozenset(classes), keep_negatives)
    annotations = _collect(_coco_raws(data, path.name, images_dir, collector), collector)
    named = [s for s in ("train", "val", "test") if s in path.stem.lower()]
    splits = {named[0]: tuple(annotations)} if named else {}
    names = [str(c.get("name", c["id"])) for c in _categories(data)]
    root = Path(root) if root is not None else path.parent
    return _dataset(root, "coco", _class_list(classes, names), annotations, splits, collector)


def read_detection_dataset(root: str | Path) -> DetectionDataset:
    """A VOC folder (``Annotations/``), or a folder with one COCO JSON (in it or in
    ``annotations/``) and its images in ``images/`` or ``JPEGImages/`` (else the folder itself)."""
    root = Path(root)
    if (root / "Annotations").is_dir():
        return read_voc(root)
    files = sorted([*root.glob("*.json"), *root.glob("annotations/*.json")])
    if len(files) != 1:
        found = ", ".join(str(f.relative_to(root)) for f in files) or "none"
        raise AnnotationError(
            f"{root}: neither a VOC folder (no Annotations/) nor one COCO JSON "
            f"(found: {found}); read_coco(file, images_dir) reads a chosen one."
        )
    images = next((root / n for n in ("images", "JPEGImages") if (root / n).is_dir()), root)
    return read_coco(files[0], images, root=root)


def study_split(dataset: DetectionDataset) -> dict[str, tuple[str, ...]]:
    """The study's split: every image with a human attention mask (``root/masks/<stem>.*``) is
    ``test``, the rest ``train`` (STUDY_PROTOCOL "Fine-tuning")."""
    masks = dataset.root / "masks"
    masked = (
        {p.stem for p in masks.iterdir() if p.suffix.lower() in MASK_SUFFIXES}
        if masks.is_dir()
        else set()
    )
    stems = tuple(dataset.annotations)
    return {
        "train": tuple(s for s in stems if s not in masked),
        "test": tuple(s for s in stems if s in masked),
    }


SPLIT_RULES: dict[str, Callable[[DetectionDataset], dict[str, tuple[str, ...]]]] = {
    "dataset": lambda dataset: dict(dataset.splits),
    "study": study_split,
}
"""How a dataset is split: its own split files (``ImageSets/Main``, COCO file names), or the
study's (:func:`study_split`: the images with attention masks are the test split)."""


def with_split_rule(dataset: DetectionDataset, rule: str) -> DetectionDataset:
    """``dataset`` with the splits of :data:`SPLIT_RULES` ``rule`` (ValueError naming them)."""
    if rule not in SPLIT_RULES:
        raise ValueError(f"split rule {rule!r}: choose from {', '.join(SPLIT_RULES)}")
    return replace(dataset, splits=SPLIT_RULES[rule](dataset))
