"""Human fixations: reading them, and turning them into fixation maps, densities and masks.

Points are ``(x, y)`` pixel coordinates of the image they were recorded on (x the column, y the
row, origin at the top-left; integer coordinates are pixel centres): :func:`to_pixel_coords` and
:func:`fixation_map` round them to the nearest pixel and drop points outside the image, for these
densities and for every metric (:mod:`saliency_core.scoring.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from scipy import ndimage

__all__ = [
    "DEGREES_PER_IMAGE",
    "FixationFile",
    "default_sigma",
    "density_map",
    "display",
    "fixation_map",
    "points_by_subject",
    "read_fixation_file",
    "read_fixation_table",
    "read_fixations",
    "rescale_points",
    "to_pixel_coords",
]

DEGREES_PER_IMAGE = 30.0
"""Assumed visual angle (degrees) spanned by an image's longer side (MIT1003/MIT300-like viewing:
1024 px over about 29°, i.e. about 35 px per degree)."""

REQUIRED_COLUMNS = ("x", "y")
SUBJECT_COLUMN = "subject"
ONSET_COLUMN = "onset_s"
NO_SUBJECTS = f"the fixations carry no subject ids (no {SUBJECT_COLUMN!r} column)"


@dataclass(frozen=True)
class FixationFile:
    """A fixation CSV as read: its usable rows, and a notice for each thing left out."""

    table: pd.DataFrame
    notices: tuple[str, ...] = ()


def to_pixel_coords(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Round (x, y) points to integer pixel coordinates, int64 (M, 2), dropping those outside.

    ``x`` indexes columns and ``y`` rows; integer coordinates are pixel centres, so a point goes to
    pixel ``(floor(x + 0.5), floor(y + 0.5))``. Points whose pixel lies outside ``shape`` = (H, W)
    (or with a non-finite coordinate) are dropped; order and duplicates of the rest are kept.
    """
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be an (N, 2) array of (x, y), got shape {array.shape}")
    rounded = np.floor(array + 0.5)
    height, width = shape
    inside = (
        (rounded[:, 0] >= 0)
        & (rounded[:, 0] < width)
        & (rounded[:, 1] >= 0)
        & (rounded[:, 1] < height)
    )
    return rounded[inside].astype(np.int64)


