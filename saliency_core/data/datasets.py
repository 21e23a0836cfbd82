"""Image sources: the shipped NUS Scene sample and user dataset folders.

A dataset is a folder with ``images/`` (a PASCAL VOC folder: ``JPEGImages/``) and optional
``masks/<stem>.png`` (human attention masks,
e.g. the PASCAL VOC 2012 masks of the ML-Interpretability-Evaluation-Benchmark) and
``fixations/<stem>.csv`` (columns ``x,y`` in pixels, optional ``subject,onset_s,duration_s``).
User datasets come from ``SALIENCY_DATA_DIR``: one or several folders (joined by ``os.pathsep``),
each a dataset folder or a folder of them. Only files under a dataset's root are ever read
(symbolic links out of it are refused), and a dataset named by a results folder's manifest is
opened only under a dataset root (:func:`open_dataset_folder`, :mod:`saliency_core.data.roots`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pandas as pd

from saliency_core.data import roots
from saliency_core.data.fixations import (
    read_fixation_file,
    read_fixations,
    rescale_points,
)
from saliency_core.data.images import (
    ACCEPTED_SUFFIXES,
    MASK_NOT_LOADED,
    MAX_SIDE,
    Sample,
    image_size,
    load_image,
    load_optional_mask,
    to_normalised,
)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SAMPLE_DIR = ASSETS / "sample"
SAMPLE_NAME = "NUS Scene sample (50 images, real fixations)"
DATA_DIR_VARIABLE = roots.DATA_DIR_VARIABLE
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FIXATIONS_NOT_LOADED = "Fixations not loaded (no fixation metrics for this image):"
"""Notice prefix when an image's own fixation file cannot be read; the reason follows."""
OTHER_FIXATIONS_SKIPPED = "Another image's fixations were left out of sAUC's negatives:"
"""Notice prefix for each other image whose fixation file or image cannot be read; the file and
the reason follow."""
OPTIONAL_INPUTS = ("mask", "fixations", "other_fixations")
"""What :meth:`Dataset.load` can read besides the image (all by default)."""
IMAGE_FOLDERS = ("images", "JPEGImages")
"""A dataset's image folder, the first present: ``images/``, else VOC's ``JPEGImages/``."""


