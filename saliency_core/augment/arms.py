"""The experiment's augmentation arms: none, erase, inpaint, transform, and their combinations.

An arm is one or several parts, each with a per-image probability (``erase+transform`` with
``{"erase": 0.5}``: half the images erased, every image transformed). ``erase`` and ``inpaint``
read a precomputed copy of the image (:func:`prepare_copies`: the selective erasing of
:func:`~saliency_core.augment.dataset.augment_dataset`, once per image, as the study did);
their pixels are replaced in place, so the boxes stay as they are. ``transform`` runs a
:class:`~saliency_core.augment.policies.PolicyAugmenter` (Zoph et al.'s policies), which moves
the boxes with the pixels. Order per image: the pixel copy first, then the transformation.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from saliency_core import pipeline
from saliency_core.augment.dataset import (
    NO_DOWNSCALE,
    AugmentOptions,
    ImageProgress,
    augment_dataset,
)
from saliency_core.augment.policies import PolicyAugmenter
from saliency_core.data.annotations import Annotation
from saliency_core.data.datasets import IMAGE_FOLDERS, image_folder
from saliency_core.data.images import ACCEPTED_SUFFIXES, ImageLoadError, load_image

ARM_NAMES = ("none", "erase", "inpaint", "transform")
COPY_ARMS = ("erase", "inpaint")
"""Arms whose pixels come from a precomputed copy (boxes unchanged)."""
STUDY_INPAINT = "dip"
"""The inpainting of the ``inpaint`` copies when the options name none (the study's: a Deep
Image Prior)."""
REFERENCE_FOLDERS = {"masks": (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"),
                     "fixations": (".csv",)}  # fmt: skip
"""Per-image files the erase rule's reference may need, linked beside the images."""

Sampled = tuple[np.ndarray, np.ndarray, tuple[str, ...]]

STAGED_IMAGES = "images"
"""The staged folder's image folder (the app's layout), hence its copies' too."""


@dataclass(frozen=True)
class Arm:
    """Parts (arm name, per-image probability) in :data:`ARM_NAMES` order."""

    parts: tuple[tuple[str, float], ...]

    @property
    def name(self) -> str:
        """e.g. "erase+transform"."""
        return "+".join(part for part, _ in self.parts)

    @property
    def copies(self) -> tuple[str, ...]:
        """The parts that read a precomputed copy (:data:`COPY_ARMS`)."""
        return tuple(part for part, _ in self.parts if part in COPY_ARMS)


def _choices() -> str:
    return ", ".join(ARM_NAMES)


def parse_arm(text: str, probabilities: Mapping[str, float] | None = None) -> Arm:
    """``"erase+transform"`` -> :class:`Arm`; each part's probability from ``probabilities``
    (default 1.0). Raises ValueError naming the problem: an unknown or empty name, a name given
    twice, "none" combined with others, a probability outside [0, 1] or for a part not named."""
    names = [name.strip() for name in text.split("+")]
    for name in names:
        if not name:
            raise ValueError(f"Arm {text!r} has an empty part: choose from {_choices()}")
        if name not in ARM_NAMES:
            raise ValueError(f"Unknown arm {name!r} in {text!r}: choose from {_choices()}")
        if names.count(name) > 1:
            raise ValueError(f"Arm {name!r} is named twice in {text!r}")
    if "none" in names and len(names) > 1:
        raise ValueError(f"Arm 'none' cannot be combined with others ({text!r})")
    given = dict(probabilities or {})
    for name, value in given.items():
        if name not in names:
            raise ValueError(f"A probability is given for {name!r}, which is not part of {text!r}")
        if not 0.0 <= float(value) <= 1.0:  # NaN fails too
            raise ValueError(f"The probability of {name!r} must be in [0, 1], not {value}")
    ordered = sorted(names, key=ARM_NAMES.index)
    return Arm(tuple((name, float(given.get(name, 1.0))) for name in ordered))


def _find_copy(folder: Path, stem: str) -> Path | None:
    for path in sorted(folder.glob(f"{stem}.*")):
        if path.suffix.lower() in ACCEPTED_SUFFIXES and path.is_file():
            return path
    return None


