"""The training function: one run of :class:`TrainSettings` on a dataset into a run folder,
resumed where an earlier run of the same settings stopped. One function serves every launcher:
under an initialised ``torch.distributed`` process group it trains data-parallel (DDP, each rank
its share of every epoch) and only rank 0 writes the folder.

Learning rate at global step s of epoch e (``steps`` per epoch), torchvision's recipe:
    lr = base × warm-up(s) × decay, warm-up(s) = f + (1 − f)·s/W for s < W in the first epoch
    (f = 0.001, W = min(warmup_iters, steps − 1)), else 1; decay = γ^(milestones ≤ e) for the
    step schedule, ½(1 + cos(π·s/S)) over all S steps for the cosine one.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from saliency_core.train import data as train_data
from saliency_core.train.model import build_model, parameter_groups
from saliency_core.train.recipe import WARMUP_FACTOR, TrainSettings
from saliency_core.train.run_folder import (
    BEST,
    FINAL,
    LAST,
    LOG,
    VALIDATION,
    RunFolder,
    accuracy_row,
    better,
    identity,
    versions,
)
from saliency_core.train.session import (
    Progress,
    StepReport,
    any_rank,
    ranks,
    restore_rng,
    rng_state,
    training_device,
)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    final_weights: Path
    best_weights: Path
    classes: tuple[str, ...]
    epochs_done: int
    validation: list  # DetectionAccuracy per finished epoch
    stopped: bool = False
    """Stopped before the last epoch (``stop`` was set); rerun to resume."""


def lr_factor(settings: TrainSettings, steps: int, step: int) -> float:
    """The multiplier of the base lr before global step ``step`` (see the module docstring)."""
    epoch = step // steps
    warmup = min(settings.warmup_iters, steps - 1)
    factor = 1.0
    if epoch == 0 and step < warmup:
        alpha = step / warmup
        factor = WARMUP_FACTOR * (1 - alpha) + alpha
    if settings.schedule == "cosine":
        return factor * 0.5 * (1 + math.cos(math.pi * step / (steps * settings.epochs)))
    return factor * settings.gamma ** sum(epoch >= milestone for milestone in settings.lr_steps)


def validate(model: nn.Module, categories, dataset, split: str, device: torch.device):
    """mAP of ``model`` on ``split`` (the accuracy module's score_model); train mode after."""
    from saliency_core.evaluate.detection import score_model

    try:
        return score_model(model, categories, dataset, split, device)
    finally:
        model.train()


def accuracy_from_row(row: dict[str, Any]):
    """A DetectionAccuracy back from its ``val_map.csv`` row."""
    from saliency_core.scoring.detection import DetectionAccuracy

    def per_class(prefix: str) -> dict[str, float]:
        return {k[len(prefix) :]: float(v) for k, v in row.items() if k.startswith(prefix)}

    return DetectionAccuracy(
        map=float(row["map"]),
        map_50=float(row["map_50"]),
        map_75=float(row["map_75"]),
        per_class=per_class("ap/"),
        per_class_50=per_class("ap50/"),
        images=int(row["images"]),
    )


def training_step(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    images,
    targets,
    device: torch.device,
    amp: bool,
) -> dict[str, float]:
    """One SGD step on a batch: the loss is the sum of the model's loss parts (each a mean
    over the batch, so DDP's averaged gradients are those of the global batch)."""
    images = [image.to(device, non_blocking=True) for image in images]
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    with torch.autocast(device.type, enabled=amp):
        parts = network(images, targets)
        loss = sum(parts.values())
    if not torch.isfinite(loss):
        raise ValueError(
            f"The loss is {loss.item()}: training diverged; lower the learning rate (--lr)."
        )
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return {"loss": loss.item(), **{k: v.item() for k, v in parts.items()}}


class _Run:
    """The state of one training session (see :func:`train`)."""

    def __init__(self, settings, dataset_root, run_dir, device, progress, stop) -> None:
        self.settings, self.progress, self.stop = settings, progress, stop
        self.dataset_root = Path(dataset_root)
        self.rank, self.world = ranks()
        self.main = self.rank == 0
        self.device = training_device(device)
        self.folder = RunFolder(Path(run_dir))
        self.folder.check(settings, self.dataset_root)
        self.dataset = train_data.open_dataset(self.dataset_root, settings.split_rule)
        self.dataset.split(settings.val_split)  # a missing split is named before training
        annotations = self.dataset.split(settings.train_split)
        if not annotations:
            raise ValueError(f"The split {settings.train_split!r} of {self.dataset.root} is empty")
        self.samples = train_data.DetectionSamples(
            annotations, self.dataset.classes, train_data.sample_source(settings), settings.seed
        )
        self.steps = train_data.batches_per_epoch(len(annotations), settings.batch_size, self.world)
        torch.manual_seed(settings.seed)
        self.built = build_model(settings, self.dataset.classes)
        self.model = self.built.model.to(self.device)
        self.optimizer = torch.optim.SGD(
            parameter_groups(self.model),
            lr=settings.lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, partial(lr_factor, settings, self.steps)
        )
        self.amp = settings.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.epoch, self.step, self.best, self.seconds = 0, 0, None, 0.0
        self.notices: dict[str, None] = {}
        """What the arm's sampler fell back on (ordered, each once), for the manifest."""
        self.log = self.folder.read_table(LOG)
        self.validation_rows = self.folder.read_table(VALIDATION)
        self._resume()
        self.network = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=ids)

    def _resume(self) -> None:
        state = self.folder.load_last()
        if state is None:
            self.log, self.validation_rows = [], []
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best, self.seconds = state["best_map"], float(state["seconds"])
        self.notices = dict.fromkeys(state.get("notices", []))
        position = (self.epoch, self.step)
        self.log = [row for row in self.log if (row["epoch"], row["step"]) < position]
        self.validation_rows = [r for r in self.validation_rows if r["epoch"] < self.epoch]

    def checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "best_map": self.best,
            "seconds": self.seconds,
            "notices": list(self.notices),
        }

    def save(self, status: str, best: bool = False) -> None:
        """Checkpoint (and the best one), the log tables and the manifest; rank 0 only."""
        if not self.main:
            return
        state = self.checkpoint()
        self.folder.write_table(LOG, self.log)
        self.folder.write_table(VALIDATION, self.validation_rows)
        self.folder.save(LAST, state)
        if best:
            self.folder.save(BEST, state)
        self.write_manifest(status)

    def write_manifest(self, status: str) -> None:
        self.folder.write_settings(self.settings)
        self.folder.write_manifest(
            {
                **identity(self.settings, self.dataset_root),
                "status": status,
                "epochs_done": self.epoch,
                "steps_per_epoch": self.steps,
                "seconds": round(self.seconds, 3),
                "device": str(self.device),
                "world_size": self.world,
                "amp": self.amp,
                "versions": versions(),
                "model": {
                    "categories": list(self.built.categories),
                    "new_head": self.built.new_head,
                    "trainable_backbone_layers": self.built.trainable_stages,
                    "frozen_batch_norm": self.built.frozen_norm,
                },
                "data": self.dataset.summary(),
                "notices": list(self.notices),
                "workers": self.settings.workers,
            }
        )

    def one_step(self, images, targets) -> dict[str, float]:
        return training_step(
            self.network, self.optimizer, self.scaler, images, targets, self.device, self.amp
        )

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; False when stopped part-way."""
        loader = train_data.epoch_loader(
            self.samples,
            self.settings.batch_size,
            self.settings.workers,
            self.epoch,
            rank=self.rank,
            world=self.world,
            skip_batches=self.step,
        )
        waited = time.perf_counter()
        for images, targets, notices in loader:
            self.notices.update(dict.fromkeys(notices))
            started = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            losses = self.one_step(images, targets)
            self.scheduler.step()
            finished = time.perf_counter()
            self.seconds += finished - waited
            self.record(losses, lr, len(images), started - waited, finished - started)
            self.step += 1
            if any_rank(self.stop is not None and self.stop.is_set(), self.world, self.device):
                return False
            waited = time.perf_counter()
        return True

    def record(self, losses, lr, images, data_s, step_s) -> None:
        row = {"epoch": self.epoch, "step": self.step, "lr": lr, **losses}
        row |= {"images_per_s": images * self.world / (data_s + step_s), "data_s": data_s}
        row["step_s"] = step_s
        self.log.append(row)
        if self.progress is not None and self.main:
            done = self.epoch * self.steps + self.step + 1
            total = self.steps * self.settings.epochs
            self.progress(
                StepReport(
                    self.epoch + 1,
                    self.settings.epochs,
                    self.step + 1,
                    self.steps,
                    done,
                    total,
                    losses["loss"],
                    lr,
                )
            )

    def end_epoch(self) -> None:
        """Validate (rank 0), move to the next epoch, checkpoint (and the best)."""
        improved = False
        if self.main:
            started = time.perf_counter()
            accuracy = validate(
                self.model,
                self.built.categories,
                self.dataset,
                self.settings.val_split,
                self.device,
            )
            self.seconds += time.perf_counter() - started
            self.validation_rows.append(accuracy_row(self.epoch + 1, accuracy))
            improved = better(accuracy.map, self.best)
            self.best = accuracy.map if improved else self.best
        self.epoch, self.step = self.epoch + 1, 0
        self.save("running", best=improved)
        if self.world > 1:
            dist.barrier()

    def result(self, stopped: bool) -> TrainResult:
        return TrainResult(
            run_dir=self.folder.root,
            final_weights=self.folder.path(FINAL),
            best_weights=self.folder.path(BEST),
            classes=self.dataset.classes,
            epochs_done=self.epoch,
            validation=[accuracy_from_row(row) for row in self.validation_rows],
            stopped=stopped,
        )

    def run(self) -> TrainResult:
        while self.epoch < self.settings.epochs:
            if not self.run_epoch():
                self.save("stopped")
                return self.result(stopped=True)
            self.end_epoch()
        if self.main:
            self.folder.write_final(self.model.state_dict(), self.dataset.classes)
            self.write_manifest("finished")
        return self.result(stopped=False)


def train(
    settings: TrainSettings,
    dataset_root: Path,
    run_dir: Path,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    device: torch.device | str | None = None,
) -> TrainResult:
    """Fine-tune ``settings.detector`` on ``dataset_root``'s ``train_split`` into ``run_dir``,
    validating on ``val_split`` after every epoch; resumes from ``checkpoint_last.pt`` when the
    folder holds a run of the same settings (refused when they differ). ``stop`` set: the step
    under way finishes, a checkpoint is saved and the result says ``stopped``. ``device``: CUDA
    when present else CPU (``SALIENCY_DEVICE`` overrides)."""
    return _Run(settings, dataset_root, run_dir, device, progress, stop).run()
