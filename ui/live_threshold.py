"""The live top-p% slider's data: what the browser needs to draw every agreement picture and
its IoU at any p, exactly as the library does (no Streamlit here; the component is
``ui.live_component``, its script ``ui/live_threshold.js``).

What is sent, per map and reference, once per image: its **rank image** (each pixel's
competition rank, the number of pixels with a strictly greater value: uint16 up to 65,536
pixels, else uint32) and its **sorted values** (ascending, float32 when that is lossless, else
float64), each zlib-compressed (the browser inflates them with its own ``DecompressionStream``).
Why these two and not the maps: the library's threshold (``agreement.RankedMap``) is
``t = s[l] + f · (s[l+1] − s[l])`` on the sorted values ``s``, the counts ``|{v ≥ t}|`` and
``|{v > t}|`` are binary searches in ``s``, and the tie rule (``metrics.strict_cut``) picks one
of them as ``K``; since both counts end a block of ties, the mask is then exactly
``rank < K``. So the browser evaluates the library's own float64 formula (IEEE arithmetic is
the same in JavaScript) with no sort of its own, and each frame costs one integer comparison
per pixel, which also gives the tint code and the intersection count in the same pass (the
union is ``K_map + K_reference − intersection``). A list of masks per p would be large and
only exact at the p's listed.

The image goes once too (RGB), with the tint table (``viz.AGREEMENT_TINTS``): the browser
builds the four versions of each pixel as ``viz.AgreementPainter`` does, in float32.

Format (one ``bytes``): ``b"LTP1"``, the header's length (uint32, little-endian), the header
(UTF-8 JSON), then the sections it lists (``[offset, length]`` after the header). A *control*
message is the header alone: what the page shows now (p, the reference, the tie rule, the rows)
and the id of the payload it refers to, which the browser keeps once received.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from saliency_core import viz
from saliency_core.scoring import metrics
from saliency_core.scoring.agreement import RankedMap
from saliency_core.study import TIE_POLICIES
from ui import matrix

MAGIC = b"LTP1"
PIXEL_BUDGET = 16 * 512 * 512
"""Most map pixels (maps and references together, times the image's pixels) the live slider
takes: 16 maps at 512² (about 16 MB of ranks and values sent, 4 M comparisons per frame at
most). Above it the page keeps the server-side slider and says why."""
SLIDER = {"min": 1.0, "max": 50.0, "step": 0.5}
"""The top-p% slider's range and step (the server-side slider's)."""
LEVEL = 1
"""zlib level: ranks and values hardly compress further at higher levels, which cost 4×."""


@dataclass(frozen=True)
class Payload:
    """What the browser keeps for one image: its id (a digest of the content), the header's
    image and map entries and the compressed sections they point to."""

    id: str
    header: dict
    sections: tuple[bytes, ...]


def ranks(ranked: RankedMap) -> np.ndarray:
    """Each pixel's competition rank in decreasing order: ``|{v' > v}|`` (ties share a rank),
    as uint16 when the map has at most 65,536 pixels, else uint32; flattened row-major."""
    flat = ranked.values.ravel()
    rank = ranked.sorted.size - np.searchsorted(ranked.sorted, flat, "right")
    return rank.astype(np.uint16 if ranked.sorted.size <= 1 << 16 else np.uint32)


def sorted_values(ranked: RankedMap) -> np.ndarray:
    """The ascending values as float32 when that loses nothing, else float64."""
    narrow = ranked.sorted.astype(np.float32)
    return narrow if np.array_equal(narrow, ranked.sorted) else ranked.sorted


def pack(header: dict, sections: Sequence[bytes] = ()) -> bytes:
    """``MAGIC``, the header's length, the header (JSON; ``sections`` lists each section's
    ``[offset, length]`` after it) and the sections."""
    offsets, at = [], 0
    for section in sections:
        offsets.append([at, len(section)])
        at += len(section)
    text = json.dumps({**header, "sections": offsets}, allow_nan=False).encode()
    return b"".join([MAGIC, struct.pack("<I", len(text)), text, *sections])


def unpack(data: bytes) -> tuple[dict, list[bytes]]:
    """The header and the sections of :func:`pack`'s bytes."""
    if data[:4] != MAGIC:
        raise ValueError("not a live-threshold message")
    (length,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    return header, [body[start : start + size] for start, size in header["sections"]]


def over_budget(shape: tuple[int, ...], count: int, budget: int | None = None) -> str | None:
    """Why the live slider cannot take ``count`` maps of ``shape`` within ``budget`` map pixels
    (default :data:`PIXEL_BUDGET`); None when it can."""
    budget = PIXEL_BUDGET if budget is None else budget
    height, width = shape[:2]
    if count * height * width <= budget:
        return None
    return (
        f"{count} maps of {width}×{height} px are more than the live slider takes "
        f"({budget:,} map pixels)"
    )


def payload(rgb: np.ndarray, ranked: Mapping[str, RankedMap]) -> Payload:
    """The image and every map's rank image and sorted values (module docstring)."""
    height, width = rgb.shape[:2]
    sections = [zlib.compress(np.ascontiguousarray(rgb[..., :3], np.uint8).tobytes(), LEVEL)]
    maps = []
    for name, values in ranked.items():
        if values.values.shape != (height, width):
            raise ValueError(f"{name}: map shape {values.values.shape} is not the image's")
        rank, order = ranks(values), sorted_values(values)
        above_minimum = values.sorted.size - int(
            np.searchsorted(values.sorted, values.sorted[0], "right")
        )
        maps.append(
            {
                "name": name,
                "ranks": [len(sections), rank.dtype.name],
                "sorted": [len(sections) + 1, order.dtype.name],
                "constant": values.constant,
                "above_minimum": above_minimum,
            }
        )
        sections += [zlib.compress(rank.tobytes(), LEVEL), zlib.compress(order.tobytes(), LEVEL)]
    header = {
        "width": width,
        "height": height,
        "image": 0,
        "tints": [[a, b, [float(c) for c in colour]] for a, b, colour in viz.AGREEMENT_TINTS],
        "maps": maps,
    }
    digest = hashlib.sha256(json.dumps(header).encode())
    for section in sections:
        digest.update(section)
    return Payload(digest.hexdigest()[:16], header, tuple(sections))


@dataclass(frozen=True)
class Control:
    """What the page shows now: the slider's p, the reference, the tie rule, the agreement rows
    (each a title and its cells' ``[map name, caption]`` or None) in ``columns`` columns."""

    percent: float
    reference: str
    ties: str
    rows: list[tuple[str, list[tuple[str, str] | None]]]
    columns: int
    live: bool = True
    """False: the browser only keeps the payload and says it can draw (``ready``)."""

    def header(self, payload_id: str) -> dict:
        if self.ties not in TIE_POLICIES:
            raise ValueError(f"ties must be one of {TIE_POLICIES}, got {self.ties!r}")
        return {
            "id": payload_id,
            "live": self.live,
            "percent": self.percent,
            "reference": self.reference,
            "ties": self.ties,
            "slider": SLIDER,
            "rows": [
                [title, [list(c) if c else None for c in cells]] for title, cells in self.rows
            ],
            "columns": self.columns,
            "suffix": matrix.AGREEMENT_SUFFIX.replace("{percent:g}", "{p}"),
            "reasons": {"constant": metrics.CONSTANT_MAP, "empty": metrics.EMPTY_MASK},
            "flag": metrics.FEW_ABOVE_MINIMUM,
        }


def message(control: Control, payload: Payload, with_payload: bool) -> bytes:
    """The bytes sent to the component: the control, and the payload when the browser does
    not have it yet (``with_payload``)."""
    header = control.header(payload.id)
    if not with_payload:
        return pack(header)
    return pack({**header, "payload": payload.header}, payload.sections)


def control_rows(
    rows: Sequence[matrix.Row], percent: float, reference: str
) -> list[tuple[str, list[tuple[str, str] | None]]]:
    """``matrix.agreement_rows``' rows as the control sends them: each title without its
    ``matrix.AGREEMENT_SUFFIX`` (the browser writes it for the p shown) and each cell as
    ``(map name, caption)``."""
    suffix = matrix.AGREEMENT_SUFFIX.format(percent=percent, reference=reference)
    return [
        (
            row.title.removesuffix(suffix),
            [None if cell is None else (cell.key, cell.title) for cell in row.cells],
        )
        for row in rows
    ]
