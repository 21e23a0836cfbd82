"""What every training loop shares (the detector fine-tuning, the saliency readouts): the
progress report handed on after each step, the RNG states a checkpoint keeps, and this
process's place in a ``torch.distributed`` process group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from saliency_core.models.cache import default_device


@dataclass(frozen=True)
class StepReport:
    """Handed to ``progress`` after every step: position, loss and lr."""

    epoch: int
    epochs: int
    step: int
    steps: int
    done: int
    total: int
    loss: float
    lr: float


Progress = Callable[[StepReport], None]


def training_device(device: torch.device | str | None) -> torch.device:
    """``device`` as given, else :func:`~saliency_core.models.cache.default_device` (CUDA when
    present and not refused with SALIENCY_DEVICE)."""
    return torch.device(device) if device else default_device()


def rng_state() -> dict[str, Any]:
    """The global torch (and CUDA) RNG states, for a checkpoint."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def ranks() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def any_rank(flag: bool, world: int, device: torch.device) -> bool:
    """Whether ``flag`` is set on any rank (all ranks stop at the same step)."""
    if world == 1:
        return flag
    tensor = torch.tensor([float(flag)], device=device)
    dist.all_reduce(tensor)
    return bool(tensor.item())
