"""What every fixation-dataset importer shares: the source scan it returns, and the one driver
that writes the project's layout (``images/``, ``fixations/<stem>.csv``), resumably.

An importer reads a dataset's original download (already on disk) into :class:`Item` s, one
per image. :func:`run_import` writes each item's image (copied byte for byte) and its fixation
table (columns ``x,y`` in pixels of the image, origin at the top-left pixel's centre, and
``subject``, ``onset_s``, ``duration_s`` where the source has them), skips items already
written, and records every file left out, with the reason, in ``DST/import_log.csv``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import loadmat

from saliency_core.data.atomic import write_atomically, write_bytes_atomic
from saliency_core.data.csvfiles import write_csv
from saliency_core.data.datasets import DatasetError
from saliency_core.data.images import ACCEPTED_SUFFIXES, image_size

MARKER = "import.json"
"""``DST/import.json``: the kind and source of the import that owns the folder."""
LOG = "import_log.csv"
README = "README.md"
LOG_COLUMNS = ("image", "file", "status", "fixations", "reason")
IMPORTED, SKIPPED, FAILED, LEFT_OUT = "imported", "already there", "failed", "left out"
"""Log statuses: an image written; one written by an earlier run; an image not written; a file
(or part of one) left out of an image that was written, or of the whole import."""


class ImportRefused(DatasetError):
    """A source or destination the import cannot use at all; the message names the file."""


@dataclass(frozen=True)
class Problem:
    """A source file (or a part of one) left out, and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class ImageFixations:
    """One image's fixation table, with the files (or parts) of it that were left out."""

    table: pd.DataFrame
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Item:
    """One image of a source: its file, the project stem, and how to read its fixations given
    the image's (H, W)."""

    stem: str
    image: Path
    fixations: Callable[[tuple[int, int]], ImageFixations]


@dataclass(frozen=True)
class Scan:
    """A source's images, and the source files left out while listing them."""

    items: list[Item]
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Importer:
    """A dataset kind: ``scan(SRC)`` lists its images (raising :class:`ImportRefused` for a
    source it cannot read), ``readme`` states the conversion, licence and citation."""

    summary: str
    scan: Callable[[Path], Scan]
    readme: str


@dataclass
class ImportReport:
    """What one run did: images written, images already there, and every file left out."""

    kind: str
    destination: Path
    imported: int = 0
    already_there: int = 0
    fixations: int = 0
    failed: list[Problem] = field(default_factory=list)
    left_out: list[Problem] = field(default_factory=list)


def point_inside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of (x, y) points whose pixel (rounded, as every metric rounds them) lies
    inside an image of ``shape`` = (H, W)."""
    pixel = np.floor(np.asarray(points, dtype=np.float64).reshape(-1, 2) + 0.5)
    height, width = shape
    return (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (accepted suffixes, not hidden), sorted by name."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in ACCEPTED_SUFFIXES and path.name[0] != "."
    )


def subfolders(folder: Path) -> list[Path]:
    """The folders directly in ``folder`` (not hidden), sorted by name."""
    return sorted(path for path in folder.iterdir() if path.is_dir() and path.name[0] != ".")


def required_folder(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else :class:`ImportRefused` naming it and ``what`` it holds."""
    if not path.is_dir():
        raise ImportRefused(f"{path}: no such folder ({what}); is this the right source folder?")
    return path


class FileProblem(ValueError):
    """A source file that cannot be used; the message names it (``label``, relative to SRC)."""


MAT_V73 = (
    "a MATLAB v7.3 (HDF5) .mat file, which scipy cannot read; reading it needs h5py, which "
    "this project does not depend on: re-save it in MATLAB with save(..., '-v7')"
)


def read_mat(path: Path, label: str) -> dict[str, object]:
    """The variables of a MATLAB .mat file (v4 to v7; structs as attribute objects, 1×1 arrays
    squeezed), or :class:`FileProblem` naming ``label``."""
    if not path.is_file():
        raise FileProblem(f"{label}: no such file")
    try:
        contents = loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError as error:  # scipy's answer to an HDF5-based v7.3 file
        raise FileProblem(f"{label}: {MAT_V73}") from error
    except Exception as error:  # noqa: BLE001 - scipy raises many kinds for a damaged file
        raise FileProblem(f"{label}: not a readable .mat file ({error})") from error
    return {name: value for name, value in contents.items() if not name.startswith("__")}


