"""Pictures of maps: colour maps, overlays, boxes, fixations, agreement masks, figure grids.

All functions take and return uint8 RGB arrays (H, W, 3) or plotly figures; no Streamlit.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from saliency_core.maps.cams import Detections

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "turbo": cv2.COLORMAP_TURBO,
}
AGREEMENT_COLOURS = {
    "both": np.array([255, 221, 0], np.float32),
    "map only": np.array([230, 40, 60], np.float32),
    "reference only": np.array([40, 120, 255], np.float32),
}
"""Colours of the top-p% agreement view: intersection, the map's alone, the reference's alone."""
AGREEMENT_TINTS = (
    (0.35, 0.0, np.zeros(3, np.float32)),
    (0.25, 0.75, AGREEMENT_COLOURS["map only"]),
    (0.25, 0.75, AGREEMENT_COLOURS["reference only"]),
    (0.25, 0.75, AGREEMENT_COLOURS["both"]),
)
"""The agreement picture's pixel, by code = map + 2 · reference (0: in neither top-p%):
(image weight a, colour weight b, colour c) → uint8(a · image + b · c), in float32."""


def colorize(values: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """A [0, 1] map as an RGB heat map (values outside [0, 1] are clipped)."""
    scaled = np.clip(np.nan_to_num(values), 0.0, 1.0) * 255.0
    bgr = cv2.applyColorMap(scaled.astype(np.uint8), COLORMAPS[colormap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay(rgb: np.ndarray, values: np.ndarray, alpha: float = 0.5, colormap: str = "jet"):
    """(1 − alpha) · image + alpha · heat map."""
    heat = colorize(values, colormap).astype(np.float32)
    return np.clip((1.0 - alpha) * rgb + alpha * heat, 0, 255).astype(np.uint8)


class AgreementPainter:
    """Draws top-p% agreement pictures of one image: dimmed image, intersection yellow, the
    map's pixels red, the reference's blue (each tint = 0.25 · image + 0.75 · colour;
    :data:`AGREEMENT_TINTS`).

    The four versions of the image are computed once, each pixel packed into one uint32 and
    the versions of a pixel side by side; a picture is then one gather at 4 · pixel + code,
    with code = map + 2 · reference, which keeps a threshold update of many maps fast.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        pixels = rgb.astype(np.float32)
        versions = [weight * pixels + mix * colour for weight, mix, colour in AGREEMENT_TINTS]
        packed = np.zeros((*rgb.shape[:2], 4, 4), np.uint8)
        packed[..., :3] = np.stack(versions, axis=2).astype(np.uint8)
        self.shape = rgb.shape
        self.choices = packed.view(np.uint32).ravel()
        self.base = np.arange(rgb.shape[0] * rgb.shape[1]) * 4

    def __call__(self, mask: np.ndarray, reference: np.ndarray) -> np.ndarray:
        code = mask.astype(np.uint8).ravel() + 2 * reference.astype(np.uint8).ravel()
        picture = self.choices.take(self.base + code)
        return np.ascontiguousarray(picture.view(np.uint8).reshape(-1, 4)[:, :3]).reshape(
            self.shape
        )


