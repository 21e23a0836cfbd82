"""The study's main experiment: arms × seeds of fine-tuning, each final model scored for accuracy
(mAP) and agreement (the evaluate engine's summary), read together in one table.

Experiment folder::

    settings.toml              the experiment's settings
    runs/<arm>-s<seed>/        each training run (``saliency train``'s run folder)
    scores/reference/          evaluate results of the pre-fine-tuning model on the test split
    scores/<arm>-s<seed>/      evaluate results of each run's final model on the test split
                               (each with accuracy.csv: the model's mAP on the same images)
    results.csv                one row per model: arm, seed, map, map_50, agreement means
    table.csv                  one row per arm: mean and 95% CI over seeds of every metric
    manifest.json              what was run, versions, seconds

The tables are built from plain tables by pure functions (:func:`run_row`,
:func:`experiment_table`): an agreement column is "<metric> vs <reference key>" (the mean over
the test images of the model's CAM rows, ``summary.csv``), prefixed "<method>: " when the
experiment scores several CAM methods.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saliency_core.data.csvfiles import read_csv
from saliency_core.scoring.metrics import METRICS
from saliency_core.scoring.stats import mean_t_ci
from saliency_core.study import MapKind

REFERENCE_ARM = "pre-fine-tuning"
"""The arm of the model the runs started from (scored once: no seed)."""
ACCURACY = ("map", "map_50")
"""The accuracy columns: COCO mAP@[.5:.95] and VOC mAP@.5 on the test split."""
KEYS = ("arm", "seed", "weights")
"""The columns that name a model: its arm, its seed, and its weights as the evaluate summary
writes them ("untrained", "pretrained", "fine-tuned: erase-s0"): an untrained model is
labelled wherever its row is shown."""
SEP = " vs "
RUNS, SCORES, REFERENCE = "runs", "scores", "reference"
RESULTS, TABLE, MANIFEST, SETTINGS = "results.csv", "table.csv", "manifest.json", "settings.toml"
ACCURACY_FILE = "accuracy.csv"
"""A scores folder's mAP (columns map, map_50, map_75, images), beside the evaluate results."""
SUMMARY_FILE = "summary.csv"
FINAL_WEIGHTS, TRAIN_LOG, VALIDATION = "model_final.pt", "train_log.parquet", "val_map.csv"
"""A training run's final state dict, per-step log and per-epoch validation (``saliency
train``'s run folder)."""
_RUN_NAME = re.compile(r"^(?P<arm>.+)-s(?P<seed>\d+)$")


def run_name(arm: str, seed: int) -> str:
    """A run's folder name under ``runs/`` and ``scores/``: "erase-s0"."""
    return f"{arm}-s{seed}"


def parse_run_name(name: str) -> tuple[str, int] | None:
    """ "erase-s0" -> ("erase", 0); None for a name that is not a run's."""
    match = _RUN_NAME.match(name)
    return (match["arm"], int(match["seed"])) if match else None


def agreement_means(summary: pd.DataFrame) -> dict[str, float]:
    """The model's agreement means from a results folder's long summary (``summary.csv``): its
    CAM rows (kind type-1), one value per (method, reference, metric): "MAE vs deepgaze", or
    "EigenCAM: MAE vs deepgaze" when the summary holds several methods."""
    rows = summary[summary["kind"] == MapKind.TYPE1]
    several = rows["method"].nunique() > 1
    means = {}
    for method, key, metric, mean in zip(
        rows["method"], rows["reference_key"], rows["metric"], rows["mean"], strict=True
    ):
        column = f"{metric}{SEP}{key}"
        means[f"{method}: {column}" if several else column] = float(mean)
    return means


