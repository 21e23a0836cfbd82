"""Rectangles the user draws on an image (click and drag), kept in the session state.

The drawing widget is ``streamlit-image-coordinates`` (``click_and_drag=True``): on mouse up it
returns ``{x1, y1, x2, y2, width, height, unix_time}``, the press and release points in pixels
of the image *as displayed* (``width`` × ``height``; the release may lie outside the image).
:func:`to_image_rectangle` rescales such a value to the image's own pixels and
:func:`add_rectangle` keeps a list without repeats; :func:`draw_rectangles` wires them to the
widget and a "Clear rectangles" button.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
import streamlit as st

Rectangle = tuple[float, float, float, float]
DISPLAY_WIDTH = 640
"""The widget shows the image at most this many pixels wide."""
DRAWN_COLOUR = (255, 60, 200)
"""RGB of the drawn rectangles' outlines."""


def to_image_rectangle(
    value: Mapping[str, float] | None, shape: tuple[int, int], display_width: int
) -> Rectangle | None:
    """The widget's drag ``value`` as ``(x1, y1, x2, y2)`` in pixels of an image of ``shape``
    (H, W), corners sorted and clipped to ``[0, W] × [0, H]``; None for no value, a plain click
    or a drag that covers no area inside the image.

    Scale: x · W / displayed width, y · H / displayed height (the value's ``width``/``height``;
    without them ``display_width`` and the image's aspect ratio).
    """
    if not value or not all(k in value for k in ("x1", "y1", "x2", "y2")):
        return None
    height, width = shape
    shown_width = float(value.get("width") or display_width)
    shown_height = float(value.get("height") or shown_width * height / width)
    xs = sorted(float(value[k]) * width / shown_width for k in ("x1", "x2"))
    ys = sorted(float(value[k]) * height / shown_height for k in ("y1", "y2"))
    x1, x2 = (float(np.clip(x, 0, width)) for x in xs)
    y1, y2 = (float(np.clip(y, 0, height)) for y in ys)
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return None
    return (x1, y1, x2, y2)


def add_rectangle(rectangles: list[Rectangle], rectangle: Rectangle | None) -> list[Rectangle]:
    """``rectangles`` with ``rectangle`` appended, unless it is None or already there (a rerun
    hands the widget's last value back)."""
    if rectangle is None or rectangle in rectangles:
        return list(rectangles)
    return [*rectangles, rectangle]


def outlined(rgb: np.ndarray, rectangles: list[Rectangle]) -> np.ndarray:
    """A copy of ``rgb`` (uint8 H×W×3) with each rectangle's outline drawn (OpenCV)."""
    picture = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    thickness = max(1, round(max(picture.shape[:2]) / 200))
    for x1, y1, x2, y2 in rectangles:
        corners = (round(x1), round(y1)), (max(round(x2) - 1, 0), max(round(y2) - 1, 0))
        cv2.rectangle(picture, *corners, DRAWN_COLOUR, thickness)
    return picture


def _take_drag(key: str, shape: tuple[int, int], display_width: int) -> None:
    """The widget's callback: its new value (``st.session_state[key + "_widget"]``) joins the
    rectangles before the rerun, so the image shows it at once."""
    value = st.session_state.get(f"{key}_widget")
    rectangle = to_image_rectangle(value, shape, display_width)
    st.session_state[key] = add_rectangle(st.session_state.get(key, []), rectangle)


def draw_rectangles(rgb: np.ndarray, key: str) -> list[Rectangle]:
    """The drawing widget over ``rgb`` with the rectangles drawn so far (in image pixels),
    kept in ``st.session_state[key]``; a button clears them. Without the component (not
    installed, or a runner that cannot show it) a caption says so and the list stays as is."""
    if st.button("Clear rectangles", key=f"{key}_clear", disabled=not st.session_state.get(key)):
        st.session_state[key] = []
    rectangles: list[Rectangle] = st.session_state.setdefault(key, [])
    display_width = min(DISPLAY_WIDTH, rgb.shape[1])
    try:
        from streamlit_image_coordinates import streamlit_image_coordinates

        streamlit_image_coordinates(
            outlined(rgb, rectangles),
            key=f"{key}_widget",
            width=display_width,
            click_and_drag=True,
            on_click=lambda: _take_drag(key, rgb.shape[:2], display_width),
            cursor="crosshair",
        )
    except Exception as error:  # noqa: BLE001 - fall back to typed rectangles
        st.caption(f"Drawing is not available here ({error}): type the rectangles below.")
        return rectangles
    st.caption(
        f"Drag on the image to draw a rectangle ({len(rectangles)} drawn); they join the "
        "rectangles typed below."
    )
    return rectangles
