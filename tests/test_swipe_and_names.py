"""The Augment page's before/after swipe and portable download file names."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core.data.filenames import safe_filename
from saliency_core.viz import DIVIDER, swipe


def test_swipe_shows_before_left_of_the_split_and_after_right():
    before = np.zeros((4, 10, 3), np.uint8)
    after = np.full((4, 10, 3), 200, np.uint8)
    picture = swipe(before, after, 0.5, line=1)
    assert (picture[:, :4] == 0).all()  # before, up to the divider
    assert (picture[:, 4] == DIVIDER).all()  # the 1-px divider left of column 5
    assert (picture[:, 5:] == 200).all()  # after
    assert (swipe(before, after, 0.0) == after).all()
    assert (swipe(before, after, 1.0) == before).all()
    assert (swipe(before, after, 7.0) == before).all(), "fraction clipped to [0, 1]"
    with pytest.raises(ValueError, match="differ in shape"):
        swipe(before, after[:, :5], 0.5)


def test_safe_filename_has_no_commas_spaces_or_separators():
    assert safe_filename("Faster R-CNN R50-FPN, EigenCAM") == "Faster_R-CNN_R50-FPN_EigenCAM"
    assert safe_filename("scène 1 · top 2.5%_erased.png") == "scene_1_top_2.5_erased.png"
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename(" ,, ") == "file"
    assert safe_filename("×", fallback="image") == "image"
