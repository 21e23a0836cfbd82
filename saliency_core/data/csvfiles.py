"""The one CSV writer (and reader) of the project: safe to open in a spreadsheet, reversible.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (OWASP "CSV injection": ``=cmd|' /C calc'!A0``,
``+HYPERLINK(…)``, an image named ``=cmd|calc.png``). Such a cell is written with a leading
single quote, which spreadsheets read as "this is text". Numbers are written as they are: numeric
columns, and text cells that are one plain number (``-0.5``), which no spreadsheet executes.
A text cell that already starts with a quote gets one more, so :func:`restore` (used by every
reader here) gives back exactly what was written. Parquet files keep the exact values.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from saliency_core.data.atomic import write_atomically

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """``cell`` with a leading quote when it is text a spreadsheet would execute (or text that
    starts with a quote already); anything else unchanged."""
    if not isinstance(cell, str):
        return cell
    formula = cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell)
    return QUOTE + cell if formula or cell.startswith(QUOTE) else cell


def restore(cell: Any) -> Any:
    """The cell as it was before :func:`neutralise` (one leading quote removed)."""
    return cell[1:] if isinstance(cell, str) and cell.startswith(QUOTE) else cell


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        column
        for column, dtype in frame.dtypes.items()
        if pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are :func:`neutralise`-d (numeric columns as is)."""
    safe = frame.copy()
    for column in _text_columns(frame):
        safe[column] = frame[column].map(neutralise)
    return safe


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` (no index) as safe CSV text, e.g. for a download button."""
    return neutralised(frame).to_csv(index=False)


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    """``frame`` (no index) written to ``path`` as safe CSV, atomically."""
    safe = neutralised(frame)
    write_atomically(path, lambda temporary: safe.to_csv(temporary, index=False))


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """A CSV written by :func:`write_csv` (``options`` go to :func:`pandas.read_csv`), its text
    cells restored."""
    frame = pd.read_csv(path, **options)
    for column in _text_columns(frame):
        frame[column] = frame[column].map(restore)
    return frame


class DictWriter(csv.DictWriter):
    """:class:`csv.DictWriter` writing safe cells (a log appended row by row)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutralise(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV written by :class:`DictWriter`, as dicts of restored text."""
    with Path(path).open(newline="") as handle:
        rows = csv.DictReader(handle)
        return [{key: restore(value) for key, value in row.items()} for row in rows]
