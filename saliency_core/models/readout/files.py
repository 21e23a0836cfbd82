"""A trained readout on disk: one file holding its recipe and weights, alone or in a run folder.

The file (``torch.save`` of plain values and tensors, read with ``weights_only=True``) holds
``format``, ``recipe`` (:class:`ReadoutRecipe` as a dict), ``head`` (the head's state dict) and,
for a fine-tuned backbone only, ``backbone`` (the feature extractor's state dict); a frozen
backbone is rebuilt from the recipe's weight source (untrained: seeded, so the same network).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from saliency_core.data.atomic import write_bytes_atomic
from saliency_core.models.readout.network import ReadoutNet, ReadoutRecipe, build_readout
from saliency_core.models.weights import MissingWeightsError, load_strict

FORMAT = "saliency-explorer readout v1"
READOUT_FILE = "readout.pt"
"""The trained readout's name inside a run folder."""


def readout_file(path: str | Path) -> Path:
    """The readout file ``path`` names: the file itself, or a run folder's :data:`READOUT_FILE`;
    MissingWeightsError when there is none."""
    path = Path(path).expanduser()
    candidate = path / READOUT_FILE if path.is_dir() else path
    if not candidate.is_file():
        where = f"run folder {path} has no {READOUT_FILE}" if path.is_dir() else f"{path}"
        raise MissingWeightsError(f"No trained readout: {where} (train one with saliency readout)")
    return candidate


def save_readout(net: ReadoutNet, path: str | Path) -> Path:
    """Write ``net``'s recipe and weights to ``path`` atomically; returns the path."""
    contents = {
        "format": FORMAT,
        "recipe": net.recipe.to_dict(),
        "head": {k: v.detach().cpu() for k, v in net.head.state_dict().items()},
    }
    if net.recipe.finetuned:
        contents["backbone"] = {k: v.detach().cpu() for k, v in net.extractor.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(contents, buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())
    return Path(path)


def read_recipe(path: str | Path) -> ReadoutRecipe:
    """The recipe of the readout file or run folder ``path`` (see :func:`load_readout`)."""
    return ReadoutRecipe.from_dict(_contents(readout_file(path))["recipe"])


def _contents(path: Path) -> dict:
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file
        raise MissingWeightsError(
            f"{path.name} is not a readout file ({error.__class__.__name__})"
        ) from error
    if not isinstance(contents, dict) or contents.get("format") != FORMAT:
        raise MissingWeightsError(f"{path.name} is not a readout file (no {FORMAT!r} marker)")
    return contents


def load_readout(path: str | Path, device: torch.device | str = "cpu") -> ReadoutNet:
    """The readout saved at ``path`` (a file or a run folder), in eval mode without gradients:
    the same log densities as the network that was saved."""
    file = readout_file(path)
    contents = _contents(file)
    recipe = ReadoutRecipe.from_dict(contents["recipe"])
    net = build_readout(recipe)
    load_strict(net.head, contents["head"], file.name)
    if "backbone" in contents:
        load_strict(net.extractor, contents["backbone"], file.name)
    return net.eval().requires_grad_(False).to(device)
