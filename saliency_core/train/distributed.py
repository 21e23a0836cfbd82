"""Launchers of the trainings (:data:`TRAININGS`: the detector fine-tuning
:func:`saliency_core.train.loop.train`, the saliency readout
:func:`saliency_core.train.readout.fit.train_readout`) over several processes: ``torchrun``
(PyTorch's elastic launcher, one process per device, any number of machines) and Ray Train's
``TorchTrainer`` (Ray, the evaluate engine's optional backend). Both set up a
``torch.distributed`` process group (gloo on CPU, NCCL on CUDA); the training function then
trains data-parallel with DDP and only rank 0 writes the run folder (on several machines it must
be on a shared file system)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from saliency_core.models.extras import require
from saliency_core.train.loop import train
from saliency_core.train.readout.fit import train_readout
from saliency_core.train.readout.settings import ReadoutTraining
from saliency_core.train.recipe import TrainSettings
from saliency_core.train.run_folder import MANIFEST

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR")


@dataclass(frozen=True)
class Training:
    """A training the launchers run: its settings class (``to_dict``/``from_dict`` carry the
    settings to Ray's workers), its function ``(settings, dataset_root, run_dir, *, device)``
    writing a run folder whose manifest has ``status``, ``epochs_done``, ``world_size`` and
    ``seconds``, and the command module torchrun reruns (``python -m MODULE argv``)."""

    settings: type
    function: Callable[..., Any]
    command: str


TRAININGS: dict[str, Training] = {
    "detector": Training(TrainSettings, train, "saliency_core.commands.train"),
    "readout": Training(ReadoutTraining, train_readout, "saliency_core.commands.readout"),
}


def training_of(settings: Any) -> str:
    """The name in :data:`TRAININGS` of the training that takes ``settings``."""
    return next(name for name, entry in TRAININGS.items() if isinstance(settings, entry.settings))


def under_torchrun() -> bool:
    """Whether this process was started by torchrun (its rendezvous variables are set)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def torchrun_command(training: str, argv: list[str], processes: int) -> list[str]:
    """The command that reruns ``training``'s command (``saliency train`` or ``saliency
    readout``) with ``argv`` under torchrun with ``processes`` processes on this machine
    (several machines: run ``torchrun --nnodes … -m saliency_core.commands.train …`` on each)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        TRAININGS[training].command,
        *argv,
    ]


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def local_device(requested: str | None = None) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` when CUDA is present (and not refused), else
    the CPU."""
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    index = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """The torchrun process group (from its environment) for the duration of the block."""
    dist.init_process_group(backend_for(device))
    try:
        yield
    finally:
        dist.destroy_process_group()


def ray_train(
    settings: TrainSettings | ReadoutTraining,
    dataset_root: Path,
    run_dir: Path,
    workers: int,
    use_gpu: bool,
    address: str | None = None,
) -> dict:
    """Train with Ray Train's TorchTrainer: ``workers`` processes (one GPU each with
    ``use_gpu``), each calling the training function of ``settings`` (:func:`training_of`)
    inside Ray's process group; returns rank 0's manifest's status, epochs done, world size and
    seconds."""
    require("ray.train.torch", "requirements-ray.txt", "--launcher ray (Ray Train)")
    import ray
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    if address:
        ray.init(address=address)
    config = {
        "training": training_of(settings),
        "settings": settings.to_dict(),
        "dataset_root": str(Path(dataset_root).resolve()),
        "run_dir": str(Path(run_dir).resolve()),
    }
    trainer = TorchTrainer(
        _ray_worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
    )
    trainer.fit()
    manifest = json.loads((Path(run_dir) / MANIFEST).read_text())
    return {key: manifest[key] for key in ("status", "epochs_done", "world_size", "seconds")}


def _ray_worker(config: dict) -> None:
    """One Ray Train worker: the training function on Ray's device and process group (rank 0
    writes the run folder, whose manifest the driver reads)."""
    from ray.train.torch import get_device

    training = TRAININGS[config["training"]]
    training.function(
        training.settings.from_dict(config["settings"]),
        Path(config["dataset_root"]),
        Path(config["run_dir"]),
        device=get_device(),
    )
