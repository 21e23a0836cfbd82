"""CAT2000 (Borji & Itti, 2015), training set: ``Stimuli/<category>/<n>.jpg`` with the binary
fixation-location maps ``FIXATIONLOCS/<category>/<n>.mat`` (variable ``fixLocs``, the image's
size, non-zero where an observer fixated).

The public download pools its observers into these maps: there are no subject ids, onsets or
fixation order in it (its ``allFixData.mat`` holds a MATLAB ``containers.Map``, which only
MATLAB can read, and ``FIXATIONMAPS/`` holds the blurred maps). The test set has no public
fixations.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from saliency_core.data.importers.base import (
    FileProblem,
    ImageFixations,
    Importer,
    Item,
    Problem,
    Scan,
    image_files,
    read_mat,
    required_folder,
    subfolders,
)

VARIABLE = "fixLocs"
SKIPPED_FOLDERS = ("Output",)
"""Folders of saliency maps beside the stimuli in some copies of CAT2000, not stimuli."""


def location_map(path: Path, label: str) -> np.ndarray:
    """The 2-D fixation-location map of a FIXATIONLOCS file (``fixLocs``, or the file's only
    2-D array), as booleans."""
    variables = read_mat(path, label)
    arrays = [value for value in variables.values() if np.ndim(value) == 2]
    found = variables.get(VARIABLE, arrays[0] if len(arrays) == 1 else None)
    if found is None or np.ndim(found) != 2:
        names = ", ".join(variables) or "none"
        raise FileProblem(f"{label}: no 2-D {VARIABLE!r} map (found: {names})")
    return np.asarray(found) != 0


def image_fixations(path: Path, label: str, shape: tuple[int, int]) -> ImageFixations:
    """One image's fixations: a point at every non-zero pixel (row r, column c → x = c, y = r,
    0-based), in row-major order; a map whose size differs from the image's is refused."""
    try:
        fixated = location_map(path, label)
        if fixated.shape != shape:
            raise FileProblem(
                f"{label}: the map is {fixated.shape[0]}×{fixated.shape[1]} px but the image "
                f"is {shape[0]}×{shape[1]} (height×width)"
            )
    except FileProblem as problem:
        return ImageFixations(pd.DataFrame(), (Problem(label, str(problem)),))
    rows, columns = np.nonzero(fixated)
    return ImageFixations(pd.DataFrame({"x": columns.astype(float), "y": rows.astype(float)}))


def _root(source: Path) -> Path:
    """The folder holding ``Stimuli/``: ``SRC`` or ``SRC/trainSet`` (the zip's top folder)."""
    nested = source / "trainSet"
    return nested if (nested / "Stimuli").is_dir() else source


def scan(source: Path) -> Scan:
    """CAT2000's training images, category by category; stem ``<category>_<n>``."""
    root = _root(source)
    stimuli = required_folder(root / "Stimuli", "CAT2000's images, from trainSet.zip")
    locations = required_folder(
        root / "FIXATIONLOCS", "CAT2000's fixation locations; the test set has none"
    )
    items = []
    for category in subfolders(stimuli):
        if category.name in SKIPPED_FOLDERS:
            continue
        for image in image_files(category):
            label = f"FIXATIONLOCS/{category.name}/{image.stem}.mat"
            path = locations / category.name / f"{image.stem}.mat"
            reader = partial(image_fixations, path, label)
            items.append(Item(f"{category.name}_{image.stem}", image, reader))
    return Scan(items)


README = """\
## CAT2000 (training set)

Borji, A., & Itti, L. (2015). CAT2000: A large scale fixation dataset for boosting saliency
research. CVPR 2015 workshop "Future of Datasets", arXiv:1505.03581.
http://saliency.mit.edu/ — 2000 images in 20 categories, 1920×1080 px, 18 observers per image,
free viewing for 5 s. The download states no licence of its own: cite the paper.

### Conversion

- Images: `Stimuli/<category>/<n>.jpg`, copied unchanged; stem `<category>_<n>` (the numbers
  repeat across categories). `Output/` folders (saliency maps) are not stimuli and are skipped.
- Fixations: read from `FIXATIONLOCS/<category>/<n>.mat` (`fixLocs`, a binary map of the
  image's size): one fixation at each non-zero pixel, row r and column c giving `x = c`,
  `y = r` (0-based pixel centres; the map's pixels are the image's). Several fixations on the
  same pixel count once: the map holds no counts.
- The maps pool every observer: there are **no subject ids, onsets or durations** (only `x, y`
  columns), so the per-subject and time analyses do not apply. The per-subject scanpaths exist
  only in `allFixData.mat`, a MATLAB `containers.Map` that scipy cannot read (pysaliency runs
  MATLAB to extract it); `FIXATIONMAPS/` (the blurred maps) is not read.
"""

IMPORTER = Importer(
    summary="CAT2000 training set (Borji & Itti 2015): Stimuli/ and FIXATIONLOCS/ maps",
    scan=scan,
    readme=README,
)
