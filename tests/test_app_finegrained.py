"""AppTest of Explore's finer-grained section (time, objects, people) on the sample image 004."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_app_explore import explore

from saliency_core.scoring import temporal
from ui.finegrained import parse_rectangles


def chart(at, title: str) -> dict:
    """The plotly figure (as a dict, arrays decoded) whose title starts with ``title``."""
    for element in at.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        if (figure["layout"].get("title", {}).get("text") or "").startswith(title):
            return figure
    raise AssertionError(f"no chart titled {title!r}")


def array(data) -> np.ndarray:
    """A plotly JSON array: a list, or {"dtype", "bdata"} (base64)."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).astype(float)
    return np.array([np.nan if v is None else v for v in data], dtype=float)


def frame(at, first_column: str, value: str):
    """The last table whose ``first_column`` holds ``value``."""
    tables = [d.value for d in at.dataframe if first_column in d.value.columns]
    return next(t for t in reversed(tables) if (t[first_column] == value).any())


@pytest.fixture(scope="module")
def opened():
    at = explore()
    at.run()
    at.sidebar.multiselect(key="explore_detectors").set_value(["FCOS R50-FPN"])
    at.sidebar.selectbox(key="explore_size").set_value("320 px")
    at.sidebar.multiselect(key="explore_type2").set_value(["Spectral residual"])
    at.run()
    assert not at.exception, at.exception
    assert at.expander[-1].label == "Finer-grained agreement: time, objects, people"
    at.toggle(key="explore_fg_on").set_value(True).run()
    assert not at.exception, at.exception
    return at


def test_the_time_curve_marks_each_maps_peak(opened):
    figure = chart(opened, "NSS as viewing unfolds")
    lines = [t for t in figure["data"] if t["mode"] == "lines+markers"]
    stars = [t for t in figure["data"] if t.get("marker", {}).get("symbol") == "star"]
    assert len(lines) == 2 and len(stars) == 2  # the CAM and the spectral residual map
    assert figure["layout"]["xaxis"]["title"]["text"].startswith("onset (s")
    for line, star in zip(lines, stars, strict=True):
        values = array(line["y"])
        assert star["y"][0] == pytest.approx(np.nanmax(values))


def test_the_ceiling_row_has_a_finite_nss_above_the_floor(opened):
    table = frame(opened, "map", "people (leave-one-subject-out)").set_index("map")
    people = table.loc["people (leave-one-subject-out)"]
    floor = table.loc[[m for m in table.index if m.startswith("centre bias")][0]]
    assert np.isfinite(people["NSS"]) and people["NSS"] > floor["NSS"]
    assert len(table) == 4  # ceiling, two maps, floor
    captions = " ".join(c.value for c in opened.caption)
    assert "leave-one-subject-out" in captions


def test_typed_rectangles_give_shares_and_a_ratio_chart(opened):
    at = opened
    at.selectbox(key="explore_fg_source").set_value("rectangles drawn or typed").run()
    at.text_area(key="explore_fg_rects").input("0,0,160,320\n160,0,320,320").run()
    assert not at.exception, at.exception
    shares = frame(at, "region", "rectangle 1")
    assert shares["region"].tolist() == ["rectangle 1", "rectangle 2"]
    # two halves of the image: the shares of the map and of the fixations each sum to 1
    assert shares["map_share"].sum() == pytest.approx(1.0)
    assert shares["fixation_share"].sum() == pytest.approx(1.0)
    assert chart(at, "FCOS R50-FPN")["data"][0]["orientation"] == "h"
    at.text_area(key="explore_fg_rects").input("0,0,oops").run()
    assert 'line 1 ("0,0,oops") is not four numbers' in " ".join(w.value for w in at.warning)


def test_rectangle_lines_are_parsed_or_named():
    assert parse_rectangles("1,2,3,4\n\n 5, 6, 7, 8 ") == [(1, 2, 3, 4), (5, 6, 7, 8)]
    with pytest.raises(ValueError, match="line 2"):
        parse_rectangles("1,2,3,4\n1,2,3")


