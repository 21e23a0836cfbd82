"""Image sources: the shipped NUS Scene sample and user dataset folders.

A dataset is a folder with ``images/`` and optional ``masks/<stem>.png`` (human attention masks,
e.g. the PASCAL VOC 2012 masks of the ML-Interpretability-Evaluation-Benchmark) and
``fixations/<stem>.csv`` (columns ``x,y`` in pixels, optional ``subject,onset_s,duration_s``).
User datasets come from ``SALIENCY_DATA_DIR``: either one dataset folder or a folder of them.
Only files under a dataset's root are ever read (symbolic links out of it are refused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from saliency_core.fixations import read_fixation_file, read_fixations, rescale_points
from saliency_core.images import ACCEPTED_SUFFIXES, Sample, load_image, load_mask, to_normalised

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_DIR = ASSETS / "sample"
SAMPLE_NAME = "NUS Scene sample (50 images, real fixations)"
DATA_DIR_VARIABLE = "SALIENCY_DATA_DIR"
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FIXATIONS_NOT_LOADED = "Fixations not loaded (no fixation metrics for this image):"
"""Notice prefix when an image's own fixation file cannot be read; the reason follows."""
OTHER_FIXATIONS_SKIPPED = "Another image's fixations were left out of sAUC's negatives:"
"""Notice prefix for each unreadable fixation file of another image; the reason follows."""


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Dataset:
    """A folder in the ``images/``, ``masks/``, ``fixations/`` layout."""

    name: str
    root: Path

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise DatasetError(f"{path.name} points outside the dataset folder; refused.")
        return resolved

    @cached_property
    def ids(self) -> list[str]:
        folder = self.root / "images"
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
        path = self._find("images", stem, ACCEPTED_SUFFIXES)
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

    def load(self, stem: str) -> Sample:
        """The image with its mask and fixations (scaled along if the image was downscaled).

        A fixation file that cannot be read does not block the image: the sample is loaded
        without fixations (so without fixation metrics) and a notice says why; its rows without a
        usable x/y, and its rows' unusable onsets, are left out with a notice
        (:func:`~saliency_core.fixations.read_fixation_file`). Other images' unreadable fixation
        files are left out of ``other_fixations``, each with a notice.
        """
        loaded = load_image(self.image_path(stem))
        notices = list(loaded.notices)
        mask = fixations = others = columns = None
        if (mask_file := self.mask_path(stem)) is not None:
            mask, mask_notices = load_mask(mask_file, loaded.rgb.shape[:2])
            notices += mask_notices
        if (fixation_file := self.fixations_path(stem)) is not None:
            try:
                read = read_fixation_file(fixation_file)
                fixations = read.table[["x", "y"]].to_numpy(dtype=np.float64)
                columns = read.table.drop(columns=["x", "y"])
                notices += read.notices
            except ValueError as error:
                notices.append(f"{FIXATIONS_NOT_LOADED} {error}")
        if fixations is not None:
            original = _original_size(self.image_path(stem))
            if original is not None and original != loaded.rgb.shape[:2]:
                fixations = rescale_points(fixations, original, loaded.rgb.shape[:2])
            others, other_notices = self.other_fixations_with_notices(stem)
            notices += other_notices
        return Sample(
            id=stem,
            image=loaded.rgb,
            source=self.name,
            mask=mask,
            fixations=fixations,
            other_fixations=others,
            notices=notices,
            fixation_columns=columns,
        )

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

        An unreadable fixation file (empty, missing x/y, non-numeric…) or image only excludes
        itself: it is skipped with a notice naming the file and the problem.
        """
        others: list[np.ndarray] = []
        notices: list[str] = []
        for other in self.ids:
            if other == stem or len(others) >= limit:
                continue
            try:
                path = self.fixations_path(other)
                size = _original_size(self.image_path(other))
                if path is not None and size is not None:
                    others.append(to_normalised(read_fixations(path), size))
            except ValueError as error:  # DatasetError is a ValueError too
                notices.append(f"{OTHER_FIXATIONS_SKIPPED} {error}")
        return (np.concatenate(others) if others else None), notices


def _original_size(path: Path) -> tuple[int, int] | None:
    """(H, W) of an image file after EXIF orientation, read from its header only."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            oriented = ImageOps.exif_transpose(image) if image.getexif().get(0x0112) else image
            return oriented.height, oriented.width
    except OSError:
        return None


def sample_dataset() -> Dataset:
    return Dataset(SAMPLE_NAME, SAMPLE_DIR)


@dataclass(frozen=True)
class DatasetScan:
    """The datasets found under a data folder and notices about the folders skipped."""

    datasets: list[Dataset]
    notices: list[str]


def scan_user_datasets(root: str | Path | None = None) -> DatasetScan:
    """Datasets under ``root`` (default ``$SALIENCY_DATA_DIR``): that folder, or its children.

    A child folder that resolves outside ``root`` (a symbolic link elsewhere) is skipped with
    a notice: only files under the data folder are read.
    """
    root = root or os.environ.get(DATA_DIR_VARIABLE)
    if not root:
        return DatasetScan([], [])
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{DATA_DIR_VARIABLE}={root} is not a folder.")
    if (root / "images").is_dir():
        return DatasetScan([Dataset(root.name, root)], [])
    found, notices = [], []
    for child in sorted(root.iterdir()):
        if not (child.is_dir() and (child / "images").is_dir()):
            continue
        if not child.resolve().is_relative_to(root.resolve()):
            notices.append(
                f"Skipped dataset folder {child.name}: it links to {child.resolve()}, outside "
                f"{DATA_DIR_VARIABLE}; only files under that folder are read."
            )
            continue
        found.append(Dataset(child.name, child))
    return DatasetScan(found, notices)


def user_datasets(root: str | Path | None = None) -> list[Dataset]:
    """The datasets of :func:`scan_user_datasets` (folders linking outside ``root`` skipped)."""
    return scan_user_datasets(root).datasets


def all_datasets(root: str | Path | None = None) -> dict[str, Dataset]:
    """The sample set first, then the user's datasets, by display name."""
    datasets = [sample_dataset(), *user_datasets(root)]
    return {dataset.name: dataset for dataset in datasets}
