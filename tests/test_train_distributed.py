"""Data-parallel training with 2 CPU processes (gloo): one DDP step through the loop's
``training_step`` (the readout's ``one_step``) equals the single-process step on the same global
batch, and ``train`` (``train_readout``) under the process group gives a model (rank 0 writes
the run folder); ``--launcher torchrun`` reruns each command under torchrun. Ray Train: an
optional extra."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from optional_extras import require_module
from torch import nn

from saliency_core.commands import common
from saliency_core.commands import readout as readout_command
from saliency_core.commands import train as train_command
from saliency_core.data.datasets import SAMPLE_DIR
from saliency_core.data.synthetic import write_synthetic_voc
from saliency_core.models import gaze
from saliency_core.models.readout import ReadoutRecipe
from saliency_core.train.distributed import TORCHRUN_VARIABLES
from saliency_core.train.loop import training_step
from saliency_core.train.readout import ReadoutTraining
from saliency_core.train.readout.fit import _ReadoutRun
from saliency_core.train.recipe import TrainSettings

WORLD = 2
SETTINGS = TrainSettings(
    detector="SSDlite320 MobileNetV3",
    weights="untrained",
    epochs=1,
    batch_size=2,
    lr=0.01,
    warmup_iters=2,
    lr_steps=(),
    input_size=96,
    workers=0,
    amp=False,
)
READOUT = ReadoutTraining(
    ReadoutRecipe("ResNet-50", "untrained", kind="bi", input_size=64, trained_on="sample"),
    epochs=1,
    batch_size=1,
    lr=1e-2,
    limit=5,  # a 3/1/1 split: 3 batches of 1 over 2 ranks, 2 steps each (one wrapped round)
)


class TinyDetector(nn.Module):
    """A detector-shaped model: (images, targets) -> loss parts, each a mean over the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 4)

    def forward(self, images, targets) -> dict[str, torch.Tensor]:
        features = torch.stack([image.mean(dim=(1, 2)) for image in images])
        wanted = torch.stack([target["boxes"][0] for target in targets])
        return {"box": ((self.linear(features) - wanted) ** 2).mean()}


def _batch() -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    generator = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 8, 8, generator=generator) for _ in range(4)]
    targets = [{"boxes": torch.rand(1, 4, generator=generator)} for _ in range(4)]
    return images, targets


def _step(model: nn.Module, network: nn.Module, images, targets) -> list[torch.Tensor]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    training_step(network, optimizer, scaler, images, targets, torch.device("cpu"), False)
    return [parameter.detach().clone() for parameter in model.parameters()]


def _worker(rank: int, port: int, out: str, voc: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)  # fmt: skip
    try:
        torch.manual_seed(0)
        model = TinyDetector()
        images, targets = _batch()
        share = slice(rank * 2, rank * 2 + 2)  # each rank half of the global batch of 4
        network = nn.parallel.DistributedDataParallel(model)
        after = _step(model, network, images[share], targets[share])
        torch.save(after, Path(out) / f"ddp_step_{rank}.pt")
        from saliency_core.train.loop import train

        train(SETTINGS, Path(voc), Path(out) / "run", device="cpu")
    finally:
        dist.destroy_process_group()


def _pair(run: _ReadoutRun) -> list:
    """Two images of one size with different numbers of fixations (so that the mean of the two
    ranks' means is not the mean over the global batch's fixations)."""
    images = [image for split in run.data.values() for image in split]
    shape = next(i.shape for i in images if sum(j.shape == i.shape for j in images) > 1)
    return [image for image in images if image.shape == shape][:2]


def _head_gradient(run_dir: Path, rank: int | None) -> dict[str, torch.Tensor]:
    """The readout head's gradient after one ``one_step``: on image ``rank`` of the pair, or
    (``rank`` None) on both."""
    run = _ReadoutRun(READOUT, SAMPLE_DIR, run_dir, "cpu", None, None)
    pair = _pair(run)
    run.one_step(pair if rank is None else [pair[rank]])
    named = run.net.head.named_parameters()
    return {name: p.grad.clone() for name, p in named if p.grad is not None}


