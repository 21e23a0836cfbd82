"""Oyama & Yamanaka's experiment (2018): does a backbone's ImageNet accuracy predict how well a
saliency readout on its features predicts where people look?

For each backbone × weight source × readout kind × seed a readout is trained on one dataset
(:func:`~saliency_core.train.readout.fit.train_readout`, its seeded test split held out), then
scored by the evaluate engine on that test split — and, with ``test_datasets``, on every image of
each other dataset — with the MIT metrics (:data:`MIT_METRICS`) next to the centre-bias floor,
DeepGaze IIE (where its pretrained weights are on disk; named as absent otherwise), the human
inter-observer ceiling (fixation metrics only: the engine's ceiling table has no CC, SIM, KLD)
and, optionally, the backbone's own Grad-CAM (the report's "CAM agreement" view).

The experiment folder ``OUT``:

- ``runs/<key>/``: each readout's training run folder (a type-2 model);
- ``evals/<test dataset>/<key>/``: each evaluate results folder;
- ``images.parquet``: per image, run, model and metric, the value (the bootstrap's input);
- ``table.parquet`` / ``table.csv``: the tidy table, one row per test dataset × backbone ×
  weights × kind × seed × model × metric (:data:`TABLE_COLUMNS`; ``value`` the mean over the
  test images with a defined value), with the backbone's ImageNet top-1 accuracy;
- ``manifest.json``: :data:`KIND`, the plan, each run's status, what was left out and why.

A rerun skips what is finished (a trained run, a complete evaluation) and resumes the rest; a
run trained or resumed now is evaluated afresh (an earlier evaluation scored another readout).
A finished run is reused only when it was trained with the same settings: another recipe
(epochs, lr, …) under the same run key is refused, naming what differs.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from saliency_core.data.atomic import write_atomically, write_bytes_atomic
from saliency_core.data.datasets import Dataset
from saliency_core.evaluate import engine
from saliency_core.evaluate.options import Options
from saliency_core.evaluate.store import ResultsFolder
from saliency_core.models.classifiers import CLASSIFIERS
from saliency_core.models.gaze.deepgaze import CHECKPOINT
from saliency_core.models.readout import ReadoutRecipe
from saliency_core.models.weights import WeightSource
from saliency_core.pipeline import FIXATION_POINTS
from saliency_core.scoring.accuracy import weights_accuracy
from saliency_core.settings import Settings
from saliency_core.study import MapKind
from saliency_core.train.readout import ReadoutTraining, train_readout
from saliency_core.train.run_folder import MANIFEST as RUN_MANIFEST
from saliency_core.train.run_folder import RunFolder

KIND = "saliency readout experiment"
"""``manifest.json``'s ``kind``: how a folder is recognised as an experiment."""
MANIFEST = "manifest.json"
TABLE = "table"
IMAGES = "images.parquet"
MIT_METRICS = ("IG", "NSS", "AUC-Judd", "AUC-Borji", "sAUC", "CC", "KLD", "SIM")
"""The MIT saliency benchmark's metrics; CC, KLD, SIM against the fixation density."""
READOUT, FLOOR, DEEPGAZE, CEILING, CAM = (
    "readout",
    "centre-bias floor",
    "DeepGaze IIE",
    "human ceiling",
    "CAM",
)
MODELS = (READOUT, FLOOR, DEEPGAZE, CEILING, CAM)
"""The ``model`` column's values: what a row scores."""
RUN_COLUMNS = ["test_dataset", "backbone", "weights", "kind", "seed", "finetuned", "run"]
TABLE_COLUMNS = [
    *RUN_COLUMNS,
    "model",
    "label",
    "metric",
    "value",
    "images",
    "higher_is_better",
    "top1_accuracy",
]


@dataclass(frozen=True)
class ExperimentPlan:
    """What the experiment trains and where it tests (every choice is part of its identity)."""

    dataset: Path
    dataset_name: str
    backbones: tuple[str, ...] = ("ResNet-50", "EfficientNet-B0")
    weights: tuple[str, ...] = ("pretrained", "untrained")
    kinds: tuple[str, ...] = ("dc",)
    seeds: tuple[int, ...] = (0,)
    test_datasets: tuple[tuple[str, Path], ...] = ()
    """(name, folder) of each other dataset every readout is also tested on (all its images)."""
    epochs: int = 20
    batch_size: int = 4
    input_size: int = 256
    finetuned: bool = False
    lr: float = 1e-3
    patience: int = 5
    loss: str = "nll"
    limit: int | None = None
    """Only the first N images (sorted ids) of each dataset."""
    cams: bool = True
    """Also score each backbone's Grad-CAM (the report's CAM agreement view)."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.backbones if name not in CLASSIFIERS]
        if unknown:
            raise ValueError(
                f"unknown backbone(s) {', '.join(unknown)}; choose from {', '.join(CLASSIFIERS)}"
            )
        if not (self.backbones and self.weights and self.kinds and self.seeds):
            raise ValueError("an experiment needs at least one backbone, weights, kind and seed")

    def training(self, backbone: str, weights: str, kind: str, seed: int) -> ReadoutTraining:
        recipe = ReadoutRecipe(
            backbone,
            weights,
            kind=kind,
            input_size=self.input_size,
            finetuned=self.finetuned,
            trained_on=self.dataset_name,
            seed=seed,
        )
        return ReadoutTraining(
            recipe,
            self.epochs,
            self.batch_size,
            self.lr,
            patience=self.patience,
            loss=self.loss,
            limit=self.limit,
        )

    def trainings(self) -> list[ReadoutTraining]:
        """Every backbone × weights × kind × seed, in that order."""
        return [
            self.training(backbone, weights, kind, seed)
            for backbone in self.backbones
            for weights in self.weights
            for kind in self.kinds
            for seed in self.seeds
        ]

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["dataset"] = str(Path(self.dataset).resolve())
        values["test_datasets"] = [
            [name, str(Path(root).resolve())] for name, root in self.test_datasets
        ]
        return json.loads(json.dumps(values, default=str))


def run_key(recipe: ReadoutRecipe) -> str:
    """The run's folder name, e.g. ``resnet-50_untrained_dc_seed0``."""
    backbone = re.sub(r"[^a-z0-9]+", "-", recipe.backbone.lower()).strip("-")
    tuned = "_finetuned" if recipe.finetuned else ""
    return f"{backbone}_{recipe.weights}_{recipe.kind}{tuned}_seed{recipe.seed}"


