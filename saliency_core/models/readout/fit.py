"""Training a readout on a fixation dataset into a run folder, resumed where it stopped.

Loss (``loss``): ``nll`` — the negative log-likelihood of the fixations under the predicted
density (nats per fixation, DeepGaze's), or ``kld`` — Oyama-style pixel-wise KL divergence from
the blurred fixation density (σ = one degree, ``fixations.default_sigma`` of the input).
Adam on the head (``lr``) and, fine-tuned, on the backbone (``backbone_lr``). Each epoch ends
with the validation loss (epoch 0: the readout before training); the best epoch's weights are
``readout.pt``; training stops after ``patience`` epochs without improvement. A frozen
backbone's features are computed once per image and kept (float16 on the CPU). Mixed
precision (bfloat16 autocast) on CUDA.

Run folder: ``manifest.json`` (identity, split, notices, history, test scores),
``checkpoint_last.pt`` (head, backbone if fine-tuned, optimiser, epoch, RNG, history),
``readout.pt`` (the best weights with their recipe: a type-2 model), ``val_log.csv``.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from saliency_core.data import runs
from saliency_core.data.atomic import write_atomically, write_bytes_atomic
from saliency_core.data.datasets import Dataset
from saliency_core.data.fixations import default_sigma, density_map
from saliency_core.models.readout.data import (
    RESCALING,
    FixationImage,
    batches,
    load_fixation_images,
    split_ids,
)
from saliency_core.models.readout.files import READOUT_FILE, load_readout, save_readout
from saliency_core.models.readout.network import (
    ReadoutNet,
    ReadoutRecipe,
    build_readout,
    centre_bias_tensor,
)
from saliency_core.scoring.likelihood import nll, pixelwise_kld

MANIFEST = "manifest.json"
LAST = "checkpoint_last.pt"
VAL_LOG = "val_log.csv"
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


@dataclass
class ReadoutResult:
    run_dir: Path
    readout: Path
    history: list[dict[str, float]] = field(default_factory=list)
    test: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False


Progress = Callable[[int, int, float], None]
"""``progress(epoch, epochs, validation loss)`` after every epoch."""


def _device() -> torch.device:
    from saliency_core.models.cache import default_device

    return default_device()


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def cache_features(net: ReadoutNet, images: Sequence[FixationImage], device, batch_size: int):
    """Each image's backbone features, computed once (float16, CPU): a frozen backbone's
    features never change."""
    for batch in batches(images, batch_size):
        x = torch.stack([item.image for item in batch]).to(device)
        with torch.inference_mode(), _autocast(device):
            features = net.features(x).to("cpu", torch.float16)
        for item, feature in zip(batch, features, strict=True):
            item.features = feature


def _log_density(net: ReadoutNet, batch: Sequence[FixationImage], device) -> torch.Tensor:
    shape = batch[0].shape
    bias = centre_bias_tensor(shape, len(batch)).to(device)
    with _autocast(device):
        if batch[0].features is not None:
            features = torch.stack([item.features for item in batch]).to(device).float()
        else:
            features = net.features(torch.stack([item.image for item in batch]).to(device))
        return net.head(features, bias).float()


def _targets(batch: Sequence[FixationImage]) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.cat([torch.full((len(i.pixel),), k) for k, i in enumerate(batch)])
    return image, torch.cat([item.pixel for item in batch])


def _blurred(batch: Sequence[FixationImage]) -> torch.Tensor:
    """The blurred fixation densities of the batch at its input size (the ``kld`` target)."""
    height, width = batch[0].shape
    maps = []
    for item in batch:
        pixel = item.pixel.numpy()
        points = torch.stack([torch.from_numpy(pixel % width), torch.from_numpy(pixel // width)], 1)
        maps.append(
            torch.from_numpy(
                density_map(points.numpy(), (height, width), default_sigma((height, width)))
            )
        )
    return torch.stack(maps)


def batch_loss(log_p: torch.Tensor, batch, loss: str) -> tuple[torch.Tensor, int]:
    """The batch's loss (nats per fixation; ``kld``: per image) and its weight."""
    if loss == "kld":
        return pixelwise_kld(log_p, _blurred(batch).to(log_p.device)), len(batch)
    image, pixel = _targets(batch)
    return nll(log_p, image.to(log_p.device), pixel.to(log_p.device)), len(pixel)


def evaluate_split(net, images, device, batch_size: int, loss: str) -> dict[str, float]:
    """``loss`` (the training loss), ``nll`` (nats/fixation) and ``ig`` (bits/fixation over
    the centre bias) over ``images``."""
    loss_sum = nll_sum = centre_sum = 0.0
    weight = fixations = 0
    net.eval()
    with torch.no_grad():
        for batch in batches(images, batch_size):
            log_p = _log_density(net, batch, device).cpu()
            value, count = batch_loss(log_p, batch, loss)
            image, pixel = _targets(batch)
            bias = centre_bias_tensor(batch[0].shape, len(batch))
            loss_sum += float(value) * count
            nll_sum += float(nll(log_p, image, pixel)) * len(pixel)
            centre_sum += float(nll(bias, image, pixel)) * len(pixel)
            weight += count
            fixations += len(pixel)
    return {
        "loss": loss_sum / weight,
        "nll": nll_sum / fixations,
        "ig": (centre_sum - nll_sum) / fixations / math.log(2),
    }


def _save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    write_bytes_atomic(run_dir / MANIFEST, text.encode())