def claim(destination: Path, kind: str, source: Path) -> None:
    """Make ``destination`` the folder of a ``kind`` import, or refuse: it overlaps the source,
    holds an import of another kind, or holds other files (never written into)."""
    marker = destination / MARKER
    src, dst = source.resolve(), destination.resolve()
    if dst == src or dst.is_relative_to(src) or src.is_relative_to(dst):
        raise ImportRefused(f"{destination} and the source {source} overlap; choose another DST.")
    if destination.exists() and not destination.is_dir():
        raise ImportRefused(f"{destination} is a file, not a folder.")
    if marker.is_file():
        earlier = _read_marker(marker)
        if earlier != kind:
            raise ImportRefused(
                f"{destination} holds a {earlier} import ({MARKER}); refusing to add {kind} "
                "to it. Choose another DST."
            )
        return
    if destination.is_dir() and any(destination.iterdir()):
        raise ImportRefused(
            f"{destination} is not empty and holds no {MARKER}; an import writes only into a "
            "new or empty folder, or resumes its own."
        )
    record = {"kind": kind, "source": str(source)}
    write_bytes_atomic(marker, (json.dumps(record, indent=2) + "\n").encode())


def _read_marker(marker: Path) -> str:
    try:
        kind = json.loads(marker.read_text()).get("kind")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise ImportRefused(f"{marker}: unreadable ({error}); choose another DST.") from error
    if not isinstance(kind, str):
        raise ImportRefused(f"{marker}: names no import kind; choose another DST.")
    return kind


def run_import(
    kind: str,
    importer: Importer,
    source: Path,
    destination: Path,
    progress: Callable[[Sequence[Item]], Iterable[Item]] = iter,
) -> ImportReport:
    """Import ``source`` into ``destination`` (see the module docstring); the log and README are
    written even when interrupted, for what was done."""
    if not source.is_dir():
        raise ImportRefused(f"{source}: no such folder (the dataset's download, unpacked).")
    scan = importer.scan(source)  # a source refused leaves DST untouched
    claim(destination, kind, source)
    report = ImportReport(kind, destination, left_out=list(scan.problems))
    rows = [_row("", problem, LEFT_OUT) for problem in scan.problems]
    try:
        for item in progress(scan.items):
            rows += _import_item(item, source, destination, report)
    finally:
        log = pd.DataFrame(rows, columns=list(LOG_COLUMNS)).astype({"fixations": "Int64"})
        write_csv(destination / LOG, log)
        _write_readme(destination, kind, importer, source)
    return report


def _row(image: str, problem: Problem, status: str, fixations: int | None = None) -> dict:
    values = (image, problem.file, status, fixations, problem.reason)
    return dict(zip(LOG_COLUMNS, values, strict=True))


def _import_item(item: Item, source: Path, destination: Path, report: ImportReport) -> list[dict]:
    """Write one image and its fixation CSV (image first, the CSV last: an item is complete when
    both exist) and return its log rows; any failure costs this image only."""
    image_out = destination / "images" / f"{item.stem}{item.image.suffix.lower()}"
    table_out = destination / "fixations" / f"{item.stem}.csv"
    image = str(item.image.relative_to(source))
    if image_out.is_file() and table_out.is_file():
        report.already_there += 1
        return [_row(item.stem, Problem(image, ""), SKIPPED)]
    try:
        read = item.fixations(image_size(item.image))
    except Exception as error:  # noqa: BLE001 - a bad source file costs only its image
        failure = Problem(image, _named(error, image))
        report.failed.append(failure)
        return [_row(item.stem, failure, FAILED)]
    rows = [_row(item.stem, problem, LEFT_OUT) for problem in read.problems]
    if read.table.empty:
        failure = Problem(image, _no_fixations(read.problems))
        report.failed.append(failure)
        return [*rows, _row(item.stem, failure, FAILED)]
    write_atomically(image_out, lambda temporary: shutil.copyfile(item.image, temporary))
    write_csv(table_out, read.table)
    report.imported += 1
    report.fixations += len(read.table)
    report.left_out += read.problems
    return [*rows, _row(item.stem, Problem(image, ""), IMPORTED, len(read.table))]


def _named(error: Exception, name: str) -> str:
    """``error``'s message, prefixed with ``name`` unless it names it already."""
    message = str(error) or error.__class__.__name__
    return message if name in message else f"{name}: {message}"


def _no_fixations(problems: Sequence[Problem]) -> str:
    if not problems:
        return "no fixation inside the image; image not imported"
    more = f" (and {len(problems) - 1} more in {LOG})" if len(problems) > 1 else ""
    return f"no usable fixation; image not imported: {problems[0].reason}{more}"


def _write_readme(destination: Path, kind: str, importer: Importer, source: Path) -> None:
    folder = destination / "images"
    images = len(image_files(folder)) if folder.is_dir() else 0
    text = (
        f"# {kind}: imported by `saliency import-dataset {kind}`\n\n"
        f"Source: `{source}`. Images here: {images}, each with `fixations/<stem>.csv`. "
        f"Files left out, and why: `{LOG}` (rewritten by each run; rerunning skips the images "
        "already here and retries the others).\n\n"
        f"{importer.readme.strip()}\n"
    )
    write_bytes_atomic(destination / README, text.encode())
