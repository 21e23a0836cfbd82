"""Readout training on the detector fine-tuning's run folder: identity and refusal naming the
setting, atomic checkpoints, a run stopped after k steps and rerun ends with the weights of an
uninterrupted one, Ctrl-C saves and exits 130 (issue 17 §2)."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading

import pandas as pd
import pytest
import torch

from saliency_core.commands import readout as command
from saliency_core.data.datasets import SAMPLE_DIR
from saliency_core.models.readout import ReadoutRecipe, load_readout
from saliency_core.train.readout import ReadoutTraining, train_readout
from saliency_core.train.run_folder import RunRefused

SETTINGS = ReadoutTraining(
    ReadoutRecipe("ResNet-50", "untrained", kind="bi", input_size=64, trained_on="sample"),
    epochs=2,
    batch_size=1,
    lr=1e-2,
    limit=5,  # a 3/1/1 split: 3 steps per epoch
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every run here on one thread (a module fixture: before ``uninterrupted``), so that the
    float sums of the runs compared agree bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint_last.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def uninterrupted(one_thread, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "whole"
    reports = []
    result = train_readout(SETTINGS, SAMPLE_DIR, run, reports.append, device="cpu")
    return run, result, reports


def test_the_run_folder_holds_the_checkpoint_the_logs_and_the_readout(uninterrupted):
    run, result, reports = uninterrupted
    assert not result.stopped and result.epochs_done == 2
    names = {path.name for path in run.iterdir()}
    assert names == {
        "manifest.json",
        "checkpoint_last.pt",
        "readout.pt",
        "val_log.csv",
        "train_log.parquet",
    }
    state = torch.load(run / "checkpoint_last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (2, 0)
    assert set(state) == {"model", "optimiser", "rng", "epoch", "step", "best", "seconds"}
    assert all(key.startswith("head.") for key in state["model"])  # frozen backbone: head only
    log = pd.read_parquet(run / "train_log.parquet")
    assert list(zip(log["epoch"], log["step"], strict=True)) == [
        (e, s) for e in range(2) for s in range(3)
    ]
    assert [(r.epoch, r.step, r.done, r.total) for r in reports[:4]] == [
        (1, 1, 1, 6),
        (1, 2, 2, 6),
        (1, 3, 3, 6),
        (2, 1, 4, 6),
    ]
    assert reports[0].loss == pytest.approx(log["loss"][0])
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["steps_per_epoch"] == 3
    assert [row["epoch"] for row in manifest["history"]] == [0, 1, 2]
    assert set(manifest["test"]) == {"loss", "nll", "ig"}
    assert load_readout(run).recipe == SETTINGS.recipe  # readout.pt: the best, reloadable


def test_a_run_stopped_after_k_steps_resumes_to_the_same_weights(uninterrupted, tmp_path):
    run = tmp_path / "stopped"
    stop = threading.Event()

    def stop_after_four(report) -> None:
        if report.done == 4:  # the first step of the second epoch
            stop.set()

    first = train_readout(SETTINGS, SAMPLE_DIR, run, stop_after_four, stop=stop, device="cpu")
    assert first.stopped and first.test == {}
    state = torch.load(run / "checkpoint_last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 1)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and "test" not in manifest
    second = train_readout(SETTINGS, SAMPLE_DIR, run, device="cpu")
    assert not second.stopped and second.epochs_done == 2
    whole = _weights(uninterrupted[0])
    resumed = _weights(run)
    assert whole.keys() == resumed.keys()
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], rtol=0, atol=0)
    assert second.test == uninterrupted[1].test
    log = pd.read_parquet(run / "train_log.parquet")
    assert len(log) == 6  # no step twice


def test_other_settings_are_refused_naming_the_setting(uninterrupted, tmp_path):
    run = uninterrupted[0]
    other = dataclasses.replace(SETTINGS, recipe=dataclasses.replace(SETTINGS.recipe, kind="dc"))
    with pytest.raises(RunRefused, match=r"holds a run with other settings \(recipe.kind differ\)"):
        train_readout(other, SAMPLE_DIR, run, device="cpu")


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, monkeypatch, capsys):
    """The first SIGINT (from the progress callback, after step 2) stops at the step's end."""
    before = signal.getsignal(signal.SIGINT)
    real = command.step_bar

    def interrupting(desc):
        bar, update = real(desc)

        def interrupt_at_two(report) -> None:
            update(report)
            if report.done == 2:
                signal.raise_signal(signal.SIGINT)

        return bar, interrupt_at_two

    monkeypatch.setattr(command, "step_bar", interrupting)
    out = tmp_path / "run"
    argv = ["--dataset", "sample", "--out", str(out), "--backbone", "ResNet-50"]
    argv += ["--weights", "untrained", "--readout", "bi", "--input-size", "64", "--limit", "5"]
    argv += ["--batch-size", "1", "--epochs", "2"]
    assert command.main(argv) == 130
    err = capsys.readouterr().err
    assert "Stopping after this step" in err
    assert "Stopped: the last checkpoint is saved; run the same command again to resume." in err
    state = torch.load(out / "checkpoint_last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (0, 2)
    assert signal.getsignal(signal.SIGINT) is before  # the command's handler is gone again