def _trainable(net: ReadoutNet) -> dict[str, torch.Tensor]:
    state = {f"head.{k}": v for k, v in net.head.state_dict().items()}
    if net.recipe.finetuned:
        state |= {f"extractor.{k}": v for k, v in net.extractor.state_dict().items()}
    return state


def _optimiser(net: ReadoutNet, settings: ReadoutTraining) -> torch.optim.Optimizer:
    groups = [{"params": list(net.head.parameters()), "lr": settings.lr}]
    if settings.recipe.finetuned:
        groups.append({"params": list(net.extractor.parameters()), "lr": settings.backbone_lr})
    return torch.optim.Adam(groups)


def _identity(settings: ReadoutTraining, dataset_root: Path) -> dict[str, Any]:
    return {"dataset": str(Path(dataset_root).resolve()), "settings": settings.to_dict()}


def train_readout(
    settings: ReadoutTraining,
    dataset_root: Path,
    run_dir: Path,
    progress: Progress | None = None,
) -> ReadoutResult:
    """Train ``settings.recipe`` on the dataset at ``dataset_root`` into ``run_dir`` (see the
    module docstring); a rerun of the same settings resumes after the last finished epoch."""
    dataset_root, run_dir = Path(dataset_root), Path(run_dir)
    identity = _identity(settings, dataset_root)
    refusal = runs.overlap_refusal(dataset_root, run_dir) or runs.resume_refusal(
        run_dir / MANIFEST,
        identity,
        lambda record: {"dataset": record.get("dataset"), "settings": record.get("settings")},
    )
    if refusal:
        raise ValueError(refusal)
    run_dir.mkdir(parents=True, exist_ok=True)
    dataset = Dataset(settings.recipe.trained_on or dataset_root.name, dataset_root)
    ids = [stem for stem in dataset.ids if dataset.fixations_path(stem) is not None]
    ids = ids[: settings.limit] if settings.limit else ids
    split = split_ids(ids, settings.recipe.seed)
    device = _device()
    torch.manual_seed(settings.recipe.seed)
    net = build_readout(settings.recipe, device).train()
    data, notices = {}, []
    for name, stems in split.items():
        data[name], found = load_fixation_images(dataset, stems, settings.recipe)
        notices += found
    cached = not settings.recipe.finetuned
    started = time.perf_counter()
    if cached:
        net.extractor.eval()
        for images in data.values():
            cache_features(net, images, device, settings.batch_size)
    optimiser = _optimiser(net, settings)
    generator = torch.Generator().manual_seed(settings.recipe.seed)
    history: list[dict[str, float]] = []
    best, start = None, 0
    if (run_dir / LAST).is_file():
        state = torch.load(run_dir / LAST, map_location="cpu", weights_only=True)
        net.load_state_dict({**net.state_dict(), **state["model"]})
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        history, best, start = list(state["history"]), state["best"], state["epoch"]
    manifest = {
        **identity,
        "label": settings.recipe.label,
        "split": {
            **split,
            "seed": settings.recipe.seed,
            "fractions": SPLIT_RULE,
        },
        "input": f"long side {settings.recipe.input_size} px, sides multiples of 32 (ViT: square)",
        "fixation_rescaling": RESCALING,
        "notices": notices,
        "features_cached": cached,
        "device": str(device),
    }
    _write_manifest(run_dir, manifest)  # the identity a rerun must match, from the start
    if not history:  # epoch 0: the untrained readout, the yardstick of the first epochs
        scores = evaluate_split(net, data["val"], device, settings.batch_size, settings.loss)
        history.append({"epoch": 0, **{f"val_{k}": v for k, v in scores.items()}})
        best = scores["loss"]
        save_readout(net, run_dir / READOUT_FILE)
    stopped_early = False
    for epoch in range(start, settings.epochs):
        if net.recipe.finetuned:
            net.train()
        else:
            net.head.train()
        for batch in batches(data["train"], settings.batch_size, generator):
            value, _count = batch_loss(_log_density(net, batch, device), batch, settings.loss)
            optimiser.zero_grad(set_to_none=True)
            value.backward()
            optimiser.step()
        scores = evaluate_split(net, data["val"], device, settings.batch_size, settings.loss)
        history.append({"epoch": epoch + 1, **{f"val_{k}": v for k, v in scores.items()}})
        if best is None or scores["loss"] < best:
            best = scores["loss"]
            save_readout(net, run_dir / READOUT_FILE)
        _save(
            run_dir / LAST,
            {
                "model": _trainable(net),
                "optimiser": optimiser.state_dict(),
                "generator": generator.get_state(),
                "history": history,
                "best": best,
                "epoch": epoch + 1,
            },
        )
        write_atomically(
            run_dir / VAL_LOG, lambda tmp: pd.DataFrame(history).to_csv(tmp, index=False)
        )
        if progress:
            progress(epoch + 1, settings.epochs, scores["loss"])
        best_epoch = min(history, key=lambda row: row["val_loss"])["epoch"]
        if epoch + 1 - best_epoch >= settings.patience:
            stopped_early = True
            break
    best_net = load_readout(run_dir, device)
    test = evaluate_split(best_net, data["test"], device, settings.batch_size, settings.loss)
    manifest |= {
        "history": history,
        "test": test,
        "stopped_early": stopped_early,
        "seconds": time.perf_counter() - started,
    }
    _write_manifest(run_dir, manifest)
    return ReadoutResult(run_dir, run_dir / READOUT_FILE, history, test, stopped_early)
