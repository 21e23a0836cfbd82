"""Data-parallel training with 2 CPU processes (gloo): one DDP step through the loop's
``training_step`` equals the single-process step on the same global batch, and ``train`` under
the process group gives a model (rank 0 writes the run folder). Ray Train: an optional extra."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from optional_extras import require_module
from torch import nn

from saliency_core.data.synthetic import write_synthetic_voc
from saliency_core.train.loop import training_step
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


@pytest.mark.extras
def test_ray_train_launcher_gives_a_model(tmp_path) -> None:
    require_module("ray.train", "requirements-ray.txt")
    from saliency_core.train.distributed import ray_train

    voc = write_synthetic_voc(tmp_path / "voc")
    summary = ray_train(SETTINGS, voc, tmp_path / "run", workers=2, use_gpu=False)
    assert (summary["status"], summary["epochs_done"], summary["world_size"]) == ("finished", 1, 2)
    assert (tmp_path / "run" / "model_final.pt").is_file()