def _font_file() -> Path | None:
    """DejaVu Sans as shipped with matplotlib (it has "≥", "×", "·"; Pillow's default font
    draws "≥" as a missing-glyph box), or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return path if path.is_file() else None


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    path = _font_file()
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)


def draw_detections(
    rgb: np.ndarray,
    detections: Detections,
    max_boxes: int = 30,
    explained: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Boxes with "label score" tags, highest scores first (at most ``max_boxes``).

    ``explained`` (indices into ``detections``, e.g. ``CamResult.explained``) marks the boxes a
    CAM explains: they are drawn on top, twice as thick, with a white inner rim (always drawn,
    even past ``max_boxes``); the other boxes are drawn thin.
    """
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(rgb.shape[:2]) / 250))
    font = _font(max(11, round(max(rgb.shape[:2]) / 40)))
    chosen = [] if explained is None else [int(k) for k in np.asarray(explained).ravel()]
    chosen = sorted(set(chosen), key=lambda k: -detections.scores[k])
    order = [int(k) for k in np.argsort(-detections.scores)[:max_boxes] if k not in chosen]
    for index in [*order, *chosen]:
        x1, y1, x2, y2 = (float(v) for v in detections.boxes[index])
        colour = _label_colour(int(detections.labels[index]))
        line = width
        if index in chosen:
            line = 2 * width
            draw.rectangle((x1, y1, x2, y2), outline=(255, 255, 255), width=line + 2)
        elif chosen:
            line = max(1, width // 2)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        tag = f"{detections.names[index]} {detections.scores[index]:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), tag, font=font)
        lift = bottom - top + 2
        draw.rectangle((left, top - lift, right + 4, bottom - lift), fill=colour)
        draw.text((x1 + 2, y1 - lift), tag, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def draw_boxes(rgb: np.ndarray, boxes: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Annotated boxes (x1, y1, x2, y2 pixels) with their class names, one colour per name."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(rgb.shape[:2]) / 250))
    font = _font(max(11, round(max(rgb.shape[:2]) / 40)))
    for box, name in zip(np.asarray(boxes).reshape(-1, 4), names, strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        colour = _label_colour(zlib.crc32(name.encode()))
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        left, top, right, bottom = draw.textbbox((x1, y1), name, font=font)
        draw.rectangle((left, top, right + 4, bottom), fill=colour)
        draw.text((x1 + 2, y1), name, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def _label_colour(label: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(label)
    hue = int(rng.integers(0, 180))
    hsv = np.uint8([[[hue, 200, 200]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_fixations(rgb: np.ndarray, points: np.ndarray, radius: int | None = None) -> np.ndarray:
    """Fixation points (x, y) as small green discs with a dark rim."""
    out = rgb.copy()
    radius = radius or max(2, round(max(rgb.shape[:2]) / 150))
    for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
        if np.isfinite(x) and np.isfinite(y):
            centre = (round(x), round(y))
            cv2.circle(out, centre, radius + 1, (20, 20, 20), -1, cv2.LINE_AA)
            cv2.circle(out, centre, radius, (60, 255, 90), -1, cv2.LINE_AA)
    return out


Panel = tuple[str, np.ndarray]
"""A captioned picture of a grid."""
PanelRow = tuple[str, Sequence[Panel | None]]
"""A titled row of a matrix grid; None leaves a column empty."""


def _grid_rows(
    panels: Sequence[Panel] | Sequence[PanelRow], columns: int
) -> tuple[list[tuple[str | None, list[Panel | None]]], int]:
    """(rows, columns): a flat list wrapped at ``columns``, or a matrix's titled rows as they
    are (columns: the longest row's)."""
    if all(isinstance(item[1], np.ndarray) for item in panels):
        count = max(1, min(columns, len(panels)))
        flat = list(panels)
        return [(None, flat[k : k + count]) for k in range(0, len(flat), count)], count
    rows = [(title, list(cells)) for title, cells in panels]
    return rows, max([1, *(len(cells) for _, cells in rows)])


def grid_figure(
    panels: Sequence[Panel] | Sequence[PanelRow],
    columns: int = 4,
    tile: int = 320,
    title: str | None = None,
    legend: bool = False,
    colorbars: Mapping[str, str] | None = None,
) -> np.ndarray:
    """A titled grid of panels (each scaled to ``tile`` px wide) as one RGB image.

    ``panels`` is a flat list of (caption, picture), wrapped at ``columns``, or a matrix: a
    list of (row title, [(caption, picture) or None, …]) drawn one titled row per line with as
    many columns as the longest row (the Explore grid, :mod:`ui.matrix`).
    ``title`` is drawn above the grid; ``legend`` adds the agreement colours
    (:data:`AGREEMENT_COLOURS`) and ``colorbars`` (label -> colormap name of :data:`COLORMAPS`)
    one colour bar each (0 → 1, the maps' min-max scaled values) below it.
    """
    rows, columns = _grid_rows(panels, columns)
    font, row_font = _font(14), _font(16)
    title_h = 40
    shown = [panel for _, cells in rows for panel in cells if panel is not None]
    if not shown:
        raise ValueError("The grid has no picture to draw.")
    cell_h = max(round(tile * p.shape[0] / p.shape[1]) for _, p in shown) + title_h
    heights = [cell_h + 8 + (24 if row_title else 0) for row_title, _ in rows]
    width = columns * (tile + 8) + 8
    header = 34 if title else 0
    footer = (28 if legend else 0) + 44 * len(colorbars or {})
    sheet = Image.new("RGB", (width, header + sum(heights) + 8 + footer), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((8, 8), title, fill=(0, 0, 0), font=_font(18))
    y = header + 8
    for (row_title, cells), row_height in zip(rows, heights, strict=True):
        if row_title:
            draw.text((8, y), _wrap(row_title, draw, row_font, width - 16)[0], (0, 0, 0), row_font)
        top = y + (24 if row_title else 0)
        for column, cell in enumerate(cells):
            if cell is None:
                continue
            text, panel = cell
            x = 8 + column * (tile + 8)
            height = round(tile * panel.shape[0] / panel.shape[1])
            resized = cv2.resize(panel, (tile, height), interpolation=cv2.INTER_AREA)
            sheet.paste(Image.fromarray(resized), (x, top + title_h))
            for line_no, line in enumerate(_wrap(text, draw, font, tile)[:2]):
                draw.text((x, top + 2 + 18 * line_no), line, fill=(20, 20, 20), font=font)
        y += row_height
    if legend:
        _draw_legend(draw, (8, y), font)
        y += 28
    for label, colormap in (colorbars or {}).items():
        _draw_colorbar(sheet, draw, (8, y), min(width - 16, 420), label, colormap, font)
        y += 44
    return np.asarray(sheet)


LEGEND_TEXT = {
    "both": "in both top-p% masks",
    "map only": "map only",
    "reference only": "reference only",
}


def _draw_legend(draw: ImageDraw.ImageDraw, origin: tuple[int, int], font) -> None:
    """One swatch and label per agreement colour, on one line."""
    x, y = origin
    for name, text in LEGEND_TEXT.items():
        colour = tuple(int(c) for c in AGREEMENT_COLOURS[name])
        draw.rectangle((x, y + 3, x + 16, y + 19), fill=colour, outline=(60, 60, 60))
        draw.text((x + 22, y + 3), text, fill=(20, 20, 20), font=font)
        x += 22 + round(draw.textlength(text, font=font)) + 24


def _draw_colorbar(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    length: int,
    label: str,
    colormap: str,
    font,
) -> None:
    """A horizontal bar of ``colormap`` from 0 to 1 with end ticks and ``label``."""
    x, y = origin
    ramp = colorize(np.tile(np.linspace(0.0, 1.0, length), (12, 1)), colormap)
    sheet.paste(Image.fromarray(ramp), (x, y + 2))
    draw.rectangle((x - 1, y + 1, x + length, y + 14), outline=(60, 60, 60))
    draw.text((x, y + 16), "0", fill=(20, 20, 20), font=font)
    draw.text((x + length - 8, y + 16), "1", fill=(20, 20, 20), font=font)
    draw.text((x + 24, y + 16), label, fill=(20, 20, 20), font=font)


def _wrap(text: str, draw: ImageDraw.ImageDraw, font, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    return [*lines, current] if current else lines


DIVIDER = np.array([255, 255, 255], np.uint8)
"""Colour of the swipe comparison's split line."""


def swipe(before: np.ndarray, after: np.ndarray, fraction: float, line: int = 2) -> np.ndarray:
    """A before/after swipe: the columns left of ``round(fraction · W)`` from ``before``, the
    rest from ``after`` (same H×W×3), with a ``line``-px white divider left of the split when
    it lies inside the image. ``fraction`` is clipped to [0, 1]."""
    if before.shape != after.shape:
        raise ValueError(f"before and after differ in shape: {before.shape} vs {after.shape}")
    width = before.shape[1]
    split = round(float(np.clip(fraction, 0.0, 1.0)) * width)
    picture = after.copy()
    picture[:, :split] = before[:, :split]
    if 0 < split < width:
        picture[:, max(0, split - line) : split] = DIVIDER
    return picture


def jpeg_bytes(rgb: np.ndarray, max_width: int | None = None, quality: int = 90) -> bytes:
    """Encode an RGB array as JPEG (``quality`` 0–100), first shrunk to ``max_width`` px wide
    (aspect kept, area interpolation) when it is wider: what a grid panel needs on screen."""
    height, width = rgb.shape[:2]
    if max_width is not None and width > max_width:
        size = (max_width, max(1, round(height * max_width / width)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError(f"could not encode a {width}×{height} picture as JPEG")
    return encoded.tobytes()


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an RGB array as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def percent_marker(percent: float) -> dict:
    """The dotted vertical line at top-``percent`` % on an IoU curve (a plotly layout shape)."""
    return {
        "type": "line",
        "xref": "x",
        "yref": "y domain",
        "x0": percent,
        "x1": percent,
        "y0": 0,
        "y1": 1,
        "line": {"color": "grey", "dash": "dot"},
    }


def marked(figure: dict, percent: float) -> go.Figure:
    """``figure`` (a figure's ``to_dict()``: validated once, e.g. cached) with its shapes
    replaced by the marker at ``percent``, built without validating it again (plotly's own
    ``_validate=False``, as its templates do: about a tenth of the cost of a new figure)."""
    layout = {**figure["layout"], "shapes": [percent_marker(percent)]}
    return go.Figure({**figure, "layout": layout}, _validate=False)


def iou_curve_figure(curves, reference_name: str, percent: float | None = None) -> go.Figure:
    """IoU of the top-p% masks against ``reference_name`` as p goes from 1 to 50%.

    ``curves`` is a long table with columns ``map``, ``percent`` and ``iou``.
    """
    figure = go.Figure()
    for name, group in curves.groupby("map", sort=False):
        figure.add_trace(
            go.Scatter(x=group["percent"], y=group["iou"], mode="lines", name=str(name))
        )
    if percent is not None:
        figure.add_shape(percent_marker(percent))
    figure.update_layout(
        title=f"IoU of the top-p% pixels vs. {reference_name}",
        xaxis_title="top p (% of pixels)",
        yaxis_title="IoU",
        yaxis_range=[0, 1],
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 40, "r": 10, "t": 50, "b": 10},
        height=420,
    )
    return figure
