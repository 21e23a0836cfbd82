"""Fixation data for training a readout: a seeded image-level split, each image resized to the
readout's input with its fixations rescaled along (never dropped silently), and each epoch's
batches in an order seeded by (seed, epoch) (as the detector loader's :class:`EpochOrder`), so
that a resumed epoch skips exactly the batches it had done and every rank of a data-parallel
run takes its own share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from saliency_core.data.datasets import Dataset
from saliency_core.data.fixations import SUBJECT_COLUMN, rescale_points, to_pixel_coords
from saliency_core.data.images import MAX_SIDE
from saliency_core.models.readout.network import ReadoutRecipe, input_shape, to_input
from saliency_core.scoring.likelihood import fixation_indices
from saliency_core.train.data import mixed_seed

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
RESCALING = (
    "fixations are rescaled with the image: x' = (x + 0.5) · w / W − 0.5 (likewise y), then "
    "rounded to the nearest pixel of the w × h input; every fixation counts (duplicates too)"
)


def split_ids(ids: Sequence[str], seed: int, fractions=SPLIT_FRACTIONS) -> dict[str, list[str]]:
    """A seeded image-level split: the ids shuffled by ``numpy.random.default_rng(seed)``, then
    cut at the fractions' cumulative sums (validation and test get at least one image each when
    there are three or more); each split sorted."""
    if len(ids) < 3:
        raise ValueError(
            f"a train/val/test split needs at least 3 images with fixations, got {len(ids)}"
        )
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    val = max(1, round(fractions[1] * len(ids)))
    test = max(1, round(fractions[2] * len(ids)))
    train = len(ids) - val - test
    parts = (order[:train], order[train : train + val], order[train + val :])
    return {name: sorted(part) for name, part in zip(SPLITS, parts, strict=True)}


@dataclass
class FixationImage:
    """One image at the readout's input: ``image`` (3, h, w) normalised, ``pixel`` the flat
    indices of its fixations there, ``features`` filled in when cached."""

    stem: str
    image: torch.Tensor
    pixel: torch.Tensor
    features: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.image.shape[-2:])  # type: ignore[return-value]


def load_fixation_images(
    dataset: Dataset, stems: Sequence[str], recipe: ReadoutRecipe
) -> tuple[list[FixationImage], list[str]]:
    """Each image of ``stems`` at the readout's input with its fixations rescaled along, and
    notices: fixations outside their image (named, left out of the loss), files without subject
    ids, images without fixations (left out)."""
    images, notices = [], []
    no_subjects = []
    for stem in stems:
        sample = dataset.load(stem, max_side=MAX_SIDE, inputs=("fixations",))
        notices += sample.notices
        if sample.fixations is None or not len(sample.fixations):
            notices.append(f"{stem}: no fixations; left out of training and scoring")
            continue
        if SUBJECT_COLUMN not in sample.fixation_columns.columns:
            no_subjects.append(stem)
        outside = len(sample.fixations) - len(to_pixel_coords(sample.fixations, sample.shape))
        if outside:
            notices.append(
                f"{stem}: {outside} of {len(sample.fixations)} fixations lie outside the "
                f"{sample.shape[1]}×{sample.shape[0]} image; left out of the loss"
            )
        shape = input_shape(sample.shape, recipe)
        points = rescale_points(sample.fixations, sample.shape, shape)
        pixel = torch.from_numpy(fixation_indices(points, shape))
        images.append(FixationImage(stem, to_input(sample.image, recipe), pixel))
    if no_subjects:
        notices.append(
            f"{len(no_subjects)} fixation files carry no subject ids (e.g. {no_subjects[0]}.csv): "
            "every fixation counts alike; nothing is left out"
        )
    return images, notices


def batches(
    images: Sequence[FixationImage], batch_size: int, generator: torch.Generator | None = None
) -> list[list[FixationImage]]:
    """Batches of same-sized images (images of several sizes are grouped by size); shuffled
    within and across sizes by ``generator`` (None: in order)."""
    groups: dict[tuple[int, int], list[FixationImage]] = {}
    order = range(len(images))
    if generator is not None:
        order = torch.randperm(len(images), generator=generator).tolist()
    for index in order:
        groups.setdefault(images[index].shape, []).append(images[index])
    result = [
        group[start : start + batch_size]
        for group in groups.values()
        for start in range(0, len(group), batch_size)
    ]
    if generator is not None:
        result = [result[i] for i in torch.randperm(len(result), generator=generator).tolist()]
    return result


def epoch_batches(
    images: Sequence[FixationImage],
    batch_size: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
) -> list[list[FixationImage]]:
    """This rank's batches of ``epoch``: :func:`batches` shuffled by a generator seeded by
    ``mixed_seed(seed, epoch)``, padded by wrapping to a multiple of ``world`` and dealt
    round-robin (every rank takes the same number of steps)."""
    generator = torch.Generator().manual_seed(mixed_seed(seed, epoch))
    order = batches(images, batch_size, generator)
    steps = -(-len(order) // world)
    padded = [order[index % len(order)] for index in range(steps * world)]
    return padded[rank::world]