@dataclass(frozen=True)
class Subset(Dataset):
    """A dataset restricted to the images ``stems`` (a readout's test split)."""

    stems: tuple[str, ...] = ()

    @property
    def ids(self) -> list[str]:  # type: ignore[override]
        return list(self.stems)


def deepgaze_present() -> tuple[bool, str]:
    """(whether DeepGaze IIE's pretrained weights are on disk, why not); nothing is downloaded."""
    path = CHECKPOINT.path
    if path.is_file():
        return True, ""
    return False, f"DeepGaze IIE not scored: its pretrained weights are absent ({path})"


def eval_settings(run_dir: Path, recipe: ReadoutRecipe, deepgaze: bool, cams: bool) -> Settings:
    """The evaluation of one readout: it, DeepGaze IIE (when present) and the backbone's Grad-CAM
    (``cams``) against the fixations; the engine adds the floor and the ceiling."""
    return Settings(
        detectors=(),
        type2=(str(run_dir), *(("DeepGaze IIE",) if deepgaze else ())),
        type2_weights="pretrained" if deepgaze else "untrained",
        references=("fixations",),
        classifiers=(recipe.backbone,) if cams else (),
        classifier_weights=recipe.weights,
    )


def _finished_training(run_dir: Path) -> bool:
    path = run_dir / RUN_MANIFEST
    return path.is_file() and "test" in json.loads(path.read_text())


def _finished_eval(out: Path) -> bool:
    path = out / engine.MANIFEST
    return path.is_file() and json.loads(path.read_text()).get("status") == "complete"


def _model(row_kind: str, label: str, readout_label: str) -> str:
    if row_kind == MapKind.FLOOR:
        return FLOOR
    if row_kind == MapKind.CEILING:
        return CEILING
    if row_kind == MapKind.CLASSIFIER:
        return CAM
    return READOUT if label == readout_label else DEEPGAZE


def image_rows(table: pd.DataFrame, recipe: ReadoutRecipe, test_dataset: str) -> pd.DataFrame:
    """An evaluation's per-image rows of the MIT metrics (fixation metrics at the points; CC,
    KLD, SIM against the fixation density), each labelled with its run and :data:`MODELS` name."""
    keep = table["metric"].isin(MIT_METRICS) & table["reference_key"].isin(
        (FIXATION_POINTS, "fixations")
    )
    rows = table[keep]
    models = [_model(k, m, recipe.label) for k, m in zip(rows["kind"], rows["map"], strict=True)]
    return pd.DataFrame(
        {
            "test_dataset": test_dataset,
            "backbone": recipe.backbone,
            "weights": recipe.weights,
            "kind": recipe.kind,
            "seed": recipe.seed,
            "finetuned": recipe.finetuned,
            "run": "",
            "model": models,
            "label": rows["map"].to_numpy(),
            "image": rows["image"].to_numpy(),
            "metric": rows["metric"].to_numpy(),
            "value": rows["value"].to_numpy(dtype=float),
            "higher_is_better": rows["higher_is_better"].to_numpy(),
        }
    )


def tidy_table(images: pd.DataFrame) -> pd.DataFrame:
    """Per-image rows → :data:`TABLE_COLUMNS`: the mean over images with a defined value, their
    count, and the backbone's ImageNet top-1 accuracy (%; NaN for untrained weights)."""
    keys = [*RUN_COLUMNS, "model", "label", "metric", "higher_is_better"]
    grouped = images.groupby(keys, sort=False, dropna=False)["value"]
    table = grouped.agg(value="mean", images="count").reset_index()
    table["top1_accuracy"] = [
        weights_accuracy(CLASSIFIERS[b], WeightSource(w))[0]
        for b, w in zip(table["backbone"], table["weights"], strict=True)
    ]
    return table[TABLE_COLUMNS]


