"""Training data: a detection split as a torch Dataset of (image tensor, target), drawn through
an augmentation arm, and a loader whose order and augmentations depend only on the seed.

Every sample draws from its own generator seeded by (seed, epoch, index), and the order of an
epoch is a permutation seeded by (seed, epoch): a run gives the same batches whatever the number
of worker processes, and a resumed epoch skips exactly the batches it had done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from saliency_core.data.images import load_image
from saliency_core.train.recipe import TrainSettings

Sampled = tuple[np.ndarray, np.ndarray, tuple[str, ...]]
"""An image (uint8 H×W×3), its boxes ((N, 4) float32 x1 y1 x2 y2 pixels) and their labels."""
Source = Callable[..., Sampled]
"""``source(annotation, generator)`` -> :data:`Sampled` (an arm's augmentation or the plain
image)."""
Target = dict[str, torch.Tensor]


def open_dataset(root: Path, split_rule: str):
    """The detection dataset at ``root`` with the splits of ``split_rule`` (``dataset`` or
    ``study``: :data:`saliency_core.data.annotations.SPLIT_RULES`)."""
    from saliency_core.data.annotations import read_detection_dataset, with_split_rule

    return with_split_rule(read_detection_dataset(root), split_rule)


def read_plain(annotation, generator: torch.Generator | None = None) -> Sampled:
    """The ``none`` arm: the image as it is (boxes scaled if the loader had to shrink it)."""
    rgb = load_image(annotation.image).rgb
    boxes = np.asarray(annotation.boxes, dtype=np.float32).reshape(-1, 4)
    height, width = rgb.shape[:2]
    if (height, width) != (annotation.height, annotation.width):
        scale = [width / annotation.width, height / annotation.height] * 2
        boxes = boxes * np.asarray(scale, dtype=np.float32)
    return rgb, boxes, tuple(annotation.labels)


def sample_source(settings: TrainSettings) -> Source:
    """How an image is drawn: :func:`read_plain` for the ``none`` arm, otherwise the
    augmentation arms' sampler over the precomputed copies named in ``settings.copies``."""
    if settings.arm == "none":
        return read_plain
    from saliency_core.augment.arms import ArmSampler, parse_arm

    arm = parse_arm(settings.arm)
    copies = dict(settings.copies)
    missing = [name for name in arm.copies if name not in copies]
    if missing:
        wanted = ",".join(f"{name}=DIR" for name in missing)
        raise ValueError(
            f"Arm {settings.arm!r} reads precomputed copies: give --copies {wanted} "
            "(the images/ folder of a `saliency augment` run over this dataset)."
        )
    return ArmSampler(
        arm,
        {name: Path(folder) for name, folder in copies.items()},
        policy=settings.policy,
        study_boxes=settings.study_boxes,
    )


def mixed_seed(*parts: int) -> int:
    """A 63-bit seed per tuple of integers (seed, epoch[, index]), mixed by NumPy's
    SeedSequence."""
    state = np.random.SeedSequence(list(parts)).generate_state(2, np.uint32)
    return int(state[0]) << 31 ^ int(state[1])


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 -> float 3×H×W in [0, 1] (torchvision's detection input)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


class DetectionSamples(Dataset):
    """``annotations`` drawn through ``source``; item i of epoch e is (image, {"boxes",
    "labels"}, notices) with labels i + 1 of ``classes`` (0 is background) and the notices the
    source recorded while drawing it (a sampler's ``notices`` list: a copy that fell back to the
    original image), so that they reach the run from worker processes too. Set :attr:`epoch`
    before iterating (worker processes copy it when the loader starts)."""

    def __init__(
        self, annotations: Sequence, classes: Sequence[str], source: Source, seed: int
    ) -> None:
        self.annotations = list(annotations)
        self.label_of = {name: index + 1 for index, name in enumerate(classes)}
        self.source = source
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target, tuple[str, ...]]:
        generator = torch.Generator().manual_seed(mixed_seed(self.seed, self.epoch, index))
        recorded = getattr(self.source, "notices", [])
        before = len(recorded)
        rgb, boxes, labels = self.source(self.annotations[index], generator)
        target = {
            "boxes": torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
            "labels": torch.tensor([self.label_of[name] for name in labels], dtype=torch.int64),
        }
        return to_tensor(rgb), target, tuple(recorded[before:])


class EpochOrder(Sampler[int]):
    """One epoch's indices: a permutation seeded by (seed, epoch), padded by wrapping to a
    multiple of ``world`` (as DistributedSampler does) and dealt round-robin to ``rank``;
    the first ``skip`` of this rank's indices are left out (a resumed epoch)."""

    def __init__(
        self, size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, skip: int = 0
    ) -> None:
        generator = torch.Generator().manual_seed(mixed_seed(seed, epoch))
        order = torch.randperm(size, generator=generator).tolist()
        padded = order + order[: (-size) % world]
        self.indices = padded[rank::world][skip:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def collate(
    batch: list[tuple[torch.Tensor, Target, tuple[str, ...]]],
) -> tuple[tuple, tuple, tuple[str, ...]]:
    """A batch as (images, targets, notices): images differ in size (tuples, not a stack);
    the samples' notices joined."""
    images, targets, notices = zip(*batch, strict=True)
    return images, targets, tuple(text for texts in notices for text in texts)


def epoch_loader(
    samples: DetectionSamples,
    batch_size: int,
    workers: int,
    epoch: int,
    *,
    rank: int = 0,
    world: int = 1,
    skip_batches: int = 0,
) -> DataLoader:
    """The loader of one epoch (this rank's share, full batches), starting after
    ``skip_batches`` batches."""
    samples.epoch = epoch
    order = EpochOrder(len(samples), samples.seed, epoch, rank, world, skip_batches * batch_size)
    return DataLoader(
        samples,
        batch_size=batch_size,
        sampler=order,
        num_workers=workers,
        collate_fn=collate,
        drop_last=True,
        generator=torch.Generator().manual_seed(samples.seed),  # the global RNG is not touched
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )


def batches_per_epoch(size: int, batch_size: int, world: int = 1) -> int:
    """Steps of one epoch per rank: full batches only (an incomplete last batch is left out,
    so every step averages the same number of images and BatchNorm never sees a single one;
    the permutation changes every epoch, so no image is always left out)."""
    per_rank = -(-size // world)
    if per_rank < batch_size:
        raise ValueError(
            f"The training split has {size} images: fewer than one batch of {batch_size} "
            f"per process ({world}); lower --batch-size."
        )
    return per_rank // batch_size