@dataclass
class ArmSampler:
    """Draw an arm's parts for one annotated image and return its pixels, boxes and labels.

    Each part applies with its probability (one uniform draw per part per call, in order). Of
    the copy parts drawn (erase, inpaint), the first in :data:`ARM_NAMES` order is used: the
    image is read from ``copies[name]/<stem>.*`` (same size as the original, boxes unchanged);
    a missing, unreadable or differently sized copy falls back to the original image with a
    notice in :attr:`notices` (each once). Then ``transform`` runs the policy.
    """

    arm: Arm
    copies: Mapping[str, Path] = field(default_factory=dict)
    policy: str = "v3"
    study_boxes: bool = False
    notices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        missing = [name for name in self.arm.copies if name not in self.copies]
        if missing:
            raise ValueError(f"Arm {self.arm.name!r} needs copies for {', '.join(missing)}")
        self._augmenter = PolicyAugmenter(self.policy, study_boxes=self.study_boxes)

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    def _copy(self, name: str, annotation: Annotation) -> np.ndarray | None:
        """The ``name`` copy's pixels, or None (with a notice) when it cannot stand in."""
        folder = Path(self.copies[name])
        path = _find_copy(folder, annotation.stem)
        if path is None:
            self._notice(f"{name}: no copy of {annotation.stem} in {folder}; original used.")
            return None
        try:
            rgb = load_image(path, NO_DOWNSCALE).rgb
        except (ImageLoadError, OSError) as error:
            self._notice(f"{name}: {path} cannot be read ({error}); original used.")
            return None
        if rgb.shape[:2] != (annotation.height, annotation.width):
            size = f"{rgb.shape[1]}×{rgb.shape[0]}"
            expected = f"{annotation.width}×{annotation.height}"
            self._notice(f"{name}: {path} is {size}, the image {expected}; original used.")
            return None
        return rgb

    def __call__(self, annotation: Annotation, generator: torch.Generator) -> Sampled:
        """uint8 H×W×3 image, (N, 4) float32 x1 y1 x2 y2 boxes, N labels."""
        draws = torch.rand(len(self.arm.parts), generator=generator).tolist()
        drawn = [name for (name, p), u in zip(self.arm.parts, draws, strict=True) if u < p]
        copy = next((name for name in drawn if name in COPY_ARMS), None)
        image = self._copy(copy, annotation) if copy else None
        if image is None:
            image = load_image(annotation.image, NO_DOWNSCALE).rgb
        boxes = np.asarray(annotation.boxes, dtype=np.float32).reshape(-1, 4)
        labels = tuple(annotation.labels)
        if "transform" in drawn:
            return self._augmenter(image, boxes, labels, generator)
        return image, boxes, labels


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy across file systems); kept if present."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def stage_dataset(dataset_root: Path, stems: Iterable[str], staging: Path) -> Path:
    """A dataset folder in the app's layout at ``staging`` holding only ``stems``: their
    images in ``images/`` and their masks and fixations (hard links), so the resumable
    :func:`augment_dataset` runs on exactly those images; images of other stems are removed."""
    source = image_folder(dataset_root)
    if source is None:
        raise ValueError(f"{dataset_root} has no {' or '.join(IMAGE_FOLDERS)} folder")
    wanted = set(stems)
    images = staging / STAGED_IMAGES
    for path in sorted(source.iterdir()):
        if path.stem in wanted and path.suffix.lower() in ACCEPTED_SUFFIXES and path.is_file():
            _link(path, images / path.name)
    for folder, suffixes in REFERENCE_FOLDERS.items():
        for stem in wanted:
            for suffix in suffixes:
                path = dataset_root / folder / f"{stem}{suffix}"
                if path.is_file():
                    _link(path, staging / folder / path.name)
    for path in images.iterdir() if images.is_dir() else ():
        if path.stem not in wanted:
            path.unlink()
    return staging


def copy_options(name: str, options: AugmentOptions) -> AugmentOptions:
    """The options of the ``name`` copies: ``erase`` without inpainting, ``inpaint`` with the
    options' method (:data:`STUDY_INPAINT` when they name none)."""
    if name == "erase":
        return replace(options, inpaint=None)
    return replace(options, inpaint=options.inpaint or STUDY_INPAINT)


def prepare_copies(
    dataset_root: Path,
    arm: Arm,
    out_dir: Path,
    stems: Collection[str],
    options: AugmentOptions,
    *,
    functions: pipeline.MapFunctions = pipeline.UNCACHED_MAPS,
    progress: Callable[[str], ImageProgress | None] = lambda name: None,
) -> dict[str, Path]:
    """Precompute the arm's erase/inpaint copies of ``stems`` once: ``out_dir/<name>/images/``
    by :func:`augment_dataset` (resumable: a rerun finishes only what is missing) from a staged
    folder ``out_dir/source`` holding those images; returns copy name -> images folder.
    ``progress(name)`` gives that copy's per-image progress callback. Raises
    :class:`~saliency_core.augment.dataset.AugmentRefused` for options it cannot run with."""
    if not arm.copies:
        return {}
    staging = stage_dataset(Path(dataset_root), stems, Path(out_dir) / "source")
    folders = {}
    for name in arm.copies:
        target = Path(out_dir) / name
        augment_dataset(
            staging,
            target,
            copy_options(name, options),
            functions=functions,
            progress=progress(name),
        )
        folders[name] = target / STAGED_IMAGES
    return folders
