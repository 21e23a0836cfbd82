"""How the app shows metric tables: "n/a" for an undefined value, no "-0.000" (no Streamlit).

Streamlit's grid draws a missing value as "None" whatever a pandas Styler says, so a column
that holds one is written out as text (:func:`readable`); complete columns stay numbers and
sort as numbers, formatted by the Styler (:func:`styled`).
"""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

NOT_AVAILABLE = "n/a"
"""How an undefined (NaN) metric value is shown; its reason is listed beside the table."""


def format_value(value: float | None, digits: int = 3) -> str:
    """A metric value for display: :data:`NOT_AVAILABLE` when NaN/None, otherwise ``digits``
    decimals, with a value that rounds to zero printed unsigned (IG of −0.0001 is "0.000",
    never "-0.000")."""
    if value is None or pd.isna(value):
        return NOT_AVAILABLE
    text = f"{float(value):.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each numeric column that holds a NaN written out by :func:`format_value`,
    and missing text shown as "n/a" (as "" in a ``reason`` column: a defined value needs none)."""
    shown = frame.copy()
    for column in shown.columns:
        if not shown[column].isna().any():
            continue
        if pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(format_value)
        else:
            shown[column] = shown[column].fillna("" if column == "reason" else NOT_AVAILABLE)
    return shown


def styled(frame: pd.DataFrame, columns: list | None = None) -> Styler:
    """:func:`readable` ``frame`` with its float ``columns`` (default all) formatted by
    :func:`format_value`; whole-number columns (counts: images, seeds) stay whole numbers."""
    shown = readable(frame)
    candidates = list(shown.columns) if columns is None else list(columns)
    numeric = [c for c in candidates if pd.api.types.is_float_dtype(shown[c])]
    return shown.style.format(format_value, subset=numeric)
