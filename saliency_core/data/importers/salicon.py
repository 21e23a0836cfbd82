"""SALICON (Jiang et al., CVPR 2015): the COCO-style fixation files ``fixations_<split>.json``
(``fixations_train2014.json``, ``fixations_val2014.json``) and the COCO images they name.

A file holds ``images`` (``id``, ``file_name``, ``height``, ``width``, ``license``) and
``annotations``, one per worker and image (``image_id``, ``worker_id``, ``id``, ``fixations``:
a list of ``[row, column]`` pairs, 1-based, in the order recorded — the SALICON API's
``buildFixMap`` sets ``map[row − 1][col − 1]``). The fixations were inferred from mouse
movements; the file carries no times.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency_core.data.images import ACCEPTED_SUFFIXES
from saliency_core.data.importers.base import (
    FileProblem,
    ImageFixations,
    Importer,
    ImportRefused,
    Item,
    Problem,
    Scan,
)

PATTERN = "fixations_*.json"
TYPE = "fixations"


def read_fixation_json(path: Path, label: str) -> dict[str, Any]:
    """A SALICON fixation file's content, checked to have ``images`` and ``annotations`` lists
    (and ``type`` "fixations" where given); FileProblem naming ``label`` otherwise."""
    try:
        content = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileProblem(f"{label}: not a readable JSON file ({error})") from error
    if not isinstance(content, dict) or not all(
        isinstance(content.get(key), list) for key in ("images", "annotations")
    ):
        raise FileProblem(f"{label}: not a SALICON fixation file (no images and annotations)")
    if content.get("type", TYPE) != TYPE:
        raise FileProblem(f"{label}: type is {content['type']!r}, not {TYPE!r} (a results file?)")
    return content


def annotation_points(
    annotation: dict[str, Any], shape: tuple[int, int], label: str
) -> tuple[pd.DataFrame, list[Problem]]:
    """One worker's fixations as ``x = column − 1``, ``y = row − 1``, ``subject = worker_id``;
    pairs outside 1..height × 1..width are dropped and counted in a problem."""
    where = f"{label}: annotation {annotation.get('id', '?')}"
    worker = annotation.get("worker_id")
    try:
        pairs = np.asarray(annotation.get("fixations"), dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return pd.DataFrame(), [Problem(label, f"{where}: fixations are not [row, col] pairs")]
    if worker is None:
        return pd.DataFrame(), [Problem(label, f"{where}: no worker_id; left out")]
    rows, columns = pairs[:, 0], pairs[:, 1]
    height, width = shape
    inside = (rows >= 1) & (rows <= height) & (columns >= 1) & (columns <= width)
    problems = []
    if not inside.all():
        problems.append(
            Problem(
                label,
                f"{where}: {int((~inside).sum())} of {len(pairs)} [row, col] pairs outside "
                f"1..{height} × 1..{width}; left out",
            )
        )
    table = pd.DataFrame({"x": columns[inside] - 1, "y": rows[inside] - 1, "subject": worker})
    return table, problems


def image_fixations(
    record: dict[str, Any], annotations: list[dict], label: str, shape: tuple[int, int]
) -> ImageFixations:
    """Every worker's fixations on one image; the image's file must have the size the JSON
    gives it (else nothing is imported for it)."""
    given = (record.get("height"), record.get("width"))
    if given != shape:
        reason = f"{label}: image {record.get('id')} is {given[0]}×{given[1]} px there, but "
        reason += f"{record.get('file_name')} is {shape[0]}×{shape[1]}"
        return ImageFixations(pd.DataFrame(), (Problem(label, reason),))
    tables, problems = [], []
    for annotation in annotations:
        table, left_out = annotation_points(annotation, shape, label)
        tables.append(table)
        problems += left_out
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return ImageFixations(table, tuple(problems))


def _items(content: dict[str, Any], label: str, found: dict[str, Path]) -> Scan:
    by_image: dict[object, list[dict]] = defaultdict(list)
    for annotation in content["annotations"]:
        if isinstance(annotation, dict):
            by_image[annotation.get("image_id")].append(annotation)
    items, problems = [], []
    for record in content["images"]:
        name = record.get("file_name") if isinstance(record, dict) else None
        if not isinstance(name, str) or name not in found:
            problems.append(Problem(label, f"{label}: image file {name!r} not found under SRC"))
            continue
        annotations = by_image.get(record.get("id"), [])
        if not annotations:
            continue  # e.g. a test image: nothing to import
        reader = partial(image_fixations, record, annotations, label)
        items.append(Item(Path(name).stem, found[name], reader))
    return Scan(items, problems)


def scan(source: Path) -> Scan:
    """Every image of every ``fixations_*.json`` under SRC that has annotations; the images
    are found by file name anywhere under SRC. A file that cannot be read is left out; none
    readable refuses the source."""
    files = sorted(source.rglob(PATTERN))
    if not files:
        raise ImportRefused(
            f"{source}: no {PATTERN} file (SALICON's fixations_train2014.json, "
            "fixations_val2014.json) under it"
        )
    found = {
        path.name: path
        for path in source.rglob("*")
        if path.suffix.lower() in ACCEPTED_SUFFIXES and path.is_file()
    }
    items, problems, unreadable = [], [], []
    for path in files:
        label = str(path.relative_to(source))
        try:
            content = read_fixation_json(path, label)
        except FileProblem as problem:
            unreadable.append(Problem(label, str(problem)))
            continue
        listed = _items(content, label, found)
        items += listed.items
        problems += listed.problems
    if len(unreadable) == len(files):
        raise ImportRefused("; ".join(problem.reason for problem in unreadable))
    return Scan(items, unreadable + problems)


README = """\
## SALICON

Jiang, M., Huang, S., Duan, J., & Zhao, Q. (2015). SALICON: Saliency in context. CVPR 2015.
http://salicon.net/ — 10 000 training and 5 000 validation images of MS COCO (640×480),
fixations inferred from mouse movements of crowd workers. The download page states no licence
for the annotations: cite the paper. Each image keeps its own Flickr licence (Creative Commons
variants), named by its `license` id in the JSON's `licenses` list.

### Conversion

- Fixations: read from the `fixations_*.json` files (the provided fixation lists; the raw
  mouse samples are not read). Each annotation is one worker on one image; its `fixations` are
  `[row, col]` pairs, 1-based (the SALICON API's `buildFixMap` marks `map[row-1][col-1]`):
  `x = col − 1`, `y = row − 1` (0-based pixel centres). Pairs outside the image are left out
  and counted in `import_log.csv`.
- Columns: `x, y, subject` (the `worker_id`). The JSON has **no times**: no `onset_s` or
  `duration_s`; each worker's rows keep the order of the file.
- Images: the files the JSON names (`file_name`), found anywhere under SRC and copied
  unchanged (stem = file name without extension); one whose size differs from the JSON's
  `height`/`width` is not imported. Images without annotations (the test set) are skipped.
"""

IMPORTER = Importer(
    summary="SALICON (Jiang et al. 2015): fixations_*.json (COCO style) and the COCO images",
    scan=scan,
    readme=README,
)