def _readout_worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)  # fmt: skip
    try:
        gradient = _head_gradient(Path(out) / "step", rank)
        torch.save(gradient, Path(out) / f"readout_grad_{rank}.pt")
        from saliency_core.train.readout import train_readout

        train_readout(READOUT, SAMPLE_DIR, Path(out) / "run", device="cpu")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_gloo_workers_step_like_one_process_and_give_a_model(tmp_path) -> None:
    voc = write_synthetic_voc(tmp_path / "voc")
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), str(voc)), nprocs=WORLD, join=True)
    torch.manual_seed(0)
    model = TinyDetector()
    expected = _step(model, model, *_batch())
    for rank in range(WORLD):
        stepped = torch.load(tmp_path / f"ddp_step_{rank}.pt", weights_only=True)
        for got, want in zip(stepped, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert not torch.equal(expected[0], TinyDetector().linear.weight)  # the step moved it
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (manifest["status"], manifest["world_size"], manifest["steps_per_epoch"]) == (
        "finished",
        2,
        3,  # 14 train images over 2 ranks: 7 each, 3 full batches of 2
    )
    assert (tmp_path / "run" / "model_final.pt").is_file()


def test_two_gloo_workers_train_a_readout_like_one_process(tmp_path) -> None:
    mp.spawn(_readout_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pair = _pair(_ReadoutRun(READOUT, SAMPLE_DIR, tmp_path / "one", "cpu", None, None))
        expected = _head_gradient(tmp_path / "one", None)
    finally:
        torch.set_num_threads(threads)
    assert len(pair[0].pixel) != len(pair[1].pixel)  # unequal shares: weighting matters
    scale = max(want.abs().max().item() for want in expected.values())
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"readout_grad_{rank}.pt", weights_only=True)
        assert got.keys() == expected.keys() and expected
        for name, want in expected.items():  # float sums in another order: 1e-5 of the largest
            torch.testing.assert_close(got[name], want, rtol=1e-4, atol=1e-5 * scale)
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["status"], manifest["world_size"], manifest["epochs_done"]) == (
        "finished",
        2,
        1,
    )
    assert manifest["steps_per_epoch"] == 2  # 3 batches dealt to 2 ranks, padded to 4
    rgb = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    predicted = gaze.predict_type2(str(run), rgb)
    assert predicted.label == "Readout (BI) on ResNet-50 [UNTRAINED backbone] · trained on sample"
    assert predicted.log_density.shape == (40, 56)
    assert np.exp(predicted.log_density.astype(np.float64)).sum() == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        (train_command, ["--dataset", "voc", "--out", "run"]),
        (readout_command, ["--dataset", "sample", "--out", "run", "--weights", "untrained"]),
    ],
)
def test_the_torchrun_launcher_reruns_the_command_under_torchrun(module, argv, monkeypatch):
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr(common.subprocess, "call", lambda command: calls.append(command) or 0)
    argv = [*argv, "--launcher", "torchrun", "--num-workers", "3"]
    assert module.main(argv) == 0
    assert calls == [
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=3",
            "-m",
            module.__name__,
            *argv,
        ]
    ]


@pytest.mark.extras
def test_ray_train_launcher_gives_a_readout(tmp_path) -> None:
    require_module("ray.train", "requirements-ray.txt")
    from saliency_core.train.distributed import ray_train

    summary = ray_train(READOUT, SAMPLE_DIR, tmp_path / "run", workers=2, use_gpu=False)
    assert (summary["status"], summary["epochs_done"], summary["world_size"]) == ("finished", 1, 2)
    assert (tmp_path / "run" / "readout.pt").is_file()


@pytest.mark.extras
def test_ray_train_launcher_gives_a_model(tmp_path) -> None:
    require_module("ray.train", "requirements-ray.txt")
    from saliency_core.train.distributed import ray_train

    voc = write_synthetic_voc(tmp_path / "voc")
    summary = ray_train(SETTINGS, voc, tmp_path / "run", workers=2, use_gpu=False)
    assert (summary["status"], summary["epochs_done"], summary["world_size"]) == ("finished", 1, 2)
    assert (tmp_path / "run" / "model_final.pt").is_file()
