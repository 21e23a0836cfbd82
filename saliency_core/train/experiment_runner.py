"""Running the experiment: every arm × seed fine-tuned (:func:`saliency_core.train.loop.train`),
then the pre-fine-tuning model and each final model scored on the test split, for agreement by
the evaluate engine (``Options.images``: the test images) and for accuracy by
:func:`saliency_core.evaluate.detection.score_model`; the folder's tables written last
(:mod:`saliency_core.train.experiment` has the layout and the tables).

Resumable at every level: a run with its final model is not trained again, an unfinished run
resumes from its last checkpoint, a model with its mAP is not scored again (the evaluate engine
itself resumes per image)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from saliency_core.augment.arms import parse_arm, prepare_copies
from saliency_core.augment.dataset import AugmentOptions
from saliency_core.data import runs
from saliency_core.data.atomic import write_atomically
from saliency_core.data.csvfiles import write_csv
from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine
from saliency_core.evaluate.detection import score_model
from saliency_core.evaluate.options import Options
from saliency_core.models.detectors import load_detector
from saliency_core.models.weights import WeightSource
from saliency_core.settings import Settings
from saliency_core.train import experiment
from saliency_core.train.data import open_dataset
from saliency_core.train.experiment import (
    ACCURACY_FILE,
    FINAL_WEIGHTS,
    REFERENCE,
    ExperimentFolder,
    run_name,
)
from saliency_core.train.loop import train
from saliency_core.train.recipe import TrainSettings, preset_settings
from saliency_core.train.run_folder import NOT_IDENTITY, RunFolder, RunRefused, spread
from saliency_core.train.session import training_device

Say = Callable[[str], None]
"""Where the runner reports what it starts ("training erase-s0 …"); the command prints it."""


@dataclass(frozen=True)
class ExperimentPlan:
    """What the experiment runs: ``detector`` from ``weights`` (``weights_file`` for ``file``)
    fine-tuned on each of ``arms`` with each of ``seeds`` under ``preset`` plus ``train``
    (:class:`~saliency_core.train.recipe.TrainSettings` fields, e.g. epochs, batch_size,
    input_size), then scored on ``test_split`` under ``scoring`` (its detector fields are set
    per model). ``copies``: arm name -> a folder of precomputed erase/inpaint copies (absent:
    computed once under ``copies/`` with the detector's CAM against DeepGaze IIE)."""

    detector: str
    weights: WeightSource = WeightSource.PRETRAINED
    weights_file: str | None = None
    arms: tuple[str, ...] = ("none",)
    seeds: tuple[int, ...] = (0,)
    preset: str = "torchvision"
    train: Mapping[str, Any] = field(default_factory=dict)
    scoring: Settings = field(default_factory=Settings)
    test_split: str = "test"
    copies: Mapping[str, str] = field(default_factory=dict)

    def train_settings(self, arm: str, seed: int, copies: Mapping[str, Path]) -> TrainSettings:
        given = dict(self.train) | {
            "detector": self.detector,
            "weights": self.weights,
            "weights_file": self.weights_file,
            "arm": arm,
            "seed": seed,
            "copies": {name: str(folder) for name, folder in copies.items()},
        }
        return preset_settings(self.preset, **given)

    def scoring_settings(self) -> Settings:
        """``scoring`` as every model is scored: no detector of its own (each model sets it),
        the training's input size."""
        return self.scoring.with_changes(
            detectors=(), weights=WeightSource.UNTRAINED, weights_files=(), finetuned=(),
            untrained_twins=False, input_size=self.train.get("input_size", self.scoring.input_size),
        )  # fmt: skip

    def identity(self) -> dict[str, Any]:
        """What every run and score of the plan share, as they are run: the detector and its
        start, the effective training settings less a run's own (arm, seed, copies, workers),
        the scoring settings and the test split. A rerun in the same folder must match it; its
        arms, seeds and copies may change."""
        train = self.train_settings(self.arms[0], self.seeds[0], {}).to_dict()
        return {
            "detector": self.detector,
            "weights": WeightSource(self.weights).value,
            "weights_file": self.weights_file,
            "train": {k: v for k, v in train.items() if k not in PER_RUN},
            "scoring": self.scoring_settings().to_dict(),
            "test_split": self.test_split,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "weights": WeightSource(self.weights).value,
            "weights_file": self.weights_file,
            "arms": list(self.arms),
            "seeds": list(self.seeds),
            "preset": self.preset,
            "train": dict(self.train),
            "scoring": self.scoring.to_dict(),
            "test_split": self.test_split,
            "copies": dict(self.copies),
        }


@dataclass(frozen=True)
class ExperimentReport:
    """What the experiment has: the results (one row per scored model), the table, what is
    missing (a run stopped part-way), and whether it was stopped."""

    out: Path
    results: pd.DataFrame
    table: pd.DataFrame
    missing: list[str]
    stopped: bool


def run_experiment(
    plan: ExperimentPlan,
    dataset_root: Path,
    out: Path,
    *,
    say: Say = lambda text: None,
    stop: threading.Event | None = None,
    device: torch.device | str | None = None,
) -> ExperimentReport:
    """Train, score and tabulate ``plan`` on ``dataset_root`` into ``out`` (resuming)."""
    started, clock = datetime.now(UTC), time.perf_counter()
    folder = ExperimentFolder(Path(out))
    manifest = {**plan.to_dict(), "dataset": str(Path(dataset_root).resolve())}
    manifest["identity"] = plan.identity()
    if refusal := plan_refusal(folder.root, manifest):
        raise RunRefused(refusal)
    folder.root.mkdir(parents=True, exist_ok=True)
    write_atomically(folder.root / experiment.SETTINGS, lambda p: p.write_text(_toml(plan)))
    _write_manifest(folder, manifest | {"started": started.isoformat(), "status": "running"})
    device = training_device(device)
    stopped = train_all(plan, Path(dataset_root), folder, say, stop, device)
    if not stopped:
        score_all(plan, Path(dataset_root), folder, say, device)
    results, missing = folder.collect()
    table = experiment.experiment_table(results) if not results.empty else pd.DataFrame()
    write_csv(folder.root / experiment.RESULTS, results)
    write_csv(folder.root / experiment.TABLE, table)
    status = "stopped" if stopped else ("complete" if not missing else "incomplete")
    manifest |= {
        "started": started.isoformat(),
        "ended": datetime.now(UTC).isoformat(),
        "status": status,
        "missing": missing,
        "seconds": round(time.perf_counter() - clock, 3),
    }
    _write_manifest(folder, manifest)
    return ExperimentReport(folder.root, results, table, missing, stopped)


PER_RUN = ("arm", "seed", "copies", *NOT_IDENTITY)
"""Training settings that differ between an experiment's runs (or do not change a result)."""


def plan_refusal(root: Path, manifest: Mapping[str, Any]) -> str | None:
    """Why the experiment folder ``root`` cannot take the plan of ``manifest`` (as
    :func:`run_experiment` writes it): an earlier plan there has another identity
    (:meth:`ExperimentPlan.identity`; for a manifest from before identities were recorded,
    that of the plan it records) or dataset; else None. More arms or seeds join the folder."""
    record = root / experiment.MANIFEST
    try:
        earlier = json.loads(record.read_text())
    except (OSError, ValueError):
        earlier = None
    if isinstance(earlier, dict) and "identity" not in earlier:
        try:
            recorded_plan(earlier)
        except (KeyError, TypeError, ValueError) as error:
            return f"{record} records no plan that can be read ({error}); use a new output folder."

    def comparable(values: Mapping[str, Any]) -> dict[str, Any]:  # as the manifest holds them
        identity = values.get("identity") or recorded_plan(values).identity()
        fixed = {"dataset": values.get("dataset"), "settings": identity}
        return spread(json.loads(json.dumps(fixed, default=str)))

    return runs.resume_refusal(record, manifest, comparable)


def recorded_plan(values: Mapping[str, Any]) -> ExperimentPlan:
    """The plan a manifest records (:meth:`ExperimentPlan.to_dict`'s fields)."""
    return ExperimentPlan(
        detector=values["detector"],
        weights=WeightSource(values["weights"]),
        weights_file=values.get("weights_file"),
        arms=tuple(values["arms"]),
        seeds=tuple(values["seeds"]),
        preset=values["preset"],
        train=dict(values.get("train") or {}),
        scoring=Settings.from_dict(values["scoring"]),
        test_split=values["test_split"],
        copies=dict(values.get("copies") or {}),
    )


def train_all(
    plan: ExperimentPlan,
    dataset_root: Path,
    folder: ExperimentFolder,
    say: Say,
    stop: threading.Event | None,
    device: torch.device,
) -> bool:
    """Train every arm × seed without a final model yet (an arm's copies prepared before its
    first run); True when ``stop`` ended a run part-way."""
    copies: dict[str, dict[str, Path]] = {}
    for arm, seed in product(plan.arms, plan.seeds):
        name = run_name(arm, seed)
        if _finished(plan, arm, seed, folder, dataset_root):
            continue
        if arm not in copies:
            copies[arm] = _copies(plan, arm, dataset_root, folder.root, say)
        say(f"training {name}")
        settings = plan.train_settings(arm, seed, copies[arm])
        result = train(settings, dataset_root, folder.run_dir(name), stop=stop, device=device)
        if result.stopped:
            return True
    return False


def _finished(
    plan: ExperimentPlan, arm: str, seed: int, folder: ExperimentFolder, dataset_root: Path
) -> bool:
    """Whether the run has its final model, trained with the plan's settings (the copies it
    read aside: they are the arm's own); another recipe there is refused (RunRefused)."""
    name = run_name(arm, seed)
    if folder.training_status(name) is not None:  # no final model yet
        return False
    recorded = folder.run_manifest(name).get("settings", {})
    copies = {key: Path(place) for key, place in (recorded.get("copies") or {}).items()}
    RunFolder(folder.run_dir(name)).check(plan.train_settings(arm, seed, copies), dataset_root)
    return True


def score_all(
    plan: ExperimentPlan, dataset_root: Path, folder: ExperimentFolder, say: Say, device
) -> None:
    """The reference and every run with a final model: agreement (the evaluate engine on the
    test images) and mAP (``accuracy.csv``); a model with its mAP already is skipped."""
    split_rule = plan.train_settings(plan.arms[0], plan.seeds[0], {}).split_rule
    detection = open_dataset(dataset_root, split_rule)
    stems = tuple(annotation.stem for annotation in detection.split(plan.test_split))
    images = Dataset(dataset_root.name, dataset_root)
    options = Options(images=stems, finegrained=False)
    base = plan.scoring_settings()
    models = {REFERENCE: _reference_settings(plan, base)}
    for arm in plan.arms:
        for seed in plan.seeds:
            weights = folder.run_dir(run_name(arm, seed)) / FINAL_WEIGHTS
            if weights.is_file():
                tuned = ((plan.detector, str(weights.absolute())),)  # tagged by its run
                models[run_name(arm, seed)] = base.with_changes(finetuned=tuned)
    for name, settings in models.items():
        scores = folder.scores_dir(name)
        if (scores / ACCURACY_FILE).is_file():
            continue
        say(f"scoring {name} on {len(stems)} test images")
        engine.run(images, settings, scores, options)
        write_csv(scores / ACCURACY_FILE, _accuracy(plan, settings, detection, device))


def _reference_settings(plan: ExperimentPlan, base: Settings) -> Settings:
    files = ((plan.detector, plan.weights_file),) if plan.weights_file else ()
    return base.with_changes(detectors=(plan.detector,), weights=plan.weights, weights_files=files)


def _accuracy(plan: ExperimentPlan, settings: Settings, detection, device) -> pd.DataFrame:
    """The model's mAP on the test split, one row: map, map_50, map_75, images."""
    from saliency_core import pipeline

    (choice,) = pipeline.detector_choices(settings)[0]
    loaded = load_detector(
        choice.name, choice.source, choice.weights_path, choice.input_size, device=device
    )
    accuracy = score_model(loaded.model, loaded.categories, detection, plan.test_split, device)
    row = {"map": accuracy.map, "map_50": accuracy.map_50, "map_75": accuracy.map_75}
    return pd.DataFrame([row | {"images": accuracy.images}])


def _copies(
    plan: ExperimentPlan, arm: str, dataset_root: Path, root: Path, say: Say
) -> dict[str, Path]:
    """The arm's erase/inpaint copy folders: those given, else computed once under
    ``copies/`` over the training images (the detector's first CAM method against DeepGaze
    IIE, the augment command's defaults otherwise)."""
    wanted = parse_arm(arm).copies
    given = {name: Path(plan.copies[name]) for name in wanted if name in plan.copies}
    missing = [name for name in wanted if name not in given]
    if not missing:
        return given
    settings = plan.train_settings("none", plan.seeds[0], {})
    detection = open_dataset(dataset_root, settings.split_rule)
    say(f"precomputing the {', '.join(missing)} copies of the training images")
    options = AugmentOptions(
        detector=plan.detector,
        weights=WeightSource(plan.weights).value,
        weights_path=plan.weights_file,
        cam=(plan.scoring.cams or ("EigenCAM",))[0],
        reference="deepgaze",
        input_size=settings.input_size,
    )
    made = prepare_copies(
        dataset_root,
        parse_arm("+".join(missing)),
        root / "copies",
        detection.splits[settings.train_split],
        options,
    )
    return given | made


def _toml(plan: ExperimentPlan) -> str:
    import tomli_w

    values = plan.to_dict()
    return tomli_w.dumps({k: v for k, v in values.items() if v is not None})


def _write_manifest(folder: ExperimentFolder, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    write_atomically(folder.root / experiment.MANIFEST, lambda p: p.write_text(text))
