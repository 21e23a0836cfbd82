"""Training a readout on a frozen backbone: images/s with the backbone's features computed once
and cached, against recomputing them every epoch (issue 17).

A DC readout on an untrained ResNet-50 over the shipped sample's first ``--images`` images at
``--input-size`` px for ``--epochs`` epochs, both ways from the same initial weights; the last
line is ``RESULT readout_feature_cache_speedup=<recomputing seconds / caching seconds>``.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks._timing import timed
from saliency_core.data.datasets import sample_dataset
from saliency_core.models.cache import default_device
from saliency_core.models.readout import ReadoutRecipe, build_readout
from saliency_core.train.readout.data import batches, load_fixation_images
from saliency_core.train.readout.objective import batch_loss, cache_features, log_density


def train(net, images, epochs: int, batch_size: int, device, cached: bool) -> None:
    """``epochs`` epochs of Adam on the head; ``cached``: features computed once first."""
    for item in images:
        item.features = None
    if cached:
        cache_features(net, images, device, batch_size)
    optimiser = torch.optim.Adam(net.head.parameters(), lr=1e-4)
    for _ in range(epochs):
        for batch in batches(images, batch_size, torch.Generator().manual_seed(0)):
            loss, _ = batch_loss(log_density(net, batch, device), batch, "nll")
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    device = default_device()
    recipe = ReadoutRecipe("ResNet-50", kind="dc", input_size=args.input_size)
    dataset = sample_dataset()
    images, _ = load_fixation_images(dataset, dataset.ids[: args.images], recipe)
    seconds = {}
    for cached in (False, True):
        net = build_readout(recipe, device)
        net.extractor.eval()
        seconds[cached] = timed(
            lambda net=net, cached=cached: train(
                net, images, args.epochs, args.batch_size, device, cached
            )
        )
        rate = len(images) * args.epochs / seconds[cached]
        way = "cached features " if cached else "recomputed      "
        print(f"{way}: {seconds[cached]:.2f} s, {rate:.1f} training images/s on {device}")
    print(f"RESULT readout_feature_cache_speedup={seconds[False] / seconds[True]:.2f}")


if __name__ == "__main__":
    main()
