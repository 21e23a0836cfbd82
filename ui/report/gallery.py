"""The failure-mode gallery's rows: worst first, tags, value-range filter, slider, pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


def rank_images(table: pd.DataFrame, map_label: str, reference_key: str, metric: str):
    """The images for one (map, reference, metric), worst first: lowest value first when higher
    is better, else highest; undefined values last; ties by image id. Columns rank (1-based),
    image, value, reason."""
    rows = table[
        (table["map"] == map_label)
        & (table["reference_key"] == reference_key)
        & (table["metric"] == metric)
    ]
    columns = ["rank", "image", "value", "reason"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    higher = bool(rows["higher_is_better"].iloc[0])
    ranked = (
        rows.assign(_undefined=rows["value"].isna(), _key=rows["value"] * (1 if higher else -1))
        .sort_values(["_undefined", "_key", "image"], kind="stable")
        .reset_index(drop=True)
    )
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked[columns]


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated free text as tags: trimmed, empty ones dropped, first spelling kept."""
    tags: dict[str, str] = {}
    for part in str(text).split(","):
        tag = " ".join(part.split())
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return tuple(tags.values())


def tag_lists(tags: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Image -> its tags, from a tags table (columns image, tags)."""
    return {str(row.image): parse_tags(row.tags) for row in tags.itertuples(index=False)}


def all_tags(tags: Mapping[str, Iterable[str]]) -> list[str]:
    """Every tag in use, sorted case-insensitively."""
    return sorted({tag for image_tags in tags.values() for tag in image_tags}, key=str.casefold)


def filter_images(
    ranked: pd.DataFrame,
    value_range: tuple[float, float] | None = None,
    include_undefined: bool = True,
    tags: Mapping[str, Iterable[str]] | None = None,
    wanted: Iterable[str] = (),
) -> pd.DataFrame:
    """The ranked images with a value in ``value_range`` (inclusive; undefined ones kept when
    ``include_undefined``) and, when ``wanted`` is not empty, at least one of those tags."""
    values = ranked["value"].astype(float)
    undefined = values.isna()
    keep = ~undefined if value_range is None else values.between(*value_range)
    keep = keep | (undefined & include_undefined)
    wanted = {tag.casefold() for tag in wanted}
    if wanted:
        tags = tags or {}
        has = ranked["image"].map(
            lambda image: bool(wanted & {tag.casefold() for tag in tags.get(image, ())})
        )
        keep &= has.astype(bool)
    return ranked[keep.to_numpy()].reset_index(drop=True)


def slider_step(low: float, high: float, steps: int = 100) -> float:
    """A step for a slider over [low, high]: (high − low) / ``steps`` rounded down to 1, 2 or 5
    × 10^k (0.0048 / 100 → 0.00002), so one key press moves a small part of the range."""
    span = (high - low) / steps
    if not np.isfinite(span) or span <= 0:
        return 0.01
    power = 10.0 ** np.floor(np.log10(span))
    mantissa = max(m for m in (1, 2, 5) if m * power <= span * (1 + 1e-9))
    return float(f"{mantissa * power:.1e}")


def slider_format(step: float) -> str:
    """A printf format showing the decimals ``step`` needs (at least 3)."""
    return f"%.{max(3, int(-np.floor(np.log10(step))))}f"


def page_count(items: int, per_page: int) -> int:
    return max(1, -(-items // per_page))


def page_of(frame: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of the 1-based ``page`` (clamped to the pages there are)."""
    page = min(max(page, 1), page_count(len(frame), per_page))
    return frame.iloc[(page - 1) * per_page : page * per_page]
