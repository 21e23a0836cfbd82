"""Explore's downloads: the grid as a PNG (its panels painted only when the download is asked
for) and the metrics as a CSV (each row described when it is asked for)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from saliency_core import pipeline, viz
from saliency_core.data.filenames import safe_filename
from ui import matrix, panels
from ui.matrix import MAP_COLORMAP, REFERENCE_COLORMAP

OVERLAY_COLOURS = {
    f"maps ({MAP_COLORMAP}), min-max scaled": MAP_COLORMAP,
    f"references ({REFERENCE_COLORMAP}), min-max scaled": REFERENCE_COLORMAP,
}
"""The overlays' colour maps (``viz.overlay``), shown as colour bars in the exported grid."""


def export_rows(
    rows: list[matrix.Row], pictures: Callable[[matrix.Cell], np.ndarray]
) -> list[viz.PanelRow]:
    """The rows with their pictures, as ``viz.grid_figure`` draws a matrix."""
    return [
        (
            row.title,
            [
                None
                if cell is None or cell.kind == matrix.MISSING
                else (cell.title, pictures(cell))
                for cell in row.cells
            ],
        )
        for row in rows
    ]


def metrics_csv(long: pd.DataFrame, percent: float, bundle: pipeline.Bundle) -> str:
    """The metrics CSV (made when downloaded): each row described (``pipeline.describe``) with
    the top-p% and what reproduces it."""
    table = pipeline.describe(long.assign(top_percent=percent), bundle)
    return pipeline.csv_text(table.assign(**pipeline.reproduction_columns(bundle)))


def grid_rows(
    key: str,
    bundle: pipeline.Bundle,
    show_fixations: bool,
    rows: list[matrix.Row],
    agreement_rows: list[matrix.Row],
    view: matrix.ThresholdView,
) -> list[viz.PanelRow]:
    """The exported grid's rows: the overview's, then the agreement pictures (painted here,
    only when the export is asked for: the live slider draws them in the browser)."""
    grid = export_rows(
        rows, lambda cell: panels.picture(*panels.overview_args(key, bundle, cell, show_fixations))
    )
    return grid + export_rows(agreement_rows, lambda cell: view.picture(cell.key))


def downloads(
    panels: Callable[[], list[viz.PanelRow]],
    csv: Callable[[], str] | None,
    stem: str,
    title: str,
) -> None:
    """The grid (PNG) and the metrics (CSV; None: no metric) as downloads built only when
    clicked: Streamlit calls ``data`` then, in its own thread (a failure there is logged and the
    download fails); ``panels`` gives the grid's rows then."""
    left, right = st.columns(2)
    left.download_button(
        "Download the grid (PNG)",
        partial(grid_png, panels, title),
        file_name=safe_filename(f"{stem}_saliency_grid.png"),
        mime="image/png",
    )
    if csv is None:
        right.caption("No metric to export: no map has a reference to compare with.")
        return
    right.download_button(
        "Download the metrics (CSV)",
        csv,
        file_name=safe_filename(f"{stem}_metrics.csv"),
        mime="text/csv",
    )


def grid_png(panels: Callable[[], list[viz.PanelRow]], title: str) -> bytes:
    """The exported grid: the panels, a legend of the agreement colours and the colour bars."""
    grid = viz.grid_figure(panels(), title=title, legend=True, colorbars=OVERLAY_COLOURS)
    return viz.png_bytes(grid)