@dataclass
class ExperimentReport:
    out: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


Progress = Callable[[str], None]
"""``progress(line)``: what the experiment starts next."""


def _write_json(path: Path, values: dict[str, Any]) -> None:
    write_bytes_atomic(path, (json.dumps(values, indent=2, default=str) + "\n").encode())


def _test_sets(plan: ExperimentPlan, split: dict[str, list[str]]) -> list[tuple[str, Dataset]]:
    """(name, dataset) of each test: the run's own test split, then each other dataset."""
    own = Subset(plan.dataset_name, Path(plan.dataset), tuple(split["test"]))
    others = []
    for name, root in plan.test_datasets:
        dataset = Dataset(name, Path(root))
        stems = [s for s in dataset.ids if dataset.fixations_path(s) is not None]
        others.append((name, Subset(name, Path(root), tuple(stems[: plan.limit]))))
    return [(plan.dataset_name, own), *others]


def run_experiment(
    plan: ExperimentPlan, out: Path, progress: Progress | None = None
) -> ExperimentReport:
    """Train, evaluate and tabulate every run of ``plan`` into ``out`` (module docstring)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _line: None)
    deepgaze, absent = deepgaze_present()
    report = ExperimentReport(out, notices=[absent] if absent else [])
    frames = []
    started = time.perf_counter()
    for settings in plan.trainings():
        recipe = settings.recipe
        key = run_key(recipe)
        run_dir = out / "runs" / key
        record: dict[str, Any] = {"key": key, "run": str(run_dir), "label": recipe.label}
        fresh = not _finished_training(run_dir)
        if not fresh:  # reused only when trained with these settings (else RunRefused)
            RunFolder(run_dir).check(settings, Path(plan.dataset))
            record["training"] = "skipped (finished earlier)"
        else:
            say(f"training {recipe.label}")
            result = train_readout(settings, Path(plan.dataset), run_dir)
            record["training"] = f"trained ({len(result.history) - 1} epochs)"
        trained = json.loads((run_dir / RUN_MANIFEST).read_text())
        record |= {"test_ig_bits": trained["test"]["ig"], "notices": trained["notices"]}
        evaluation = eval_settings(run_dir, recipe, deepgaze, plan.cams)
        options = Options(metrics=MIT_METRICS, finegrained=False)
        for name, dataset in _test_sets(plan, trained["split"]):
            where = out / "evals" / re.sub(r"[^\w.-]+", "_", name) / key
            if fresh and where.exists():  # scored an earlier, unfinished readout
                shutil.rmtree(where)
            if _finished_eval(where):
                record[f"evaluation on {name}"] = "skipped (complete earlier)"
            else:
                say(f"evaluating {recipe.label} on {name}")
                done = engine.run(dataset, evaluation, where, options)
                record[f"evaluation on {name}"] = done.outcome.text()
            rows = image_rows(ResultsFolder(where).table(), recipe, name)
            frames.append(rows.assign(run=str(run_dir)))
        report.runs.append(record)
    images = pd.concat(frames, ignore_index=True)
    report.table = tidy_table(images)
    write_atomically(out / IMAGES, lambda p: images.to_parquet(p, index=False))
    write_atomically(out / f"{TABLE}.parquet", lambda p: report.table.to_parquet(p, index=False))
    write_atomically(out / f"{TABLE}.csv", lambda p: report.table.to_csv(p, index=False))
    report.notices.append(
        "The human ceiling covers the fixation metrics only (IG, NSS, AUC-Judd, AUC-Borji, "
        "sAUC): the engine's ceiling table has no CC, KLD, SIM"
    )
    _write_json(
        out / MANIFEST,
        {
            "kind": KIND,
            "plan": plan.to_dict(),
            "metrics": list(MIT_METRICS),
            "runs": report.runs,
            "notices": report.notices,
            "accuracy": {b: {w: _accuracy(b, w) for w in plan.weights} for b in plan.backbones},
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return report


def _accuracy(backbone: str, weights: str) -> dict[str, Any]:
    value, reason = weights_accuracy(CLASSIFIERS[backbone], WeightSource(weights))
    return {"top1_accuracy": None if math.isnan(value) else value, "reason": reason}


def is_experiment(folder: Path) -> bool:
    """Whether ``folder`` holds a readout experiment (its manifest's ``kind``)."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def read_experiment(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(tidy table, per-image table, manifest) of an experiment folder."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    return (
        pd.read_parquet(folder / f"{TABLE}.parquet"),
        pd.read_parquet(folder / IMAGES),
        manifest,
    )


def cam_tables(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The CAM rows of every evaluation of the experiment, and the classifiers' accuracy records
    (the inputs of the report's CAM agreement view)."""
    frames, accuracy = [], {}
    for manifest in sorted(Path(folder).glob("evals/*/*/" + engine.MANIFEST)):
        results = ResultsFolder(manifest.parent)
        table = results.table()
        frames.append(table[table["kind"] == MapKind.CLASSIFIER])
        accuracy |= results.manifest().get("classifier_accuracy", {})
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), accuracy