T = TypeVar("T")


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Dataset:
    """A folder in the ``images/`` (or ``JPEGImages/``), ``masks/``, ``fixations/`` layout."""

    name: str
    root: Path

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise DatasetError(f"{path.name} points outside the dataset folder; refused.")
        return resolved

    @cached_property
    def images_folder(self) -> str:
        """The name of the image folder (:data:`IMAGE_FOLDERS`; ``images`` when none is there)."""
        folder = image_folder(self.root)
        return IMAGE_FOLDERS[0] if folder is None else folder.name

    @cached_property
    def ids(self) -> list[str]:
        folder = self.root / self.images_folder
        if not folder.is_dir():
            return []
        stems = {
            p.stem
            for p in folder.iterdir()
            if p.suffix.lower() in ACCEPTED_SUFFIXES and p.is_file() and not p.name.startswith(".")
        }
        return sorted(stems)  # a stem saved in two formats is listed once

    def _find(self, folder: str, stem: str, suffixes: tuple[str, ...]) -> Path | None:
        if "/" in stem or "\\" in stem or stem.startswith(".."):
            raise DatasetError(f"Invalid image id {stem!r}.")
        for suffix in suffixes:
            for candidate in (suffix, suffix.upper()):
                path = self.root / folder / f"{stem}{candidate}"
                if path.is_file():
                    return self._inside(path)
        return None

    def image_path(self, stem: str) -> Path:
        path = self._find(self.images_folder, stem, ACCEPTED_SUFFIXES)
        if path is None:
            raise DatasetError(f"No image {stem!r} in {self.name}.")
        return path

    def mask_path(self, stem: str) -> Path | None:
        return self._find("masks", stem, MASK_SUFFIXES)

    def fixations_path(self, stem: str) -> Path | None:
        return self._find("fixations", stem, (".csv",))

    @property
    def has_masks(self) -> bool:
        return (self.root / "masks").is_dir()

    @property
    def has_fixations(self) -> bool:
        return (self.root / "fixations").is_dir()

    def load(
        self, stem: str, max_side: int = MAX_SIDE, inputs: Collection[str] = OPTIONAL_INPUTS
    ) -> Sample:
        """The image (long side bounded by ``max_side``) with those of its :data:`OPTIONAL_INPUTS`
        named in ``inputs`` (fixations scaled along if the image was downscaled).

        Only the image itself can fail the load. A mask or fixation file that cannot be read
        leaves the sample without it, with a notice naming the file; a fixation file's rows without
        a usable x/y, and its unusable onsets, are left out with a notice
        (:func:`~saliency_core.data.fixations.read_fixation_file`); other images' unreadable
        files are left out of ``other_fixations``, each with a notice (:func:`_read_other`).
        Other fixations are read only when the image has fixations of its own.
        """
        loaded = load_image(self.image_path(stem), max_side)
        shape = loaded.rgb.shape[:2]
        sample = Sample(stem, loaded.rgb, self.name, notices=list(loaded.notices))
        if "mask" in inputs:
            sample.mask, notices = self._mask(stem, shape)
            sample.notices += notices
        if "fixations" in inputs:
            table, notices = self._fixation_table(stem)
            sample.notices += notices
            if table is not None:
                points = table[["x", "y"]].to_numpy(dtype=np.float64)
                original = loaded.original_shape or shape
                if original != shape:
                    points = rescale_points(points, original, shape)
                sample.fixations = points
                sample.fixation_columns = table.drop(columns=["x", "y"])
        if "other_fixations" in inputs and sample.fixations is not None:
            sample.other_fixations, notices = self.other_fixations_with_notices(stem)
            sample.notices += notices
        return sample

    def _mask(self, stem: str, shape: tuple[int, int]) -> tuple[np.ndarray | None, list[str]]:
        """The image's mask at ``shape`` (None without one) and notices; never raises."""
        try:
            path = self.mask_path(stem)
        except DatasetError as error:
            return None, [f"{MASK_NOT_LOADED} {error}"]
        return (None, []) if path is None else load_optional_mask(path, path.name, shape)

    def _fixation_table(self, stem: str) -> tuple[pd.DataFrame | None, list[str]]:
        """The image's fixation table (None without a readable one) and notices; never raises."""
        try:
            path = self.fixations_path(stem)
            if path is None:
                return None, []
            read = read_fixation_file(path)  # rows without a usable x/y dropped, with notices
            return read.table, list(read.notices)
        except (ValueError, OSError) as error:  # DatasetError is a ValueError too
            return None, [f"{FIXATIONS_NOT_LOADED} {error}"]

    def thumbnail(self, stem: str, side: int = 160) -> np.ndarray:
        """A small RGB preview (long side ``side`` px)."""
        rgb = load_image(self.image_path(stem)).rgb
        scale = side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    def other_fixations(self, stem: str, limit: int = 20) -> np.ndarray | None:
        """Fixations of up to ``limit`` other images, in normalised [0, 1] coordinates (sAUC)."""
        return self.other_fixations_with_notices(stem, limit)[0]

    def other_fixations_with_notices(
        self, stem: str, limit: int = 20
    ) -> tuple[np.ndarray | None, list[str]]:
        """(fixations of up to ``limit`` other images in normalised coordinates, notices).

        Any failure to read another image's fixation file or image header (empty or malformed
        CSV, corrupt image, decompression bomb, …) only excludes that image: it is skipped with
        a notice naming the file and the problem.
        """
        others: list[np.ndarray] = []
        notices: list[str] = []
        for other in self.ids:
            if other == stem or len(others) >= limit:
                continue
            try:
                points = self._normalised_fixations(other)
            except DatasetError as error:
                notices.append(f"{OTHER_FIXATIONS_SKIPPED} {error}")
                continue
            if points is not None:
                others.append(points)
        return (np.concatenate(others) if others else None), notices

    def _normalised_fixations(self, stem: str) -> np.ndarray | None:
        """``stem``'s fixations in [0, 1] coordinates of its image (None without a fixation
        file); DatasetError naming the file that could not be read."""
        path = self.fixations_path(stem)
        if path is None:
            return None
        points = _read_other(path, read_fixations)
        return to_normalised(points, _read_other(self.image_path(stem), image_size))


