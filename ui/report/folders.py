"""Finding and opening results folders, and reading a run's settings, dataset and outcome."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from saliency_core.data import roots
from saliency_core.data.datasets import Dataset, image_folder, open_dataset_folder
from saliency_core.evaluate.outcome import Outcome
from saliency_core.evaluate.store import (
    CURVE_TABLE,
    MANIFEST,
    PARTS,
    TABLE,
    ResultsError,
    ResultsFolder,
    is_results_folder,
)
from saliency_core.settings import Settings, load_settings

RESULTS_DIR_VARIABLE = "SALIENCY_RESULTS_DIR"
DEFAULT_RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


def results_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where results folders are looked for: ``$SALIENCY_RESULTS_DIR``, else ``./results``."""
    value = environ.get(RESULTS_DIR_VARIABLE)
    return Path(value).expanduser() if value else DEFAULT_RESULTS_DIR


def find_results_folders(root: Path, depth: int = 3) -> list[Path]:
    """Results folders (with a manifest) at ``root`` and up to ``depth`` levels below it (an
    experiment's ``<root>/<experiment>/scores/<model>`` included),
    sorted by path; an absent ``root`` has none, and a folder linking out of ``root`` is not
    listed (:func:`open_results_folder` would refuse it)."""
    return sorted(_find(root, root, depth)) if root.is_dir() else []


def _find(folder: Path, root: Path, depth: int) -> list[Path]:
    try:
        _confine_results(folder, root)
    except roots.OutsideRootsError:
        return []
    found = [folder] if is_results_folder(folder) else []
    if depth > 0:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        for child in children:
            found += _find(child, root, depth - 1)
    return found


def _confine_results(path: Path, root: Path) -> Path:
    return roots.confine(path, [root], f"the results folder ${RESULTS_DIR_VARIABLE} ({root})")


def open_results_folder(path: str | Path, root: Path) -> ResultsFolder:
    """The results folder at ``path`` (resolved), which must lie under ``root`` (or any path is
    allowed, :func:`saliency_core.data.roots.any_path_allowed`) and hold a manifest; else a one-line
    :class:`ResultsError` or :class:`saliency_core.data.roots.OutsideRootsError` saying why."""
    resolved = _confine_results(Path(path), root)
    if not is_results_folder(resolved):
        raise ResultsError(
            f"{path} is not a results folder (it has no {MANIFEST}). Pick a listed folder or "
            "start a run below."
        )
    return ResultsFolder(resolved)


def folder_fingerprint(root: Path) -> str:
    """Changes whenever the folder's results change (a run adds parts or rewrites a table):
    names, sizes and modification times of the manifest, tables and parts (not the tags, which
    change nothing computed)."""
    paths = [root / MANIFEST, root / f"{TABLE}.parquet", root / CURVE_TABLE]
    parts = root / PARTS
    if parts.is_dir():
        paths += sorted(parts.glob("*.parquet"))
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(stamps)


def run_settings(folder: ResultsFolder) -> Settings:
    """The run's settings: the manifest's copy, else ``settings.toml``."""
    stored = folder.manifest().get("settings")
    if stored is not None:
        return Settings.from_dict(stored)
    return load_settings(folder.root / "settings.toml")


@dataclass(frozen=True)
class RunDataset:
    """The run's dataset, and whether the app lists it (only then can Explore open it)."""

    dataset: Dataset | None
    listed: bool
    root: str
    missing: str = ""
    """Why there is no dataset (values only, no pictures); empty when there is one."""


def run_dataset(manifest: Mapping, available: Mapping[str, Dataset]) -> RunDataset:
    """The listed dataset whose folder the run read, else the folder itself if it still exists
    under a dataset root (not listed: add it with ``SALIENCY_DATA_DIR``), else None and why."""
    root = str(manifest.get("dataset", ""))
    if not root:
        return RunDataset(None, False, root, "The run's manifest names no dataset folder.")
    for dataset in available.values():
        if str(dataset.root.resolve()) == root:
            return RunDataset(dataset, True, root)
    try:
        path = open_dataset_folder(root)
    except roots.OutsideRootsError as error:
        return RunDataset(None, False, root, f"The run's dataset folder {error}")
    if image_folder(path) is not None:
        return RunDataset(Dataset(path.name, path), False, root)
    return RunDataset(None, False, root, f"The run's dataset folder {root} is gone.")


def run_outcome(manifest: Mapping, scored: int, errors: pd.DataFrame) -> Outcome | None:
    """What a finished run did (None while it runs): ``scored`` images have rows, ``errors``
    (image, reason) were skipped, of the manifest's images."""
    status = manifest.get("status")
    if status in (None, "running"):
        return None
    reasons = dict(zip(errors["image"].astype(str), errors["reason"].astype(str), strict=True))
    images = manifest.get("images")
    images = int(images) if isinstance(images, int) else scored + len(reasons)
    return Outcome(images, scored, reasons, stopped=status == "stopped")


def output_folder(results_root: Path, name: str) -> Path:
    """``results_root/name`` for a run started from the page; ``name`` is one folder name, and
    the folder (a symbolic link followed) must lie under ``results_root``."""
    name = name.strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"output folder name {name!r}: give one folder name, no slashes")
    _confine_results(results_root / name, results_root)
    return results_root / name
