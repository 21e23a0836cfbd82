"""A readout training run's settings (:class:`ReadoutTraining`, the run folder's identity)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from saliency_core.models.readout.network import ReadoutRecipe

LOSSES = ("nll", "kld")
SPLIT_RULE = "0.6/0.2/0.2 of the images with fixations, shuffled by numpy default_rng(seed)"


@dataclass(frozen=True)
class ReadoutTraining:
    """One run's choices (all of them the run's identity)."""

    recipe: ReadoutRecipe
    epochs: int = 10
    batch_size: int = 4
    lr: float = 1e-3
    backbone_lr: float = 1e-5
    patience: int = 5
    loss: str = "nll"
    limit: int | None = None
    """Only the first N images (sorted ids) of the dataset."""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recipe": self.recipe.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReadoutTraining:
        """The settings :meth:`to_dict` gave (over Ray, to the training workers)."""
        return cls(**{**values, "recipe": ReadoutRecipe.from_dict(values["recipe"])})