def test_drawn_rectangles_join_the_typed_ones(opened):
    at = opened
    at.selectbox(key="explore_fg_source").set_value("rectangles drawn or typed").run()
    at.session_state["explore_fg_drawn"] = [(0.0, 0.0, 160.0, 320.0)]
    at.text_area(key="explore_fg_rects").input("160,0,320,320").run()
    assert not at.exception, at.exception
    shares = frame(at, "region", "drawn 1")
    assert shares["region"].tolist() == ["drawn 1", "rectangle 1"]
    assert shares["map_share"].sum() == pytest.approx(1.0)
    assert "1 drawn" in " ".join(c.value for c in at.caption)
    at.button(key="explore_fg_drawn_clear").click().run()
    assert at.session_state["explore_fg_drawn"] == []
    assert frame(at, "region", "rectangle 1")["region"].tolist() == ["rectangle 1"]


def time_view_app(onsets: list, key: str) -> None:
    """The time tab alone (run as an AppTest script): an 8×8 map and 4 fixations of 2
    subjects whose onsets are ``onsets``."""
    import numpy as np
    import pandas as pd

    from saliency_core.data.images import Sample
    from saliency_core.pipeline import Bundle, MapEntry
    from saliency_core.settings import Settings
    from ui import finegrained

    points = np.array([[2.0, 2.0], [5.0, 5.0], [2.0, 3.0], [6.0, 5.0]])
    columns = pd.DataFrame({"subject": [0, 0, 1, 1], "onset_s": onsets})
    sample = Sample(
        "s", np.zeros((8, 8, 3), np.uint8), "test", fixations=points, fixation_columns=columns
    )
    values = np.zeros((8, 8), np.float32)
    values[2, 2] = 1.0
    bundle = Bundle(sample, Settings())
    bundle.maps["m"] = MapEntry("m", values, "type-1", True)
    finegrained.time_view(bundle, key)


ORDINAL = "ordinal (k-th fixation per subject)"


def test_fixations_without_onsets_get_a_readable_message_and_the_ordinal_split():
    # an onset column empty in every row (as pandas reads it: NaN)
    at = AppTest.from_function(time_view_app, args=([np.nan] * 4, "no-onsets")).run()
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == [
        f"Agreement over time is not available: {temporal.NO_ONSETS}."
    ]
    assert "np.float64" not in temporal.NO_ONSETS
    at.radio(key="explore_fg_split").set_value(ORDINAL).run()
    assert not at.exception, at.exception
    assert not at.info
    # fixation 1 of both subjects at (2, 2) and (5, 5), fixation 2 at (2, 3) and (6, 5)
    [line] = [
        t for t in chart(at, "NSS as viewing unfolds")["data"] if t["mode"] == "lines+markers"
    ]
    assert len(array(line["y"])) == 2
    assert at.dataframe[0].value["window"].tolist() == ["fixation 1"]


def test_fixations_with_some_onsets_are_split_and_the_rest_counted():
    at = AppTest.from_function(time_view_app, args=([0.1, None, 0.7, "soon"], "some")).run()
    assert not at.exception, at.exception
    assert not at.info
    assert (
        "2 of 4 fixations carry no onset time (onset_s empty or not a number of seconds >= 0): "
        "they are left out of the onset windows." in [c.value for c in at.caption]
    )
    # onsets 0.1 and 0.7 s: two windows, one fixation each; NSS peaks in the first
    [line] = [
        t for t in chart(at, "NSS as viewing unfolds")["data"] if t["mode"] == "lines+markers"
    ]
    assert len(array(line["y"])) == 2
    assert at.dataframe[0].value["window"].tolist() == ["0–0.5 s"]


def shown(at, column: str):
    """The last table with ``column``, as drawn: each number in its column's printf format
    (the grid's NumberColumn format), text as it is."""
    element = [d for d in at.dataframe if column in d.value.columns][-1]
    config = json.loads(element.proto.columns)
    formats = {name: c["type_config"]["format"] for name, c in config.items() if "type_config" in c}
    frame = element.value.copy()
    for name in frame.columns:
        if pd.api.types.is_float_dtype(frame[name]):
            assert name in formats, f"{name}: drawn without a number format"
            frame[name] = [formats[name] % value for value in frame[name]]
    return frame


def test_the_people_and_peaks_tables_read_as_numbers_or_na_never_none(opened):
    people = shown(opened, "AUC-Judd")
    metrics = people.drop(columns="map").to_numpy().ravel()
    assert all(re.fullmatch(r"-?\d+\.\d{3}|n/a", str(value)) for value in metrics), metrics
    peaks = shown(opened, "window")
    assert "None" not in peaks.astype(str).to_numpy()
    assert all(re.fullmatch(r"-?\d+\.\d{3}|n/a", str(v)) for v in peaks["value"]), peaks