def _read_other(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)`` for a file of another image than the one being loaded: whatever goes
    wrong becomes a DatasetError naming the file, so it costs that file only."""
    try:
        return read(path)
    except Exception as error:  # noqa: BLE001 - any failure there only excludes that file
        message = str(error) or error.__class__.__name__
        named = message if path.name in message else f"{path.name}: {message}"
        raise DatasetError(named) from error


def sample_dataset() -> Dataset:
    return Dataset(SAMPLE_NAME, SAMPLE_DIR)


@dataclass(frozen=True)
class DatasetScan:
    """The datasets found under a data folder and notices about the folders skipped."""

    datasets: list[Dataset]
    notices: list[str]


def scan_user_datasets(root: str | Path | None = None) -> DatasetScan:
    """Datasets under ``root`` (default ``$SALIENCY_DATA_DIR``; several folders joined by
    ``os.pathsep``), in order.

    Each root is a dataset folder or a folder of them. A root that is not a folder, and a child
    folder that resolves outside its root (a symbolic link elsewhere), are skipped with a notice:
    only files under the data folders are read. A name already listed gets its root appended.
    """
    environ = {DATA_DIR_VARIABLE: str(root)} if root else os.environ
    folders = roots.data_roots(environ)
    found: dict[str, Dataset] = {}
    notices: list[str] = []
    for folder in folders:
        datasets, skipped = _scan_root(folder)
        notices += skipped
        for dataset in datasets:
            name = dataset.name if dataset.name not in found else f"{dataset.name} ({folder})"
            found[name] = Dataset(name, dataset.root)
    return DatasetScan(list(found.values()), notices)


def image_folder(root: Path) -> Path | None:
    """``root``'s image folder (the first of :data:`IMAGE_FOLDERS` there), None if it has none."""
    return next((root / name for name in IMAGE_FOLDERS if (root / name).is_dir()), None)


def _scan_root(root: Path) -> tuple[list[Dataset], list[str]]:
    if not root.is_dir():
        return [], [f"{DATA_DIR_VARIABLE}: {root} is not a folder; skipped."]
    if image_folder(root) is not None:
        return [Dataset(root.name, root)], []
    found, notices = [], []
    for child in sorted(root.iterdir()):
        if not (child.is_dir() and image_folder(child) is not None):
            continue
        if not child.resolve().is_relative_to(root.resolve()):
            notices.append(
                f"Skipped dataset folder {child.name}: it links to {child.resolve()}, outside "
                f"{DATA_DIR_VARIABLE}; only files under that folder are read."
            )
            continue
        found.append(Dataset(child.name, child))
    return found, notices


def dataset_roots() -> list[Path]:
    """Where datasets may be read from: the sample set and ``$SALIENCY_DATA_DIR``'s folders."""
    return [SAMPLE_DIR, *roots.data_roots()]


def open_dataset_folder(path: str | Path) -> Path:
    """``path`` resolved, when it lies under a dataset root (or any path is allowed,
    :func:`saliency_core.data.roots.any_path_allowed`); else :class:`roots.OutsideRootsError`."""
    where = f"the dataset folders ({DATA_DIR_VARIABLE} and the sample set)"
    return roots.confine(path, dataset_roots(), where)


def user_datasets(root: str | Path | None = None) -> list[Dataset]:
    """The datasets of :func:`scan_user_datasets` (folders linking outside ``root`` skipped)."""
    return scan_user_datasets(root).datasets


def all_datasets(root: str | Path | None = None) -> dict[str, Dataset]:
    """The sample set first, then the user's datasets, by display name."""
    datasets = [sample_dataset(), *user_datasets(root)]
    return {dataset.name: dataset for dataset in datasets}
