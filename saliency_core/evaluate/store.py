"""A results folder: one Parquet part per image, written atomically, so a run can resume.

Layout of ``OUT/``::

    manifest.json          settings, package versions, device, start/end, per-stage timings
    settings.toml          the run's settings (``--config`` can read it back)
    parts/<stem>.parquet   the image's rows of the per-image table (all or nothing)
    curves/<stem>.parquet  IoU at every integer top-p% from 1 to 50 per (map, reference)
    temporal/<stem>.parquet  metrics per 0.5 s onset window per map (images with onsets only)
    regions/<stem>.parquet   region shares over each detector's boxes (images with boxes only)
    notices/<stem>.parquet   what the image's results leave out or changed, and why (if anything)
    errors.csv             images skipped, with the reason (retried by the next run)
    metrics.parquet/.csv   every part, concatenated (written at the end of a run)
    iou_curves.parquet     every curve part, concatenated
    temporal.parquet       every temporal part, concatenated (absent when there is none)
    regions.parquet        every regions part, concatenated (absent when there is none)
    notices.parquet/.csv   every notices part, concatenated, and the run's dataset-wide notices
    summary.csv/.tex       mean ± 95% bootstrap CI per detector × method × weights
    tags.csv               free-text tags per image (written by the app's report)
    .tags.lock             held while one session updates tags.csv (:meth:`ResultsFolder.set_tags`)

Every file is written to a temporary name in the same folder and renamed
(:func:`saliency_core.data.atomic.write_atomically`): a killed run never leaves half a part, and the
next run skips finished images. Every CSV goes through :mod:`saliency_core.data.csvfiles` (cells a
spreadsheet would run as formulas are neutralised; the Parquet files keep the exact values)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from filelock import FileLock

from saliency_core.data.atomic import write_atomically
from saliency_core.data.csvfiles import read_csv, write_csv
from saliency_core.settings import Settings

MANIFEST = "manifest.json"
SETTINGS = "settings.toml"
PARTS = "parts"
CURVES = "curves"
ERRORS = "errors.csv"
TABLE = "metrics"
CURVE_TABLE = "iou_curves.parquet"
SUMMARY = "summary"
TAGS = "tags.csv"
TAGS_LOCK = ".tags.lock"
TEMPORAL = "temporal"
REGIONS = "regions"
NOTICES = "notices"
EXTRA_TABLES = (TEMPORAL, REGIONS, NOTICES)
"""Optional per-image tables: parts ``<name>/<stem>.parquet``, consolidated ``<name>.parquet``."""
NOTICE_COLUMNS = ["image", "notice"]
DATASET_NOTICE = "(dataset)"
"""The ``image`` of a notice about the whole run rather than one image."""
ERROR_COLUMNS = ["image", "reason"]
TAG_COLUMNS = ["image", "tags"]


class ResultsError(ValueError):
    """A results folder that cannot be used; the message says why."""


@dataclass(frozen=True)
class ResultsFolder:
    """Reads and writes one run's results under ``root``."""

    root: Path

    def part(self, stem: str) -> Path:
        return self.root / PARTS / f"{stem}.parquet"

    def curve(self, stem: str) -> Path:
        return self.root / CURVES / f"{stem}.parquet"

    def done(self) -> set[str]:
        """Images whose part and curves are both present."""
        folder = self.root / PARTS
        if not folder.is_dir():
            return set()
        return {p.stem for p in folder.glob("*.parquet") if self.curve(p.stem).is_file()}

    def extra_part(self, name: str, stem: str) -> Path:
        return self.root / name / f"{stem}.parquet"

    def write_image(
        self,
        stem: str,
        table: pd.DataFrame,
        curves: pd.DataFrame,
        extras: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        """The image's extra tables (:data:`EXTRA_TABLES`; a part left by an earlier try of the
        image but absent now is removed), curves and rows; the table goes last, so it marks the
        image done."""
        extras = extras or {}
        unknown = sorted(set(extras) - set(EXTRA_TABLES))
        if unknown:
            raise ValueError(
                f"unknown extra table {unknown[0]!r}; one of {', '.join(EXTRA_TABLES)}"
            )
        for name in EXTRA_TABLES:
            path = self.extra_part(name, stem)
            if name in extras:
                write_atomically(path, lambda p, r=extras[name]: r.to_parquet(p, index=False))
            else:
                path.unlink(missing_ok=True)
        write_atomically(self.curve(stem), lambda p: curves.to_parquet(p, index=False))
        write_atomically(self.part(stem), lambda p: table.to_parquet(p, index=False))

    def write_errors(self, errors: dict[str, str]) -> None:
        frame = pd.DataFrame(sorted(errors.items()), columns=ERROR_COLUMNS)
        write_csv(self.root / ERRORS, frame)

    def errors(self) -> pd.DataFrame:
        path = self.root / ERRORS
        return read_csv(path) if path.is_file() else pd.DataFrame(columns=ERROR_COLUMNS)

    def collect(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every part and every curve part, concatenated (sorted by image)."""
        return _concat(self.root / PARTS), _concat(self.root / CURVES)

    def write_tables(self, table: pd.DataFrame, curves: pd.DataFrame) -> None:
        write_atomically(self.root / f"{TABLE}.parquet", lambda p: table.to_parquet(p, index=False))
        write_csv(self.root / f"{TABLE}.csv", table)
        write_atomically(self.root / CURVE_TABLE, lambda p: curves.to_parquet(p, index=False))

    def write_extra_tables(self) -> None:
        """Each finer-grained table's parts consolidated into ``<name>.parquet`` (none: no
        file); the notices by :meth:`write_notices`."""
        for name in (TEMPORAL, REGIONS):
            rows = _concat(self.root / name)
            if not rows.empty:
                path = self.root / f"{name}.parquet"
                write_atomically(path, lambda p, r=rows: r.to_parquet(p, index=False))

    def write_notices(self, dataset_notices: Sequence[str] = ()) -> pd.DataFrame:
        """Every image's notices, then ``dataset_notices`` (image :data:`DATASET_NOTICE`), as
        ``notices.parquet`` and ``notices.csv`` (written with no rows too: nothing was left
        out). Returns the table."""
        run = pd.DataFrame([(DATASET_NOTICE, n) for n in dataset_notices], columns=NOTICE_COLUMNS)
        frames = [f for f in (self.extra_table(NOTICES, consolidated=False), run) if len(f)]
        rows = pd.concat(frames, ignore_index=True) if frames else run
        write_atomically(
            self.root / f"{NOTICES}.parquet", lambda p: rows.to_parquet(p, index=False)
        )
        write_csv(self.root / f"{NOTICES}.csv", rows)
        return rows

    def notices(self) -> pd.DataFrame:
        """The run's notices (columns image, notice): the consolidated table, else the parts of
        a running run."""
        return self.extra_table(NOTICES)

    def extra_table(self, name: str, consolidated: bool = True) -> pd.DataFrame:
        """An extra table (the consolidated file unless ``consolidated`` is False, else the
        parts); empty when the run has none (the notices with their columns)."""
        path = self.root / f"{name}.parquet"
        if consolidated and path.is_file():
            return pd.read_parquet(path)
        rows = _concat(self.root / name)
        return pd.DataFrame(columns=NOTICE_COLUMNS) if name == NOTICES and rows.empty else rows

    def table(self) -> pd.DataFrame:
        """The per-image table (the consolidated file, else the parts of a running run)."""
        path = self.root / f"{TABLE}.parquet"
        return pd.read_parquet(path) if path.is_file() else self.collect()[0]

    def curves(self) -> pd.DataFrame:
        path = self.root / CURVE_TABLE
        return pd.read_parquet(path) if path.is_file() else self.collect()[1]

    def write_summary(self, summary: pd.DataFrame, latex: str) -> None:
        write_csv(self.root / f"{SUMMARY}.csv", summary)
        write_atomically(self.root / f"{SUMMARY}.tex", lambda p: p.write_text(latex))

    def manifest(self) -> dict:
        path = self.root / MANIFEST
        if not path.is_file():
            raise ResultsError(f"{self.root} has no {MANIFEST}: not a results folder")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ResultsError(f"{path} is unreadable ({error})") from error

    def write_manifest(self, manifest: dict) -> None:
        text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
        write_atomically(self.root / MANIFEST, lambda p: p.write_text(text))

    def write_settings(self, settings: Settings) -> None:
        write_atomically(self.root / SETTINGS, lambda p: p.write_text(settings.to_toml()))

    def tags(self) -> pd.DataFrame:
        path = self.root / TAGS
        if not path.is_file():
            return pd.DataFrame(columns=TAG_COLUMNS)
        return read_csv(path, dtype=str, keep_default_na=False)

    def write_tags(self, tags: dict[str, str]) -> None:
        """Free-text tags per image (empty tags dropped), replacing every tag: a session
        updating one image's tags calls :meth:`set_tags`."""
        rows = sorted((image, text.strip()) for image, text in tags.items() if text.strip())
        frame = pd.DataFrame(rows, columns=TAG_COLUMNS)
        write_csv(self.root / TAGS, frame)

    def set_tags(self, image: str, text: str) -> None:
        """Set one image's tags (empty text removes them), keeping every other image's.

        The read–merge–write runs under an exclusive lock on ``.tags.lock`` and the file is
        replaced atomically, so sessions tagging at once never lose each other's tags.
        """
        with FileLock(self.root / TAGS_LOCK):
            tags = self.tags()
            current = dict(zip(tags["image"], tags["tags"], strict=True))
            self.write_tags(current | {image: text})


def _concat(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    frames = [pd.read_parquet(path) for path in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def is_results_folder(path: Path) -> bool:
    return (path / MANIFEST).is_file()
