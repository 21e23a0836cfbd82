"""The training loop on a synthetic VOC (24 images of coloured shapes): SSDlite (untrained, 96²)
trains two epochs on CPU and its loss falls, the run folder holds every file, a run stopped
mid-epoch and rerun ends with the weights of an uninterrupted one, other settings are refused,
and the data do not depend on the number of loader workers."""

from __future__ import annotations

import dataclasses
import json
import math
import threading

import pandas as pd
import pytest
import torch

from saliency_core.data.synthetic import write_synthetic_voc
from saliency_core.models.detectors import load_detector
from saliency_core.train import loop
from saliency_core.train.data import (
    DetectionSamples,
    EpochOrder,
    epoch_loader,
    open_dataset,
    read_plain,
)
from saliency_core.train.loop import lr_factor, train
from saliency_core.train.recipe import TrainSettings
from saliency_core.train.run_folder import RunRefused

SETTINGS = TrainSettings(
    detector="SSDlite320 MobileNetV3",
    weights="untrained",
    epochs=2,
    batch_size=4,
    lr=0.01,
    warmup_iters=2,
    lr_steps=(),
    input_size=96,
    workers=0,
    amp=False,
)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return write_synthetic_voc(tmp_path_factory.mktemp("voc") / "voc")


def test_two_epochs_loss_falls_and_the_run_folder_is_complete(voc, tmp_path) -> None:
    result = train(SETTINGS, voc, tmp_path / "run", device="cpu")
    names = {path.name for path in (tmp_path / "run").iterdir()}
    assert names == {
        "checkpoint_last.pt",
        "checkpoint_best.pt",
        "model_final.pt",
        "classes.txt",
        "train_log.parquet",
        "val_map.csv",
        "manifest.json",
        "settings.toml",
    }
    assert (result.epochs_done, result.stopped, len(result.validation)) == (2, False, 2)
    log = pd.read_parquet(tmp_path / "run" / "train_log.parquet")
    assert len(log) == 2 * 3  # 14 train images: 3 full batches of 4 per epoch
    assert {"loss", "classification", "bbox_regression", "lr", "images_per_s", "data_s"} <= set(
        log.columns
    )
    means = log.groupby("epoch")["loss"].mean()
    assert means[1] < means[0]
    assert log["lr"].iloc[0] == pytest.approx(0.01 * 0.001)  # warm-up from 0.001
    assert log["lr"].iloc[-1] == pytest.approx(0.01)
    validation = pd.read_csv(tmp_path / "run" / "val_map.csv")
    assert validation["epoch"].tolist() == [1, 2]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["epochs_done"] == 2
    assert manifest["data"]["images"] == 24 and manifest["device"] == "cpu"
    assert manifest["model"]["categories"] == ["__background__", "disc", "square", "triangle"]
    assert (tmp_path / "run" / "classes.txt").read_text() == "disc\nsquare\ntriangle\n"
    loaded = load_detector(SETTINGS.detector, "file", result.final_weights)
    assert len(loaded.categories) == 4


def test_a_run_stopped_mid_epoch_resumes_to_the_same_weights(voc, tmp_path) -> None:
    whole = train(SETTINGS, voc, tmp_path / "whole", device="cpu")
    stop = threading.Event()

    def stop_after_five(report: loop.StepReport) -> None:
        if report.done == 5:  # epoch 2, step 2 of 3
            stop.set()

    first = train(SETTINGS, voc, tmp_path / "resumed", device="cpu", progress=stop_after_five,
                  stop=stop)  # fmt: skip
    assert (first.stopped, first.epochs_done) == (True, 1)
    manifest = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert manifest["status"] == "stopped"
    second = train(SETTINGS, voc, tmp_path / "resumed", device="cpu")
    assert (second.stopped, second.epochs_done) == (False, 2)
    expected = torch.load(whole.final_weights, weights_only=True)
    resumed = torch.load(second.final_weights, weights_only=True)
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[key], resumed[key]) for key in expected)
    whole_log = pd.read_parquet(whole.run_dir / "train_log.parquet")
    resumed_log = pd.read_parquet(second.run_dir / "train_log.parquet")
    assert resumed_log["loss"].tolist() == whole_log["loss"].tolist()


def test_other_settings_are_refused_in_the_same_folder(voc, tmp_path) -> None:
    short = SETTINGS.replaced(epochs=1)
    train(short, voc, tmp_path / "run", device="cpu")
    with pytest.raises(RunRefused, match=r"holds a run with other settings \(lr differ\)"):
        train(short.replaced(lr=0.02), voc, tmp_path / "run", device="cpu")
    # the loader's worker count does not change the result: not part of the identity
    again = train(short.replaced(workers=1), voc, tmp_path / "run", device="cpu")
    assert again.epochs_done == 1


