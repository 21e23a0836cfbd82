"""The Experiments page's content, without Streamlit: the experiment folders under the results
root, an experiment's table as far as it has got (and what is missing), the accuracy-vs-agreement
Pareto plot, the training curves and each run's "Open in Explore" address.

An experiment folder is what ``saliency experiment`` writes
(:mod:`saliency_core.train.experiment`); a run's fine-tuned model opens in Explore as its own row
beside the model it started from (``Settings.finetuned``), under the reference's scoring
settings, on the first test image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from saliency_core.data import roots
from saliency_core.data.datasets import Dataset
from saliency_core.evaluate.store import MANIFEST, ResultsError, ResultsFolder
from saliency_core.settings import Settings, to_query
from saliency_core.train import experiment
from saliency_core.train.experiment import (
    ACCURACY,
    FINAL_WEIGHTS,
    REFERENCE,
    REFERENCE_ARM,
    SEP,
    ExperimentFolder,
)
from ui.report import folders

ACCURACY_LABELS = {"map": "mAP@[.5:.95]", "map_50": "mAP@.5 (VOC)"}


def is_experiment(path: Path) -> bool:
    """A folder ``saliency experiment`` wrote into: it has ``runs/`` or ``results.csv``."""
    return (path / experiment.RUNS).is_dir() or (path / experiment.RESULTS).is_file()


def find_experiments(root: Path, depth: int = 2) -> list[Path]:
    """Experiment folders at ``root`` and up to ``depth`` levels below it (not inside one), by
    path; folders linking out of ``root`` are not listed."""
    if not root.is_dir():
        return []
    return sorted(_find(root, root, depth))


def _find(folder: Path, root: Path, depth: int) -> list[Path]:
    try:
        roots.confine(folder, [root], "the results folder")
    except roots.OutsideRootsError:
        return []
    if is_experiment(folder):
        return [folder]
    if depth == 0:
        return []
    children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [found for child in children for found in _find(child, root, depth - 1)]


@dataclass(frozen=True)
class Experiment:
    """An experiment as far as it has got: ``results`` (one row per scored model), ``table``
    (one row per arm), ``missing`` (a line per model left out, saying why) and the curves."""

    folder: ExperimentFolder
    results: pd.DataFrame
    table: pd.DataFrame
    missing: list[str]
    losses: pd.DataFrame
    validation: pd.DataFrame

    @property
    def agreement_columns(self) -> list[str]:
        return [c for c in experiment.metric_columns(self.results) if c not in ACCURACY]


def load(root: Path) -> Experiment:
    folder = ExperimentFolder(root)
    results, missing = folder.collect()
    table = experiment.experiment_table(results) if not results.empty else pd.DataFrame()
    losses, validation = folder.curves()
    return Experiment(folder, results, table, missing, losses, validation)


def split_column(column: str) -> tuple[str, str]:
    """An agreement column as (metric, reference): "MAE vs deepgaze" -> ("MAE", "deepgaze");
    a method prefix stays with the metric ("GradCAM: MAE")."""
    metric, _, reference = column.rpartition(SEP)
    return metric, reference


def pareto_front(
    points: pd.DataFrame, x: str, y: str, x_higher: bool, y_higher: bool
) -> pd.DataFrame:
    """The rows of ``points`` no other row dominates (at least as good on both ``x`` and ``y``,
    better on one; "good" as ``x_higher``/``y_higher`` say), sorted by ``x``; rows with a NaN
    are never on it."""
    usable = points.dropna(subset=[x, y])
    sx = usable[x] if x_higher else -usable[x]
    sy = usable[y] if y_higher else -usable[y]
    keep = []
    for index in usable.index:
        dominated = (sx >= sx[index]) & (sy >= sy[index]) & ((sx > sx[index]) | (sy > sy[index]))
        keep.append(not dominated.any())
    return usable[keep].sort_values(x)


def pareto_figure(results: pd.DataFrame, agreement: str, accuracy: str = "map") -> go.Figure:
    """Agreement (x) against accuracy (y), one point per model (colour: arm), the
    pre-fine-tuning model a star, the Pareto front a dashed line; models without a value are
    named under the title."""
    label = {agreement: f"{agreement} ({_direction(agreement)})"}
    label[accuracy] = ACCURACY_LABELS.get(accuracy, accuracy)
    points = results.assign(run=[_run_label(r.arm, r.seed) for r in results.itertuples()])
    usable = points.dropna(subset=[agreement, accuracy])
    figure = px.scatter(
        usable,
        x=agreement,
        y=accuracy,
        color="arm",
        symbol=usable["arm"].eq(REFERENCE_ARM).map({True: "pre-fine-tuning", False: "fine-tuned"}),
        symbol_map={"pre-fine-tuning": "star", "fine-tuned": "circle"},
        hover_name="run",
        labels=label | {"symbol": "model"},
        title="Accuracy against agreement with people, per arm and seed",
    )
    figure.update_traces(marker={"size": 12})
    front = pareto_front(
        usable,
        agreement,
        accuracy,
        experiment.higher_is_better(agreement),
        experiment.higher_is_better(accuracy),
    )
    figure.add_trace(
        go.Scatter(
            x=front[agreement],
            y=front[accuracy],
            mode="lines",
            line={"dash": "dash", "color": "grey"},
            name="Pareto front",
        )
    )
    left_out = points.loc[~points.index.isin(usable.index), "run"].tolist()
    if left_out:
        title = figure.layout.title.text
        figure.update_layout(
            title={"text": f"{title}<br><sup>no value: {', '.join(left_out)}</sup>"}
        )
    return figure


def _direction(column: str) -> str:
    return "higher is better" if experiment.higher_is_better(column) else "lower is better"


def _run_label(arm: str, seed) -> str:
    return REFERENCE_ARM if arm == REFERENCE_ARM else experiment.run_name(arm, int(seed))


def curve_figure(frame: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    """One line per run, coloured by arm (the training loss per step, validation mAP per
    epoch)."""
    figure = px.line(
        frame,
        x=x,
        y=y,
        color="arm",
        line_group="run",
        hover_name="run",
        markers=x == "epoch",
        labels={y: ACCURACY_LABELS.get(y, y)},
        title=title,
    )
    return figure


# --- Open in Explore -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExploreLink:
    """The Explore address of one run's fine-tuned model beside its base model, or why there is
    none (``query`` empty)."""

    run: str
    query: dict[str, str]
    why_not: str = ""


def explore_links(exp: Experiment, available: Mapping[str, Dataset]) -> list[ExploreLink]:
    """Per run with a final model: Explore on the experiment's dataset (listed by the app) and
    its first test image, under the reference's scoring settings with the run's model as a
    fine-tuned row after its base detector."""
    runs = [experiment.run_name(a, s) for a, s in exp.folder.planned()]
    finished = [r for r in runs if (exp.folder.run_dir(r) / FINAL_WEIGHTS).is_file()]
    try:
        base, dataset, stem = _reference_view(exp.folder, available)
    except (ResultsError, ValueError) as error:
        return [ExploreLink(run, {}, str(error)) for run in finished]
    links = []
    for run in finished:
        weights = str((exp.folder.run_dir(run) / FINAL_WEIGHTS).absolute())  # tag: its run
        shown = base.with_changes(finetuned=tuple((d, weights) for d in base.detectors))
        links.append(ExploreLink(run, {"dataset": dataset, "image": stem, **to_query(shown)}))
    return links


def _reference_view(
    folder: ExperimentFolder, available: Mapping[str, Dataset]
) -> tuple[Settings, str, str]:
    """The reference scoring run's settings, its dataset's name in the app and its first
    image; ValueError saying why when the reference is not scored or its dataset not listed."""
    scores = ResultsFolder(folder.scores_dir(REFERENCE))
    if not (scores.root / MANIFEST).is_file():
        raise ValueError("the reference model is not scored yet (its settings open Explore)")
    settings = folders.run_settings(scores)
    manifest = scores.manifest()
    found = folders.run_dataset(manifest, available)
    if not found.listed or found.dataset is None:
        raise ValueError(
            found.missing or f"list the dataset {found.root} with SALIENCY_DATA_DIR to open it"
        )
    images = manifest.get("image_list") or found.dataset.ids
    if not images:
        raise ValueError(f"the dataset {found.root} has no images")
    return settings, found.dataset.name, images[0]


def confine_finetuned(settings: Settings) -> tuple[Settings, list[str]]:
    """``settings`` less the fine-tuned models (from a link) whose file the app may not read
    (``roots.check_read``: outside its folders), each named in a note: a link never makes the
    app read a file elsewhere."""
    kept, notes = [], []
    for name, path in settings.finetuned:
        try:
            roots.check_read(path)
            kept.append((name, path))
        except roots.OutsideRootsError as error:
            notes.append(f"Fine-tuned model left out: {error}")
    return settings.with_changes(finetuned=tuple(kept)), notes
