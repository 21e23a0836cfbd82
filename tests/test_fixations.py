"""Fixations: reading the NUS sample and malformed files, pixel coordinates, densities, masks."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saliency_core.data.fixations import (
    default_sigma,
    density_map,
    display,
    fixation_map,
    read_fixation_file,
    read_fixation_table,
    read_fixations,
    rescale_points,
    to_pixel_coords,
)

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample"


def manifest() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "manifest.csv", dtype={"id": str})


# --- reading --------------------------------------------------------------------------------------


def test_read_sample_004_matches_the_manifest():
    row = manifest().set_index("id").loc["004"]
    points = read_fixations(SAMPLE / "fixations" / "004.csv")
    assert points.shape == (row.n_fixations, 2) == (79, 2)
    assert points.dtype == np.float64
    np.testing.assert_allclose(points[0], [114.96, 92.14])  # first data row of the file
    assert (points >= 0).all()
    assert (points[:, 0] < row.width).all() and (points[:, 1] < row.height).all()


def test_every_sample_file_has_the_manifest_row_count():
    for row in manifest().itertuples():
        assert len(read_fixations(str(SAMPLE / row.fixations))) == row.n_fixations, row.id


def test_fixation_table_keeps_subjects_and_timing():
    table = read_fixation_table(SAMPLE / "fixations" / "004.csv")
    assert list(table.columns) == ["x", "y", "subject", "onset_s", "duration_s"]
    assert table["subject"].nunique() == 12
    assert table["duration_s"].iloc[0] == pytest.approx(0.112)


def test_extra_columns_spaces_and_file_objects_are_tolerated():
    upload = io.BytesIO(b" x , y ,label\n1.5,2,a\n3,4.25,b\n")
    upload.name = "upload.csv"
    np.testing.assert_allclose(read_fixations(upload), [[1.5, 2.0], [3.0, 4.25]])


def test_header_only_file_gives_no_fixations():
    points = read_fixations(io.StringIO("x,y,subject\n"))
    assert points.shape == (0, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("col,row\n1,2\n", r"missing column\(s\) x, y.*found: col, row"),
        ("x,z\n1,2\n", r"missing column\(s\) y"),
        ("x,y\nfoo,2\n3,\n", r"no data row has a usable x,y; x must be numeric, got 'foo' in data"),
        ("x,y\n1,inf\n", "no data row has a usable x,y; y must be finite, got inf in data row 1"),
        ("x,y\n,4\n", "no data row has a usable x,y; x is missing in data row 1"),
        ('x,y\n1,2\n"3,4\n', "not a readable CSV"),
    ],
)
def test_malformed_files_raise_clear_errors(content, message):
    upload = io.StringIO(content)
    upload.name = "bad.csv"
    with pytest.raises(ValueError, match=message) as error:
        read_fixations(upload)
    assert str(error.value).startswith("bad.csv: ")


def test_rows_without_a_usable_x_y_are_dropped_and_counted_the_rest_kept():
    upload = io.StringIO("x,y,subject\n1,2,a\n,4,a\n3,foo,b\nNaN,5,b\n6,7,b\n8,-inf,a\n")
    upload.name = "f.csv"
    read = read_fixation_file(upload)
    np.testing.assert_array_equal(read.table[["x", "y"]], [[1.0, 2.0], [6.0, 7.0]])
    assert read.table["subject"].tolist() == ["a", "b"]
    assert read.notices == (
        "Fixations file f.csv: 4 rows dropped (no usable x/y: data rows 2, 3, 4, 6)",
    )


def test_a_blank_onset_column_means_no_onsets_and_partial_or_text_onsets_are_named():
    blank = read_fixation_file(io.StringIO("x,y,onset_s\n1,2,\n3,4,\n"))
    assert list(blank.table.columns) == ["x", "y"] and blank.notices == ()
    upload = io.StringIO("x,y,onset_s\n1,2,0.1\n3,4,\n,5,0.2\n6,7,soon\n8,9,-1\n10,11,0.4\n")
    upload.name = "f.csv"
    read = read_fixation_file(upload)
    np.testing.assert_array_equal(read.table["onset_s"], [0.1, np.nan, np.nan, np.nan, 0.4])
    assert read.notices == (
        "Fixations file f.csv: 1 row dropped (no usable x/y: data row 3)",
        "Fixations file f.csv: onset_s is empty in 1 of 5 rows (data row 2): those fixations "
        "are left out of the time analysis only",
        "Fixations file f.csv: onset_s must be a number of seconds >= 0, not in data rows "
        "4 ('soon'), 5 ('-1'): those fixations are left out of the time analysis only",
    )


def test_a_notice_names_at_most_ten_rows():
    text = "x,y\n1,1\n" + ",\n" * 12
    upload = io.StringIO(text)
    upload.name = "f.csv"
    assert read_fixation_file(upload).notices == (
        "Fixations file f.csv: 12 rows dropped (no usable x/y: data rows "
        "2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more)",
    )


# --- pixel coordinates ----------------------------------------------------------------------------


def test_to_pixel_coords_rounds_half_up_and_drops_outside():
    points = np.array(
        [
            [0.4, 0.6],  # -> (0, 1)
            [2.5, 1.5],  # half up -> (3, 2)
            [-0.4, 0.0],  # -> (0, 0): still on pixel 0
            [-0.6, 0.0],  # -> column -1: dropped
            [4.49, 2.0],  # -> (4, 2): the last column of a width-5 image
            [4.5, 2.0],  # -> column 5: dropped
            [1.0, 3.0],  # row 3 of a height-3 image: dropped
            [np.nan, 1.0],  # dropped
        ]
    )
    pixels = to_pixel_coords(points, (3, 5))
    assert pixels.dtype == np.int64
    assert pixels.tolist() == [[0, 1], [3, 2], [0, 0], [4, 2]]


def test_to_pixel_coords_shapes():
    assert to_pixel_coords(np.empty((0, 2)), (4, 4)).shape == (0, 2)
    assert to_pixel_coords([], (4, 4)).shape == (0, 2)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        to_pixel_coords(np.zeros((3, 3)), (4, 4))


def test_fixation_map_marks_rows_y_and_columns_x():
    fixated = fixation_map(np.array([[3, 1], [3, 1], [0, 2], [9, 9]]), (3, 4))
    assert fixated.dtype == bool
    assert np.argwhere(fixated).tolist() == [[1, 3], [2, 0]]  # (row, column) = (y, x)


def test_rescale_points_keeps_image_edges():
    # 256 -> 512: x' = (x + .5) * 2 - .5; the edges -.5 and 255.5 map to -.5 and 511.5
    points = np.array([[-0.5, 255.5], [0.0, 127.5]])
    expected = [[-0.5, 511.5], [0.5, 255.5]]
    np.testing.assert_allclose(rescale_points(points, (256, 256), (512, 512)), expected)
    # width and height scale independently (aspect ratio not kept): x * 2, y * 1
    np.testing.assert_allclose(rescale_points([[9.5, 4.5]], (10, 10), (10, 20)), [[19.5, 4.5]])


# --- densities ----------------------------------------------------------------------------------


def test_default_sigma_is_one_degree_of_thirty():
    assert default_sigma((512, 512)) == pytest.approx(512 / 30)  # 17.07 px
    assert default_sigma((768, 1024)) == pytest.approx(1024 / 30)  # 34.13 px, longer side


def test_density_of_a_lone_fixation():
    density = density_map(np.array([[20.0, 30.0]]), (64, 64), sigma=4.0)
    assert density.dtype == np.float32 and density.shape == (64, 64)
    assert density.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.unravel_index(density.argmax(), density.shape) == (30, 20)  # (row y, column x)
    # away from the border the peak of a unit-mass 2-D Gaussian is 1 / (2 π σ²) = 0.009947
    assert density.max() == pytest.approx(1 / (2 * math.pi * 16), rel=0.01)
    # symmetric: one sigma to the left, right, up and down are equal, at exp(-1/2) of the peak
    ring = [density[30, 16], density[30, 24], density[26, 20], density[34, 20]]
    np.testing.assert_allclose(ring, density.max() * math.exp(-0.5), rtol=1e-3)


def test_sigma_spreads_the_density():
    point = np.array([[32.0, 32.0]])
    narrow, wide = density_map(point, (64, 64), 2.0), density_map(point, (64, 64), 6.0)
    assert narrow.max() / wide.max() == pytest.approx(9.0, rel=0.02)  # peak ∝ 1 / σ²
    # mass within r = 4 px of the fixation, 1 - exp(-r² / 2σ²): 1 - e^-2 = .865 at σ = 2,
    # 1 - e^(-2/9) = .199 at σ = 6 (a disc of whole pixels: a few % off)
    y, x = np.mgrid[0:64, 0:64]
    near = (x - 32) ** 2 + (y - 32) ** 2 <= 16
    assert narrow[near].sum() == pytest.approx(1 - math.exp(-2), abs=0.03)
    assert wide[near].sum() == pytest.approx(1 - math.exp(-2 / 9), abs=0.03)


def test_density_without_blur_counts_fixations():
    # σ = 0: counts / total; the repeated point weighs 2/3, the outside point is dropped
    density = density_map(np.array([[1, 1], [1, 1], [3, 0], [7, 7]]), (2, 4), sigma=0)
    np.testing.assert_allclose(density, [[0, 0, 0, 1 / 3], [0, 2 / 3, 0, 0]], rtol=1e-6)


def test_density_at_the_border_keeps_unit_mass():
    density = density_map(np.array([[0.0, 0.0]]), (32, 48), sigma=5.0)
    assert density.sum() == pytest.approx(1.0, abs=1e-5)
    assert density.argmax() == 0


def test_density_of_no_fixations_is_all_zero():
    assert not density_map(np.empty((0, 2)), (8, 8), 2.0).any()
    assert not density_map(np.array([[-5.0, 3.0]]), (8, 8), 2.0).any()
    with pytest.raises(ValueError, match="sigma"):
        density_map(np.array([[1.0, 1.0]]), (8, 8), -1.0)


def test_sample_density_sums_to_one():
    row = manifest().set_index("id").loc["004"]
    shape = (row.height, row.width)
    density = density_map(read_fixations(SAMPLE / "fixations" / "004.csv"), shape, 8.0)
    assert density.shape == (256, 256)
    assert density.sum() == pytest.approx(1.0, abs=1e-5)


def test_display_scales_to_unit_peak():
    density = density_map(np.array([[3.0, 3.0], [10.0, 4.0]]), (16, 16), 1.5)
    shown = display(density)
    assert shown.dtype == np.float32 and shown.max() == 1.0 and shown.min() >= 0.0
    np.testing.assert_allclose(shown, density / density.max(), rtol=1e-6)
    assert not display(np.zeros((4, 4))).any()