def test_lr_factor_warm_up_step_and_cosine() -> None:
    settings = TrainSettings(epochs=4, warmup_iters=1000, lr_steps=(2, 3), gamma=0.1)
    # 11 steps per epoch: warm-up over min(1000, 10) steps of the first epoch only
    assert lr_factor(settings, 11, 0) == pytest.approx(0.001)
    assert lr_factor(settings, 11, 5) == pytest.approx(0.001 * 0.5 + 0.5)
    assert [lr_factor(settings, 11, s) for s in (10, 21, 22, 33)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.01]
    )
    cosine = settings.replaced(schedule="cosine", warmup_iters=0)
    assert lr_factor(cosine, 11, 22) == pytest.approx(0.5 * (1 + math.cos(math.pi * 22 / 44)))


def test_epoch_order_deals_ranks_and_skips_done_batches() -> None:
    whole = EpochOrder(10, seed=0, epoch=3).indices
    assert sorted(whole) == list(range(10))
    assert EpochOrder(10, seed=0, epoch=4).indices != whole
    ranks = [EpochOrder(10, 0, 3, rank, 3).indices for rank in range(3)]
    assert [len(r) for r in ranks] == [4, 4, 4]  # padded by wrapping, as DistributedSampler
    assert sorted(set(sum(ranks, []))) == list(range(10))
    assert EpochOrder(10, 0, 3, skip=4).indices == whole[4:]


def test_batches_do_not_depend_on_the_worker_count(voc) -> None:
    dataset = open_dataset(voc, "dataset")
    samples = DetectionSamples(dataset.split("train"), dataset.classes, read_plain, seed=0)
    serial = list(epoch_loader(samples, 4, 0, epoch=1))
    parallel = list(epoch_loader(samples, 4, 2, epoch=1))
    for (images_a, targets_a, _), (images_b, targets_b, _) in zip(serial, parallel, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(images_a, images_b, strict=True))
        assert all(torch.equal(a["boxes"], b["boxes"]) for a, b in zip(targets_a, targets_b,
                                                                       strict=True))  # fmt: skip
    assert serial[0][1][0]["labels"].min() >= 1  # class i is label i + 1


def test_a_copy_that_falls_back_is_named_in_the_manifest_from_worker_processes(voc, tmp_path):
    """The erase arm reads its copies; one missing copy falls back to the original image and
    the sampler's notice reaches manifest.json although it was recorded in a loader worker."""
    import shutil

    copies = tmp_path / "erase"
    shutil.copytree(voc / "JPEGImages", copies)
    train_stems = open_dataset(voc, "dataset").splits["train"]
    missing = train_stems[0]
    (copies / f"{missing}.jpg").unlink()
    settings = dataclasses.replace(
        SETTINGS, epochs=1, workers=2, arm="erase", copies=(("erase", str(copies)),)
    )
    train(settings, voc, tmp_path / "run", device="cpu")
    notices = json.loads((tmp_path / "run" / "manifest.json").read_text())["notices"]
    assert len(notices) == 1 and missing in notices[0], notices


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(voc, tmp_path) -> None:
    """SIGKILL (no chance to save) during the second of three epochs; rerunning the same
    command resumes from the last epoch's checkpoint and ends with the same weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def command(run):
        flags = ["--dataset", str(voc), "--out", str(run), "--detector", SETTINGS.detector]
        flags += ["--weights", "untrained", "--epochs", "3", "--batch-size", "4", "--lr", "0.01"]
        flags += ["--warmup-iters", "2", "--lr-steps", "", "--input-size", "96", "--workers"]
        flags += ["0", "--no-amp", "--device", "cpu"]
        return [sys.executable, "-m", "saliency_core.commands.train", *flags]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(whole), env=env, check=True, capture_output=True, timeout=600)
    process = subprocess.Popen(command(killed), env=env, stderr=subprocess.DEVNULL)

    def epochs_done() -> int:
        path = killed / "manifest.json"  # written after each epoch's checkpoint
        return json.loads(path.read_text())["epochs_done"] if path.exists() else 0

    deadline = time.monotonic() + 300
    while epochs_done() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] != "finished" and manifest["epochs_done"] < 3, manifest
    subprocess.run(command(killed), env=env, check=True, capture_output=True, timeout=600)
    expected = torch.load(whole / "model_final.pt", weights_only=True)
    resumed = torch.load(killed / "model_final.pt", weights_only=True)
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[key], resumed[key]) for key in expected)
