"""Training throughput: images/s of ``saliency_core.train.loop.train`` against a minimal
plain-PyTorch loop in torchvision's reference style (same model, data, batch size, loader
workers), measured side by side in one run, and the share of a step spent waiting for data.

Both loops are timed the same way: the sum over steps of (data wait + forward/backward/step),
so loader start-up, validation and checkpoints (ours only) are left out of both. The data are
a synthetic VOC (coloured shapes), the model SSDlite320 MobileNetV3 untrained at --input-size.
Run: `.venv/bin/python benchmarks/train.py [--images 64] [--epochs 2] [--workers 2]`.
Last line: `RESULT train_throughput_ratio=<ours / plain>`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _timing import synchronise
from PIL import Image
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saliency_core.data.synthetic import write_synthetic_voc  # noqa: E402
from saliency_core.train.data import open_dataset  # noqa: E402
from saliency_core.train.loop import train  # noqa: E402
from saliency_core.train.model import build_model  # noqa: E402
from saliency_core.train.recipe import TrainSettings  # noqa: E402
from saliency_core.train.run_folder import LOG  # noqa: E402


class PlainVoc(torch.utils.data.Dataset):
    """torchvision-reference style: PIL image -> tensor, boxes and labels + 1."""

    def __init__(self, annotations, classes) -> None:
        self.annotations, self.classes = annotations, list(classes)

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, index: int):
        annotation = self.annotations[index]
        image = torch.from_numpy(np.array(Image.open(annotation.image).convert("RGB")))
        labels = [self.classes.index(name) + 1 for name in annotation.labels]
        target = {
            "boxes": torch.as_tensor(annotation.boxes).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
        }
        return image.permute(2, 0, 1).float() / 255, target


def plain_loop(settings: TrainSettings, root: Path, device: torch.device) -> tuple[float, float]:
    """(images, seconds) of a minimal loop: SGD, no warm-up, no log, no checkpoints."""
    dataset = open_dataset(root, settings.split_rule)
    data = PlainVoc(dataset.split(settings.train_split), dataset.classes)
    loader = DataLoader(
        data,
        batch_size=settings.batch_size,
        shuffle=True,
        num_workers=settings.workers,
        collate_fn=lambda batch: tuple(zip(*batch, strict=True)),
        drop_last=True,
    )
    torch.manual_seed(settings.seed)
    model = build_model(settings, dataset.classes).model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    amp = settings.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    images_done, seconds = 0, 0.0
    for _ in range(settings.epochs):
        synchronise()
        start = time.perf_counter()
        for images, targets in loader:
            images = [image.to(device) for image in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            with torch.autocast(device.type, enabled=amp):
                loss = sum(model(images, targets).values())
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            synchronise()
            now = time.perf_counter()
            seconds += now - start
            images_done += len(images)
            start = now
    return images_done, seconds


def ours(settings: TrainSettings, root: Path, run: Path, device: torch.device):
    """(images, seconds, data-wait share) of our loop, from its train_log."""
    train(settings, root, run, device=device)
    log = pd.read_parquet(run / LOG)
    images = float((log["images_per_s"] * (log["data_s"] + log["step_s"])).sum())
    seconds = float((log["data_s"] + log["step_s"]).sum())
    return images, seconds, float(log["data_s"].sum()) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--input-size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    root = write_synthetic_voc(work / "voc", n_images=args.images, size=args.image_size)
    settings = TrainSettings(
        detector="SSDlite320 MobileNetV3",
        weights="untrained",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=0.01,
        warmup_iters=10,
        lr_steps=(),
        input_size=args.input_size,
        workers=args.workers,
    )
    print(
        f"device={device} threads={torch.get_num_threads()} images={args.images} "
        f"({args.image_size}²) input={args.input_size}² batch={args.batch_size} "
        f"workers={args.workers} epochs={args.epochs} model=SSDlite320 MobileNetV3 (untrained)"
    )
    plain_loop(settings.replaced(epochs=1), root, device)  # warm-up (allocator, kernels)
    results = {}
    for name in ("plain", "ours", "ours2", "plain2"):  # ABBA
        if name.startswith("plain"):
            images, seconds = plain_loop(settings, root, device)
            share = float("nan")
        else:
            images, seconds, share = ours(settings, root, work / name, device)
        results[name] = (images / seconds, share)
        print(f"{name:7s} {images / seconds:8.1f} images/s  data wait {share:6.1%}", flush=True)
    plain = (results["plain"][0] + results["plain2"][0]) / 2
    mine = (results["ours"][0] + results["ours2"][0]) / 2
    wait = (results["ours"][1] + results["ours2"][1]) / 2
    print(f"ours {mine:.1f} images/s, plain {plain:.1f} images/s; data wait {wait:.1%} of a step")
    print(f"RESULT train_throughput_ratio={mine / plain:.3f}")


if __name__ == "__main__":
    main()