def run_row(
    arm: str, seed: int | None, accuracy: Mapping[str, float], summary: pd.DataFrame
) -> dict[str, Any]:
    """One ``results.csv`` row: arm, seed (None for the reference), the model's weights (the
    summary's), the accuracy columns and the agreement means (:func:`agreement_means`)."""
    weights = summary.loc[summary["kind"] == MapKind.TYPE1, "weights"]
    row: dict[str, Any] = {"arm": arm, "seed": seed, "weights": ", ".join(weights.unique())}
    row |= {name: float(accuracy[name]) for name in ACCURACY}
    return row | agreement_means(summary)


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The metric columns of ``results``: accuracy first, then agreement in their order."""
    return [column for column in results.columns if column not in KEYS]


def higher_is_better(column: str) -> bool:
    """Whether a larger value of ``column`` is better: mAP yes; an agreement column as its
    metric (``METRICS``; "IoU@top-10%" as "IoU@top-p%")."""
    if column in ACCURACY:
        return True
    metric = column.split(": ", 1)[-1].split(SEP, 1)[0]
    return METRICS["IoU@top-p%" if metric.startswith("IoU@") else metric].higher_is_better


def experiment_table(results: pd.DataFrame) -> pd.DataFrame:
    """``table.csv``: one row per arm, the reference (:data:`REFERENCE_ARM`) first, then the
    arms in their order in ``results``; for each metric column of ``results`` its mean over
    the arm's seeds and the 95% Student-t interval over seeds (:func:`mean_t_ci`: mean ±
    t(0.975, n - 1) · s / √n; NaN with one seed), columns "<metric>", "<metric> ci_low",
    "<metric> ci_high"; ``n_seeds``, the runs in the arm, and ``weights``: the reference's
    own ("untrained", "pretrained", …), "fine-tuned" for an arm's runs."""
    metrics = metric_columns(results)
    arms = list(dict.fromkeys(results["arm"]))
    arms.sort(key=lambda arm: arm != REFERENCE_ARM)
    rows = []
    for arm in arms:
        runs = results[results["arm"] == arm]
        weights = ", ".join(runs["weights"].unique()) if arm == REFERENCE_ARM else "fine-tuned"
        row: dict[str, Any] = {"arm": arm, "weights": weights, "n_seeds": len(runs)}
        for metric in metrics:
            mean, low, high = mean_t_ci(runs[metric].to_numpy(dtype=np.float64))
            row |= {metric: mean, f"{metric} ci_low": low, f"{metric} ci_high": high}
        rows.append(row)
    columns = ["arm", "weights", "n_seeds"] + [
        name for metric in metrics for name in (metric, f"{metric} ci_low", f"{metric} ci_high")
    ]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class ExperimentFolder:
    """Reads an experiment folder (the layout above) as far as it has got: a run still training
    or not yet scored is named, never an error."""

    root: Path

    def run_dir(self, name: str) -> Path:
        return self.root / RUNS / name

    def scores_dir(self, name: str) -> Path:
        return self.root / SCORES / name

    def manifest(self) -> dict[str, Any]:
        return _json(self.root / MANIFEST)

    def run_manifest(self, name: str) -> dict[str, Any]:
        """Run ``name``'s own manifest (its settings, status); {} when absent or unreadable."""
        return _json(self.run_dir(name) / MANIFEST)

    def planned(self) -> list[tuple[str, int]]:
        """(arm, seed) of every run: the manifest's arms × seeds, then any other run folder."""
        manifest = self.manifest()
        runs = [(a, int(s)) for a in manifest.get("arms", []) for s in manifest.get("seeds", [])]
        folder = self.root / RUNS
        found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        runs += [parsed for name in found if (parsed := parse_run_name(name))]
        return list(dict.fromkeys(runs))

    def training_status(self, name: str) -> str | None:
        """Why run ``name`` has no final model yet ("not trained yet", "running: 1 of 3 epochs
        done, no final model yet": its manifest's status), or None when it has one."""
        run = self.run_dir(name)
        if (run / FINAL_WEIGHTS).is_file():
            return None
        if not run.is_dir():
            return "not trained yet"
        manifest = self.run_manifest(name)
        epochs = manifest.get("settings", {}).get("epochs", "?")
        status = manifest.get("status", "started")
        done = manifest.get("epochs_done", 0)
        return f"{status}: {done} of {epochs} epochs done, no final model yet"

    def collect(self) -> tuple[pd.DataFrame, list[str]]:
        """``results.csv`` as far as the folder has it (the reference, then each run with a
        final model, its scores and its mAP) and a line per model left out, saying why."""
        rows, missing = [], []
        models = [(REFERENCE_ARM, None, REFERENCE)]
        models += [(arm, seed, run_name(arm, seed)) for arm, seed in self.planned()]
        for arm, seed, name in models:
            status = None if name == REFERENCE else self.training_status(name)
            scores = self.scores_dir(name)
            absent = [f for f in (SUMMARY_FILE, ACCURACY_FILE) if not (scores / f).is_file()]
            if status is None and absent:
                status = f"not scored yet ({' and '.join(absent)} missing in {scores})"
            if status is not None:
                missing.append(f"{name}: {status}")
                continue
            accuracy = read_csv(scores / ACCURACY_FILE).iloc[0]
            rows.append(run_row(arm, seed, accuracy, read_csv(scores / SUMMARY_FILE)))
        results = pd.DataFrame(rows)
        if not results.empty:
            results["seed"] = results["seed"].astype("Int64")
        return results, missing

    def curves(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The runs' training curves: per step (run, arm, seed, iteration, loss) and per epoch
        (run, arm, seed, epoch, map, map_50); runs without a log are absent."""
        losses, validation = [], []
        for arm, seed in self.planned():
            name = run_name(arm, seed)
            keys = {"run": name, "arm": arm, "seed": seed}
            log, val = self.run_dir(name) / TRAIN_LOG, self.run_dir(name) / VALIDATION
            if log.is_file():
                steps = pd.read_parquet(log, columns=["loss"])
                losses.append(steps.assign(**keys, iteration=np.arange(1, len(steps) + 1)))
            if val.is_file() and val.stat().st_size:
                epochs = pd.read_csv(val, usecols=["epoch", *ACCURACY])
                validation.append(epochs.assign(**keys))
        loss_columns = ["run", "arm", "seed", "iteration", "loss"]
        val_columns = ["run", "arm", "seed", "epoch", *ACCURACY]
        return _frame(losses, loss_columns), _frame(validation, val_columns)


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file; {} when it is absent or unreadable (what it would say is then
    unknown, and the caller names what is missing)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
