"""Training a readout on a fixation dataset into a run folder, resumed where it stopped — mid-epoch
too, to the weights an uninterrupted run reaches.

Adam on the head (``lr``) and, fine-tuned, on the backbone (``backbone_lr``); the loss and scores
are :mod:`~saliency_core.train.readout.objective`'s. Each epoch's batches come in an order seeded
by (seed, epoch) (:func:`~saliency_core.train.readout.data.epoch_batches`), and nothing else in a
step is random, so a run checkpointed after step k and rerun continues with step k + 1 exactly.
Each epoch ends with the validation loss (epoch 0: the readout before training); the best epoch's
weights are ``readout.pt``; training stops after ``patience`` epochs without improvement. A
frozen backbone's features are computed once per image and kept (float16 on the CPU). Under an
initialised ``torch.distributed`` process group it trains data-parallel (DDP: each rank its share
of every epoch's batches, its loss weighted by its share of the step's fixations so that the
averaged gradient is the global batch's; every rank validates, rank 0 writes).

Run folder (:class:`~saliency_core.train.run_folder.RunFolder`, as ``saliency train``'s):
``manifest.json`` (identity, split, notices, history, status; ``test`` scores once finished),
``checkpoint_last.pt`` (the trained weights — head, backbone if fine-tuned —, optimiser, RNG
states, epoch, step, best validation loss, seconds), ``readout.pt`` (the best weights with their
recipe: a type-2 model), ``val_log.csv`` (one row per epoch), ``train_log.parquet`` (per step).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from saliency_core.data.datasets import Dataset
from saliency_core.models.readout.files import READOUT_FILE, load_readout, save_readout
from saliency_core.models.readout.network import ReadoutNet, build_readout
from saliency_core.train.readout.data import (
    RESCALING,
    epoch_batches,
    load_fixation_images,
    split_ids,
)
from saliency_core.train.readout.objective import batch_loss, cache_features, evaluate_split
from saliency_core.train.readout.objective import log_density as _log_density
from saliency_core.train.readout.settings import SPLIT_RULE, ReadoutTraining
from saliency_core.train.run_folder import LAST, LOG, MANIFEST, RunFolder, RunRefused, versions
from saliency_core.train.run_folder import identity as run_identity
from saliency_core.train.session import (
    Progress,
    StepReport,
    any_rank,
    ranks,
    restore_rng,
    rng_state,
    training_device,
)

VAL_LOG = "val_log.csv"
CHECKPOINT_KEYS = ("model", "optimiser", "rng", "epoch", "step", "best", "seconds")

__all__ = ["LAST", "MANIFEST", "VAL_LOG", "ReadoutResult", "train_readout"]


@dataclass
class ReadoutResult:
    run_dir: Path
    readout: Path
    history: list[dict[str, float]] = field(default_factory=list)
    test: dict[str, float] = field(default_factory=dict)
    """Empty when stopped, and on ranks other than 0."""
    stopped_early: bool = False
    stopped: bool = False
    """Stopped before the end (``stop`` was set); rerun to resume."""
    epochs_done: int = 0


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


def _global_mean(value: torch.Tensor, count: int, world: int) -> tuple[torch.Tensor, float]:
    """A rank's loss ``value``, a mean over its ``count`` fixations (or images), rescaled to
    ``value · count · world / Σ count`` (the sum over the ranks), so that DDP's average of the
    ranks' gradients is the gradient of the mean over every rank's fixations — the step one
    process takes on the global batch —, with that mean's value (``Σ value · count / Σ
    count``). One process: ``value`` and its value."""
    if world == 1:
        return value, value.item()
    totals = torch.tensor([float(count), value.item() * count], device=value.device)
    dist.all_reduce(totals)
    total, weighted = totals.tolist()
    return value * (count * world / total), weighted / total


class _ReadoutRun:
    """The state of one readout training session (see :func:`train_readout`)."""

    def __init__(self, settings, dataset_root, run_dir, device, progress, stop) -> None:
        self.settings, self.progress, self.stop = settings, progress, stop
        self.recipe = settings.recipe
        self.dataset_root = Path(dataset_root)
        self.rank, self.world = ranks()
        self.main = self.rank == 0
        self.device = training_device(device)
        self.folder = RunFolder(Path(run_dir))
        self.folder.check(settings, self.dataset_root)
        self.folder.root.mkdir(parents=True, exist_ok=True)
        self._load_data()
        torch.manual_seed(self.recipe.seed)
        self.net = build_readout(self.recipe, self.device).train()
        if self.cached:
            self.net.extractor.eval()
            for images in self.data.values():
                cache_features(self.net, images, self.device, settings.batch_size)
        self.optimiser = _optimiser(self.net, settings)
        self.steps = len(self.epoch_order(0))
        self.epoch, self.step, self.best, self.seconds = 0, 0, None, 0.0
        self.history = self.folder.read_table(VAL_LOG)
        self.log = self.folder.read_table(LOG)
        self._resume()
        self.module = None
        if self.world > 1:
            trained = self.net.head if self.cached else self.net
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module = DistributedDataParallel(trained, device_ids=ids)

    def _load_data(self) -> None:
        dataset = Dataset(self.recipe.trained_on or self.dataset_root.name, self.dataset_root)
        ids = [stem for stem in dataset.ids if dataset.fixations_path(stem) is not None]
        limit = self.settings.limit
        self.split = split_ids(ids[:limit] if limit else ids, self.recipe.seed)
        self.data, self.notices = {}, []
        for name, stems in self.split.items():
            self.data[name], found = load_fixation_images(dataset, stems, self.recipe)
            self.notices += found
        if not self.data["train"]:
            raise ValueError(f"{self.dataset_root}: no training image has fixations")
        self.cached = not self.recipe.finetuned

    def epoch_order(self, epoch: int) -> list:
        settings = self.settings
        return epoch_batches(
            self.data["train"], settings.batch_size, self.recipe.seed, epoch, self.rank, self.world
        )

    def _resume(self) -> None:
        state = self.folder.load_last()
        if state is None:
            self.history, self.log = [], []
            return
        missing = [key for key in CHECKPOINT_KEYS if key not in state]
        if missing:
            raise RunRefused(
                f"{self.folder.path(LAST)} lacks {', '.join(missing)} (written by an earlier "
                "version of saliency readout); delete it to start over."
            )
        self.net.load_state_dict({**self.net.state_dict(), **state["model"]})
        self.optimiser.load_state_dict(state["optimiser"])
        restore_rng(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best, self.seconds = state["best"], float(state["seconds"])
        self.history = [row for row in self.history if row["epoch"] <= self.epoch]
        position = (self.epoch, self.step)
        self.log = [row for row in self.log if (row["epoch"], row["step"]) < position]

    def checkpoint(self) -> dict[str, Any]:
        return {
            "model": _trainable(self.net),
            "optimiser": self.optimiser.state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "best": self.best,
            "seconds": self.seconds,
        }

    def save(self, status: str) -> None:
        """The tables, the checkpoint and the manifest (rank 0)."""
        if not self.main:
            return
        self.folder.write_table(VAL_LOG, self.history)
        self.folder.write_table(LOG, self.log)
        self.folder.save(LAST, self.checkpoint())
        self.write_manifest(status)

    def write_manifest(self, status: str, **finished: Any) -> None:
        if not self.main:
            return
        split = {**self.split, "seed": self.recipe.seed, "fractions": SPLIT_RULE}
        self.folder.write_manifest(
            {
                **run_identity(self.settings, self.dataset_root),
                "status": status,
                "label": self.recipe.label,
                "split": split,
                "input": f"long side {self.recipe.input_size} px, sides multiples of 32 "
                "(ViT: square)",
                "fixation_rescaling": RESCALING,
                "notices": self.notices,
                "features_cached": self.cached,
                "device": str(self.device),
                "world_size": self.world,
                "amp": self.device.type == "cuda",
                "epochs_done": self.epoch,
                "steps_per_epoch": self.steps,
                "seconds": round(self.seconds, 3),
                "versions": versions(),
                "history": self.history,
                **finished,
            }
        )

    def _validate(self) -> None:
        """The validation scores as the history's row of the epoch just finished; a better
        loss than the best so far saves ``readout.pt``."""
        settings, started = self.settings, time.perf_counter()
        scores = evaluate_split(
            self.net, self.data["val"], self.device, settings.batch_size, settings.loss
        )
        self.seconds += time.perf_counter() - started
        self.history.append({"epoch": self.epoch, **{f"val_{k}": v for k, v in scores.items()}})
        if self.best is None or scores["loss"] < self.best:
            self.best = scores["loss"]
            if self.main:
                save_readout(self.net, self.folder.path(READOUT_FILE))

    def _train_mode(self) -> None:
        (self.net.head if self.cached else self.net).train()

    def one_step(self, batch) -> float:
        """One Adam step on this rank's ``batch``; the loss of the global batch (every rank's
        batch: its fixations' mean NLL, or its images' mean KLD)."""
        log_p = _log_density(self.net, batch, self.device, self.module)
        value, count = batch_loss(log_p, batch, self.settings.loss)
        objective, loss = _global_mean(value, count, self.world)
        if not math.isfinite(loss):  # the global value: every rank stops together
            raise ValueError(
                f"The loss is {loss}: training diverged; lower the learning rate (--lr)."
            )
        self.optimiser.zero_grad(set_to_none=True)
        objective.backward()
        self.optimiser.step()
        return loss

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; False when stopped part-way."""
        self._train_mode()
        waited = time.perf_counter()
        for batch in self.epoch_order(self.epoch)[self.step :]:
            lr = self.optimiser.param_groups[0]["lr"]
            loss = self.one_step(batch)
            seconds = time.perf_counter() - waited
            self.seconds += seconds
            self.record(loss, lr, len(batch), seconds)
            self.step += 1
            if any_rank(self.stop is not None and self.stop.is_set(), self.world, self.device):
                return False
            waited = time.perf_counter()
        return True

    def record(self, loss: float, lr: float, images: int, seconds: float) -> None:
        row = {"epoch": self.epoch, "step": self.step, "loss": loss, "lr": lr}
        self.log.append(row | {"images_per_s": images * self.world / seconds, "step_s": seconds})
        if self.progress is not None and self.main:
            epochs = self.settings.epochs
            done = self.epoch * self.steps + self.step + 1
            self.progress(
                StepReport(
                    self.epoch + 1,
                    epochs,
                    self.step + 1,
                    self.steps,
                    done,
                    self.steps * epochs,
                    loss,
                    lr,
                )
            )

    def patience_over(self) -> bool:
        """Whether ``patience`` epochs passed without a better validation loss."""
        best_epoch = min(self.history, key=lambda row: row["val_loss"])["epoch"]
        return self.epoch - best_epoch >= self.settings.patience

    def result(self, **fields: Any) -> ReadoutResult:
        readout = self.folder.path(READOUT_FILE)
        return ReadoutResult(
            self.folder.root, readout, self.history, epochs_done=self.epoch, **fields
        )

    def run(self) -> ReadoutResult:
        self.write_manifest("running")  # the identity a rerun must match, from the start
        if not self.history:  # epoch 0: the untrained readout, the yardstick of the first epochs
            self._validate()
        stopped_early = self.patience_over()
        while self.epoch < self.settings.epochs and not stopped_early:
            if not self.run_epoch():
                self.save("stopped")
                return self.result(stopped=True)
            self.epoch, self.step = self.epoch + 1, 0
            self._validate()
            self.save("running")
            stopped_early = self.patience_over()
        test = {}
        if self.main:
            best = load_readout(self.folder.root, self.device)
            settings = self.settings
            test = evaluate_split(
                best, self.data["test"], self.device, settings.batch_size, settings.loss
            )
            self.write_manifest("finished", test=test, stopped_early=stopped_early)
        return self.result(test=test, stopped_early=stopped_early)


def train_readout(
    settings: ReadoutTraining,
    dataset_root: Path,
    run_dir: Path,
    progress: Progress | None = None,
    *,
    stop: threading.Event | None = None,
    device: torch.device | str | None = None,
) -> ReadoutResult:
    """Train ``settings.recipe`` on the dataset at ``dataset_root`` into ``run_dir`` (see the
    module docstring); a rerun of the same settings resumes at the step where the last run
    stopped (refused when the settings differ). ``stop`` set: the step under way finishes, a
    checkpoint is saved and the result says ``stopped``. ``progress`` gets a
    :class:`~saliency_core.train.session.StepReport` after every step."""
    return _ReadoutRun(settings, dataset_root, run_dir, device, progress, stop).run()
