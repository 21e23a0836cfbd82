"""Bad inputs and faults of issue 9, each replayed: a clear message or a sane result, no NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency_core import datasets
from saliency_core.datasets import Dataset
from saliency_core.gaze import predict_type2


def _one_axis_images() -> dict[str, np.ndarray]:
    gradient = np.tile(np.linspace(0, 255, 200).astype(np.uint8)[None, :, None], (150, 1, 3))
    halves = np.zeros((150, 200, 3), np.uint8)
    halves[:, 100:] = 255
    stripes = np.zeros((150, 200, 3), np.uint8)
    stripes[75:] = 255
    return {"horizontal gradient": gradient, "half black/white": halves, "top/bottom": stripes}


@pytest.mark.parametrize("name", list(_one_axis_images()))
def test_spectral_residual_is_finite_for_images_varying_along_one_axis(name):
    rgb = _one_axis_images()[name]
    type2 = predict_type2("Spectral residual", rgb)
    assert np.isfinite(type2.log_density).all()
    assert np.exp(type2.log_density.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)
    assert type2.display.min() == 0.0 and type2.display.max() == 1.0


def test_spectral_residual_of_half_black_white_peaks_at_the_edge():
    type2 = predict_type2("Spectral residual", _one_axis_images()["half black/white"])
    row = type2.display[75]
    # The edge at x = 100 (and, the FFT being periodic, the image border) is salient;
    # the flat middle of each half is not.
    assert row[99] > 0.9 and row[0] > 0.9
    assert row[50] < 0.05 and row[150] < 0.05
    np.testing.assert_allclose(type2.display[:, 99], row[99], atol=1e-4)  # constant along y


# --- 2. one bad fixation file only excludes itself -------------------------------------------

BAD_FIXATION_FILES = {
    "empty.csv": ("", "the file is empty"),
    "nocols.csv": ("a,b\n1,2\n", "missing column(s) x, y"),
    "text.csv": ("x,y\n1,oops\n", "y must be numeric, got 'oops' in data row 1"),
}


def _write_rgb(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 60, 30)).save(path)


def _dataset_with_bad_fixations(root: Path) -> Dataset:
    for stem in ("good", "good2", *(name[:-4] for name in BAD_FIXATION_FILES)):
        _write_rgb(root / "images" / f"{stem}.png")
    (root / "fixations").mkdir()
    (root / "fixations" / "good.csv").write_text("x,y\n10,15\n")
    (root / "fixations" / "good2.csv").write_text("x,y\n20,0\n")
    for name, (text, _) in BAD_FIXATION_FILES.items():
        (root / "fixations" / name).write_text(text)
    return Dataset("bad", root)


def test_a_bad_fixation_file_only_excludes_itself_from_other_fixations(tmp_path):
    dataset = _dataset_with_bad_fixations(tmp_path / "bad")
    others, notices = dataset.other_fixations_with_notices("good")
    np.testing.assert_allclose(others, [[20.5 / 40, 0.5 / 30]])  # good2 only; pixel centres
    assert len(notices) == len(BAD_FIXATION_FILES)
    for notice, (name, (_, problem)) in zip(
        notices, sorted(BAD_FIXATION_FILES.items()), strict=True
    ):
        assert notice.startswith(datasets.OTHER_FIXATIONS_SKIPPED)
        assert name in notice and problem in notice
    sample = dataset.load("good")
    np.testing.assert_allclose(sample.fixations, [[10, 15]])
    np.testing.assert_allclose(sample.other_fixations, others)
    assert sum(n.startswith(datasets.OTHER_FIXATIONS_SKIPPED) for n in sample.notices) == 3


@pytest.mark.parametrize("name", sorted(BAD_FIXATION_FILES))
def test_an_image_with_a_bad_fixation_file_loads_without_fixations(tmp_path, name):
    dataset = _dataset_with_bad_fixations(tmp_path / "bad")
    sample = dataset.load(name[:-4])
    assert sample.image.shape == (30, 40, 3)
    assert sample.fixations is None and sample.other_fixations is None
    [notice] = [n for n in sample.notices if n.startswith(datasets.FIXATIONS_NOT_LOADED)]
    assert name in notice and BAD_FIXATION_FILES[name][1] in notice
