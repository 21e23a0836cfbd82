"""How the app shows metric tables: "n/a" for an undefined value, no "-0.000".

Streamlit's grid draws a missing value as "None" whatever a format says, so a column that holds
one is written out as text (:func:`readable`); complete columns stay numbers and sort as
numbers. :func:`show` draws a table with the grid's own number format (cheap: the live top-p%
release redraws two tables); :func:`styled` is for tables that also colour cells (a pandas
Styler, about ten times the cost to draw).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

NOT_AVAILABLE = "n/a"
"""How an undefined (NaN) metric value is shown; its reason is listed beside the table."""
DIGITS = 3
"""Decimals a metric value is shown with."""


def format_value(value: float | None, digits: int = DIGITS) -> str:
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


def _float_columns(shown: pd.DataFrame, columns: list | None) -> list:
    candidates = list(shown.columns) if columns is None else list(columns)
    return [c for c in candidates if pd.api.types.is_float_dtype(shown[c])]


def numbers(frame: pd.DataFrame, columns: list | None = None) -> tuple[pd.DataFrame, dict]:
    """:func:`readable` ``frame`` with each complete float column among ``columns`` (default
    all) kept as numbers, a value that rounds to zero at :data:`DIGITS` decimals made +0.0 (so
    a ``%.3f`` format never prints "-0.000"), and the printf format of each such column."""
    shown = readable(frame)
    formats = {}
    for column in _float_columns(shown, columns):
        values = shown[column]
        shown[column] = values.where(values.round(DIGITS) != 0, 0.0)
        formats[column] = f"%.{DIGITS}f"
    return shown, formats


def show(frame: pd.DataFrame, columns: list | None = None, **dataframe_args) -> None:
    """Draws ``frame`` as :func:`numbers` formats it (``st.dataframe`` with ``dataframe_args``);
    whole-number columns (counts: images, seeds) stay whole numbers."""
    shown, formats = numbers(frame, columns)
    config = {column: st.column_config.NumberColumn(format=f) for column, f in formats.items()}
    st.dataframe(shown, column_config=config, **dataframe_args)


def styled(frame: pd.DataFrame, columns: list | None = None) -> Styler:
    """:func:`readable` ``frame`` with its float ``columns`` (default all) formatted by
    :func:`format_value`, as a Styler the caller can colour; whole-number columns stay whole."""
    shown = readable(frame)
    return shown.style.format(format_value, subset=_float_columns(shown, columns))