def fixation_map(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Binary (H, W) map of fixated pixels (see :func:`to_pixel_coords` for the rounding)."""
    pixels = to_pixel_coords(points, shape)
    fixated = np.zeros(shape, dtype=bool)
    fixated[pixels[:, 1], pixels[:, 0]] = True
    return fixated


def read_fixation_file(source: str | Path | IO) -> FixationFile:
    """Read a fixation CSV (path or file object): float ``x``, ``y`` columns and the others as read.

    Needs columns ``x`` and ``y`` (pixels); ``subject``, ``onset_s``, ``duration_s`` and any other
    columns are kept. Header names are matched after stripping spaces; a header-only file gives
    an empty table. A row without a usable ``x``/``y`` (empty, NaN, text, infinite) is dropped
    with a notice naming its data rows; the rest of the file is kept. ``onset_s`` is normalised
    by :func:`_onset_seconds`. Raises ValueError naming the problem for an empty or unparsable
    file, missing ``x``/``y`` columns, or when no data row has a usable ``x``/``y``.
    """
    name = source if isinstance(source, str | Path) else getattr(source, "name", "fixation file")
    try:
        table = pd.read_csv(source, skipinitialspace=True)
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"{name}: the file is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{name}: not a readable CSV file ({error})") from error
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(
            f"{name}: missing column(s) {', '.join(missing)}; expected a header with x,y "
            f"(found: {', '.join(table.columns)})"
        )
    table, notices = _usable_points(table, name)
    table, onset_notices = _onset_seconds(table, name)
    return FixationFile(table.reset_index(drop=True), (*notices, *onset_notices))


def read_fixation_table(source: str | Path | IO) -> pd.DataFrame:
    """The table of :func:`read_fixation_file` (its notices left out)."""
    return read_fixation_file(source).table


def read_fixations(source: str | Path | IO) -> np.ndarray:
    """Fixations of a CSV as float64 (N, 2) ``(x, y)`` (see :func:`read_fixation_file`)."""
    return read_fixation_table(source)[list(REQUIRED_COLUMNS)].to_numpy(dtype=np.float64)


ROWS_NAMED = 10
"""A notice names at most this many data rows, then counts the rest."""


def _data_rows(rows: Sequence[str]) -> str:
    """ "data row 3", "data rows 3, 7" or "data rows 3, 7, … and 12 more" (1-based rows after
    the header; the first :data:`ROWS_NAMED` named)."""
    more = len(rows) - ROWS_NAMED
    listed = ", ".join(rows[:ROWS_NAMED]) + (f" and {more} more" if more > 0 else "")
    return f"data {'row' if len(rows) == 1 else 'rows'} {listed}"


def _coordinate_problem(raw: object) -> str:
    if pd.isna(raw):
        return "is missing"
    number = pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0]
    return f"must be numeric, got {str(raw)!r}" if pd.isna(number) else f"must be finite, got {raw}"


def _usable_points(table: pd.DataFrame, name: object) -> tuple[pd.DataFrame, list[str]]:
    """``table`` without its rows lacking a finite ``x``/``y`` (index kept: the data row - 1),
    the coordinates as float64, and a notice counting the rows dropped."""
    values = {
        column: pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        for column in REQUIRED_COLUMNS
    }
    bad = ~np.isfinite(values["x"]) | ~np.isfinite(values["y"])
    if bad.any() and bad.all():
        row = int(np.flatnonzero(bad)[0])
        column = next(c for c in REQUIRED_COLUMNS if not np.isfinite(values[c][row]))
        problem = _coordinate_problem(table[column].iloc[row])
        raise ValueError(
            f"{name}: no data row has a usable x,y; {column} {problem} in data row {row + 1} "
            "(after the header)"
        )
    for column in REQUIRED_COLUMNS:
        table[column] = values[column]
    if not bad.any():
        return table, []
    rows = [str(row + 1) for row in np.flatnonzero(bad)]
    noun = "row" if len(rows) == 1 else "rows"
    usable = f"no usable x/y: {_data_rows(rows)}"
    notice = f"Fixations file {name}: {len(rows)} {noun} dropped ({usable})"
    return table[~bad].copy(), [notice]


def _onset_seconds(table: pd.DataFrame, name: object) -> tuple[pd.DataFrame, list[str]]:
    """``onset_s`` as float64 seconds with NaN where a row has none, and notices.

    Empty in every row: the column is dropped (the file has no onsets, as without the column).
    Empty in some rows, or not a number of seconds >= 0 (text, negative, infinite): NaN, with a
    notice naming the data rows; those fixations are left out of the time analysis only.
    """
    if ONSET_COLUMN not in table.columns:
        return table, []
    raw = table[ONSET_COLUMN]
    blank = raw.isna().to_numpy() | raw.astype(str).str.strip().eq("").to_numpy()
    if blank.all():
        return table.drop(columns=ONSET_COLUMN), []
    seconds = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=np.float64)
    invalid = ~blank & ~(np.isfinite(seconds) & (seconds >= 0))
    data_rows = table.index.to_numpy() + 1
    notices = []
    left_out = "those fixations are left out of the time analysis only"
    if blank.any():
        rows = [str(row) for row in data_rows[blank]]
        notices.append(
            f"Fixations file {name}: {ONSET_COLUMN} is empty in {len(rows)} of {len(table)} "
            f"rows ({_data_rows(rows)}): {left_out}"
        )
    if invalid.any():
        pairs = zip(data_rows[invalid], raw[invalid], strict=True)
        rows = [f"{row} ({str(value)!r})" for row, value in pairs]
        notices.append(
            f"Fixations file {name}: {ONSET_COLUMN} must be a number of seconds >= 0, not in "
            f"{_data_rows(rows)}: {left_out}"
        )
    table[ONSET_COLUMN] = np.where(blank | invalid, np.nan, seconds)
    return table, notices


def points_by_subject(table: pd.DataFrame) -> dict[object, np.ndarray]:
    """Each subject's fixations as float64 (N, 2) ``(x, y)``, in file order, subjects sorted.

    ``table`` is a :func:`read_fixation_table` table. Raises ValueError (:data:`NO_SUBJECTS`)
    without a ``subject`` column, and names the first data row whose subject id is missing.
    """
    if SUBJECT_COLUMN not in table.columns:
        raise ValueError(NO_SUBJECTS)
    missing = table[SUBJECT_COLUMN].isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{SUBJECT_COLUMN} is missing in data row {row + 1} (after the header)")
    return {
        subject: group[list(REQUIRED_COLUMNS)].to_numpy(dtype=np.float64)
        for subject, group in table.groupby(SUBJECT_COLUMN, sort=True)
    }


def rescale_points(
    points: np.ndarray, from_shape: tuple[int, int], to_shape: tuple[int, int]
) -> np.ndarray:
    """Map (x, y) points from an image of ``from_shape`` (H, W) to one resized to ``to_shape``.

    With pixel centres at integer coordinates: ``x' = (x + 0.5) · W' / W - 0.5`` (likewise y), so
    the image's edges map onto each other exactly (aspect ratio not kept, as ``resize_map`` does).
    """
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    scale = np.array([to_shape[1] / from_shape[1], to_shape[0] / from_shape[0]])
    return (array + 0.5) * scale - 0.5


def default_sigma(shape: tuple[int, int]) -> float:
    """About one degree of visual angle in pixels: ``max(H, W) / 30``.

    Assumes the image's longer side spans :data:`DEGREES_PER_IMAGE` = 30° (e.g. 17.1 px for the
    study's 512×512 maps, 34.1 px for a 1024-px MIT image). Real viewing geometry, when known,
    should replace this.
    """
    return max(shape) / DEGREES_PER_IMAGE


def density_map(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Fixation density: float32 (H, W), non-negative, summing to 1.

    Each point inside the image adds one count to its pixel (rounded, see :func:`to_pixel_coords`;
    points outside are dropped); the counts are blurred by a Gaussian of standard deviation
    ``sigma`` pixels (zero padding outside the image, kernel truncated at 4 sigma; ``sigma = 0``: no
    blur) and divided by their sum. With no point inside, the map is all zeros (no density): the
    metrics then report it as undefined.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 pixels, got {sigma}")
    height, width = shape
    pixels = to_pixel_coords(points, shape)
    if sigma > 0 and 4 * len(pixels) < min(height, width):
        counts = _sparse_blur(pixels, shape, sigma)
    else:
        counts = np.bincount(pixels[:, 1] * width + pixels[:, 0], minlength=height * width)
        counts = counts.reshape(height, width).astype(np.float64)
        if sigma > 0:
            counts = ndimage.gaussian_filter(counts, sigma, mode="constant")
    total = counts.sum()
    return (counts / total if total > 0 else counts).astype(np.float32)


def _sparse_blur(pixels: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """``ndimage.gaussian_filter(counts, sigma, mode="constant")`` for few points, as one product.

    The blur is separable and linear: with w the kernel scipy uses (w_k ∝ exp(−k²/2σ²) for
    |k| ≤ r = ⌊4σ + ½⌋, summing to 1), the blurred counts are Gy · Gxᵀ with Gy[y, i] = w[y − y_i]
    and Gx[x, i] = w[x − x_i] over the N points: O(H·W·N) instead of two passes of O(H·W·r).
    """
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * offsets**2 / sigma**2)
    kernel /= kernel.sum()

    def factor(positions: np.ndarray, size: int) -> np.ndarray:
        distance = np.arange(size)[:, None] - positions[None, :]
        inside = np.abs(distance) <= radius
        return np.where(inside, kernel[np.clip(distance + radius, 0, 2 * radius)], 0.0)

    return factor(pixels[:, 1], shape[0]) @ factor(pixels[:, 0], shape[1]).T


def display(density: np.ndarray) -> np.ndarray:
    """A non-negative map scaled to [0, 1] for display: ``m / max m`` (all zeros stay zeros)."""
    peak = float(np.max(density))
    scaled = density / peak if peak > 0 else np.zeros_like(density)
    return np.asarray(scaled, dtype=np.float32)
