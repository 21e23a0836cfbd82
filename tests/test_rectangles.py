"""Drawn rectangles: the widget's value rescaled to image pixels, kept without repeats."""

from __future__ import annotations

import numpy as np

from ui.rectangles import DRAWN_COLOUR, add_rectangle, outlined, to_image_rectangle


def test_a_drag_on_the_displayed_image_is_rescaled_to_image_pixels():
    # a 400×800 image shown 640×320: factor 1.25; dragged from (100, 40) up-left to (20, 8)
    value = {"x1": 100, "y1": 40, "x2": 20, "y2": 8, "width": 640, "height": 320}
    assert to_image_rectangle(value, (400, 800), 640) == (25.0, 10.0, 125.0, 50.0)
    # without the displayed size: the width passed and the image's aspect ratio
    bare = {"x1": 0, "y1": 0, "x2": 64, "y2": 32}
    assert to_image_rectangle(bare, (400, 800), 640) == (0.0, 0.0, 80.0, 40.0)


def test_a_release_outside_the_image_is_clipped_and_a_click_is_no_rectangle():
    value = {"x1": 300, "y1": 150, "x2": 700, "y2": -20, "width": 640, "height": 320}
    assert to_image_rectangle(value, (400, 800), 640) == (375.0, 0.0, 800.0, 187.5)
    click = {"x1": 10, "y1": 10, "x2": 10, "y2": 30, "width": 640, "height": 320}
    assert to_image_rectangle(click, (400, 800), 640) is None
    outside = {"x1": 650, "y1": 10, "x2": 700, "y2": 30, "width": 640, "height": 320}
    assert to_image_rectangle(outside, (400, 800), 640) is None
    assert to_image_rectangle(None, (400, 800), 640) is None
    assert to_image_rectangle({"x": 3, "y": 4}, (400, 800), 640) is None


def test_rectangles_are_added_once():
    first, second = (0.0, 0.0, 5.0, 5.0), (1.0, 1.0, 2.0, 3.0)
    kept = add_rectangle([], first)
    assert kept == [first]
    assert add_rectangle(kept, first) == [first]
    assert add_rectangle(kept, None) == [first]
    assert add_rectangle(kept, second) == [first, second]
    assert kept == [first]  # the input list is left alone


def test_outlines_are_drawn_on_a_copy():
    rgb = np.zeros((20, 30, 3), np.uint8)
    picture = outlined(rgb, [(2.0, 3.0, 12.0, 9.0)])
    assert rgb.max() == 0
    assert picture[3, 2].tolist() == list(DRAWN_COLOUR)  # top-left corner
    assert picture[8, 11].tolist() == list(DRAWN_COLOUR)  # bottom-right pixel (x2-1, y2-1)
    assert picture[5, 6].tolist() == [0, 0, 0]  # inside stays
    assert picture[9, 12].tolist() == [0, 0, 0]  # just outside
