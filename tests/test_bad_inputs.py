"""Bad inputs and faults of issue 9, each replayed: a clear message or a sane result, no NaN."""

from __future__ import annotations

import io
import tracemalloc
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency_core.data import datasets, images, roots
from saliency_core.data.datasets import Dataset
from saliency_core.data.images import ImageLoadError, load_image
from saliency_core.models import cache as model_cache
from saliency_core.models.classifiers import load_classifier
from saliency_core.models.detectors import load_detector
from saliency_core.models.gaze import predict_type2
from saliency_core.models.gaze.deepgaze import build_deepgaze
from saliency_core.models.weights import MissingWeightsError, load_state_dict_file, weights_file
from saliency_core.scoring import agreement, metrics
from saliency_core.study import TIE_POLICIES, TIES_INCLUDE, TIES_NO_OVERSHOOT


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


# --- 3. very wide or tall images --------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@pytest.mark.parametrize("size", [(10000, 8), (8, 10000), (2100, 100)])
def test_very_elongated_images_are_refused_with_the_limits(size):
    with pytest.raises(ImageLoadError) as error:
        load_image(_png(Image.new("RGB", size, (90, 90, 90))))
    message = str(error.value)
    assert f"{size[0]}×{size[1]} px" in message and "too elongated" in message
    assert f"at most {images.MAX_ASPECT:.0f}:1" in message
    assert f"at least {images.MIN_SIDE} px" in message
    if max(size) > images.MAX_SIDE:
        assert "after downscaling to a 4096 px long side" in message


def test_the_aspect_limit_itself_loads_and_keeps_a_usable_short_side():
    loaded = load_image(_png(Image.new("RGB", (8192, 410), (90, 90, 90))))
    assert loaded.rgb.shape == (205, 4096, 3)  # exactly 20:1 after downscaling
    assert load_image(_png(Image.new("RGB", (160, 8)))).rgb.shape == (8, 160, 3)


# --- 4. float TIFF with non-finite pixels ------------------------------------------------------


def test_non_finite_float_pixels_are_replaced_with_the_finite_minimum():
    values = np.tile(np.linspace(10.0, 20.0, 32, dtype=np.float32), (16, 1))
    values[3, 4], values[5, 6], values[7, 8] = np.nan, np.inf, -np.inf
    buffer = io.BytesIO()
    Image.fromarray(values, "F").save(buffer, format="TIFF")
    loaded = load_image(buffer.getvalue())
    gray = loaded.rgb[..., 0]
    assert gray[0, 0] == 0 and gray[0, -1] == 255  # min-max scaled over the finite values
    assert gray[3, 4] == gray[5, 6] == gray[7, 8] == 0
    expected = np.rint((values[0] - 10.0) / 10.0 * 255).astype(np.uint8)
    np.testing.assert_array_equal(gray[0], expected)
    assert "Replaced 3 non-finite pixel value(s) (NaN or ±inf) with the finite minimum 10." in (
        loaded.notices
    )
    assert "Converted F (high bit depth) to 8-bit RGB." in loaded.notices


def test_an_all_nan_float_image_loads_black_and_says_so():
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16), np.nan, np.float32), "F").save(buffer, format="TIFF")
    loaded = load_image(buffer.getvalue())
    assert loaded.rgb.max() == 0
    assert loaded.notices[0].startswith("Replaced 256 non-finite pixel value(s)")


# --- 8. memory of a 16-bit decode ---------------------------------------------------------------


def test_sixteen_bit_png_converts_without_a_full_size_float_copy():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 65536, (3000, 4000), dtype=np.uint16)
    data = _png(Image.fromarray(values))
    expected = ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)  # rint(v / 257)
    del values
    tracemalloc.start()
    try:
        loaded = load_image(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(loaded.rgb[..., 1], expected)
    pixels = 3000 * 4000
    # The RGB output (3 B/px) and the 8-bit grey it is built from (1 B/px) plus one band of
    # CHUNK_PIXELS in float64; the old float64 conversion peaked at 32 B/px.
    band = images.CHUNK_PIXELS * 8 * 3
    assert peak < 4 * pixels + band, f"{peak / pixels:.2f} bytes/pixel"


def test_the_decode_budget_refuses_before_decoding(monkeypatch):
    monkeypatch.setattr(images, "MAX_DECODE_BYTES", 1_000_000)
    sixteen = _png(Image.fromarray(np.zeros((600, 1000), np.uint16)))  # 1.2 MB decoded
    with pytest.raises(ImageLoadError, match=r"\(1000×600 px, mode I;16\) would need 1 MB"):
        load_image(sixteen)
    with pytest.raises(ImageLoadError, match="the limit is 1 MB per image"):
        load_image(_png(Image.new("RGB", (600, 600))))  # 4 bytes/pixel decoded
    assert load_image(_png(Image.new("L", (1000, 600)))).rgb.shape == (600, 1000, 3)


# --- 9. dataset folders that link out of SALIENCY_DATA_DIR --------------------------------------


def test_a_dataset_folder_linking_outside_the_data_dir_is_skipped(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    _write_rgb(outside / "images" / "secret.png")
    data_dir = tmp_path / "data"
    _write_rgb(data_dir / "inside" / "images" / "a.png")
    (data_dir / "escape").symlink_to(outside, target_is_directory=True)
    (data_dir / "alias").symlink_to(data_dir / "inside", target_is_directory=True)  # stays inside
    monkeypatch.setenv(datasets.DATA_DIR_VARIABLE, str(data_dir))
    scan = datasets.scan_user_datasets()
    assert [d.name for d in scan.datasets] == ["alias", "inside"]
    [notice] = scan.notices
    assert notice.startswith("Skipped dataset folder escape: it links to")
    assert str(outside) in notice and datasets.DATA_DIR_VARIABLE in notice
    assert "escape" not in datasets.all_datasets()


# --- 10. SALIENCY_MAX_MODELS ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "abc", "2.5"])
def test_an_invalid_max_models_setting_falls_back_to_the_default(value, monkeypatch, caplog):
    monkeypatch.setenv(model_cache.MAX_MODELS_VARIABLE, value)
    cache = model_cache.ModelCache()
    assert cache.capacity == model_cache.DEFAULT_MAX_MODELS == 8
    expected = f"SALIENCY_MAX_MODELS={value!r} is not a whole number ≥ 1; keeping the default"
    assert cache.notice.startswith(expected) and expected in caplog.text
    assert cache.get("a", lambda: "A").value == "A"  # the cache works (was KeyError for -1)


def test_a_valid_max_models_setting_is_used(monkeypatch):
    monkeypatch.setenv(model_cache.MAX_MODELS_VARIABLE, " 3 ")
    cache = model_cache.ModelCache()
    assert cache.capacity == 3 and cache.notice is None
    with pytest.raises(ValueError, match="at least 1 model, got capacity=0"):
        model_cache.ModelCache(capacity=0)


# --- 11. unsupported formats, by content and through the upload widget --------------------------

GIF_REFUSAL = "This file is not an image format we can read (GIF; accepted: JPEG, PNG, WebP, BMP"


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, format="GIF")
    return buffer.getvalue()


def test_a_gif_is_refused_by_content_with_the_accepted_formats():
    with pytest.raises(ImageLoadError) as error:
        load_image(_gif())
    assert str(error.value).startswith(GIF_REFUSAL)


@pytest.mark.parametrize("name", ["anim.gif", "photo.png", "noextension"])
def test_a_gif_upload_gets_a_message_not_an_exception_box(name):
    from streamlit.testing.v1 import AppTest

    app = Path(__file__).resolve().parent.parent / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120).run()
    at = at.switch_page("app_pages/1_Explore.py").run()
    at.sidebar.radio(key="explore_source").set_value("Upload").run()
    at.sidebar.file_uploader(key="explore_upload").upload(name, _gif(), "image/gif")
    at.run()
    assert not at.exception, at.exception
    assert f"Reading {name}: {GIF_REFUSAL}" in " ".join(e.value for e in at.error)


# --- a weights file that is not a state dict ----------------------------------------------------


class NotATensor:
    """A class a hostile or mistaken checkpoint could pickle."""


@pytest.fixture
def pickled_object(tmp_path) -> Path:
    path = tmp_path / "model.pth"
    torch.save({"layer.weight": NotATensor()}, path)
    return path


def _assert_refused_safely(message: str, name: str) -> None:
    assert message.startswith(f"{name} is not a state dict this model accepts (")
    assert "NotATensor" in message and "weights_only" not in message
    assert "arbitrary code" not in message


def test_a_pickled_object_is_refused_without_the_weights_only_advice(pickled_object):
    with pytest.raises(MissingWeightsError) as error:
        load_state_dict_file(pickled_object)
    _assert_refused_safely(str(error.value), "model.pth")
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_detectors_and_deepgaze_pass_the_refusal_on(pickled_object):
    from saliency_core.models.detectors import load_detector

    with pytest.raises(MissingWeightsError) as error:
        load_detector("FCOS R50-FPN", "file", weights_path=pickled_object, input_size=128)
    _assert_refused_safely(str(error.value), "model.pth")
    rgb = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as error:
        predict_type2("DeepGaze IIE", rgb, "file", weights_path=str(pickled_object))
    _assert_refused_safely(str(error.value), "model.pth")


def test_confined_reads_refuse_a_weights_file_outside_the_folders(tmp_path, monkeypatch):
    allowed, outside = tmp_path / "results", tmp_path / "elsewhere.pt"
    allowed.mkdir()
    inside = allowed / "model.pt"
    for path in (inside, outside):
        torch.save({"w": torch.zeros(1)}, path)
    assert weights_file(outside) == outside, "the library (and the commands) read anywhere"
    roots.confine_reads([allowed], "the results and dataset folders")
    assert weights_file(inside) == inside
    refused = rf"^{outside} is outside the results and dataset folders: refused .*ANY_PATH=1 "
    for path in (outside, allowed / "link.pt"):  # a link inside pointing out is refused too
        if path != outside:
            path.symlink_to(outside)
        with pytest.raises(MissingWeightsError, match=refused.replace(str(outside), str(path))):
            weights_file(path)
        with pytest.raises(MissingWeightsError, match="is outside the results and dataset"):
            load_detector("FCOS R50-FPN", "file", weights_path=path, input_size=128)
    monkeypatch.setenv("SALIENCY_ALLOW_ANY_PATH", "1")
    assert weights_file(outside) == outside, "the single-user opt-in"


def test_a_dict_of_plain_values_is_refused_with_its_keys(tmp_path):
    path = tmp_path / "numbers.pth"
    torch.save({"a": torch.zeros(1), "b": 1, "c": "x"}, path)
    with pytest.raises(
        MissingWeightsError, match=r"accepts \(entries that are not tensors: b, c\)"
    ):
        load_state_dict_file(path)


# --- one "missing weights" path for detectors, classifiers and DeepGaze IIE ---------------------

HUB = "https://download.pytorch.org/models"
OFFICIAL_WEIGHTS = {  # kind: (what, file, url, build with a weight source)
    "detector": (
        "Pretrained COCO weights for FCOS R50-FPN",
        "fcos_resnet50_fpn_coco-99b0c9b7.pth",
        f"{HUB}/fcos_resnet50_fpn_coco-99b0c9b7.pth",
        lambda source: load_detector("FCOS R50-FPN", source, input_size=64),
    ),
    "classifier": (
        "Pretrained ImageNet weights for ResNet-50",
        "resnet50-11ad3fa6.pth",
        f"{HUB}/resnet50-11ad3fa6.pth",
        lambda source: load_classifier("ResNet-50", source, input_size=224),
    ),
    "DeepGaze IIE": (
        "Pretrained DeepGaze IIE weights",
        "deepgaze2e.pth",
        "https://github.com/matthias-k/DeepGaze/releases/download/v1.0.0/deepgaze2e.pth",
        lambda source: build_deepgaze(source),
    ),
}


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("offline")


@pytest.mark.parametrize("kind", list(OFFICIAL_WEIGHTS))
def test_missing_weights_read_the_same_for_every_kind_of_model(kind, tmp_path, monkeypatch):
    what, name, url, build = OFFICIAL_WEIGHTS[kind]
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    folder = tmp_path / "hub" / "checkpoints"
    with pytest.raises(MissingWeightsError) as error:
        build("pretrained")
    assert str(error.value) == (
        f"{what} are not available offline (URLError). Put the file `{name}` (from {url}) "
        f"into `{folder}`, or choose the 'file' or 'untrained' weight source."
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"cut short")  # an interrupted copy, by hand
    with pytest.raises(MissingWeightsError) as error:
        build("pretrained")
    assert str(error.value).startswith(f"{name} is not a state dict this model accepts (")
    assert str(error.value).endswith(f"; delete {folder / name} to download it again.")
    with pytest.raises(MissingWeightsError) as error:
        build("file")
    assert str(error.value) == "The 'file' weight source needs the path of a state-dict file."


# --- 6./7. the augment command: file-system errors, interrupts, atomic saves ---------------------


def _augment_args(dataset: Path, out: Path) -> list[str]:
    model = ["--detector", "Faster R-CNN R50-FPN", "--weights", "untrained", "--cam", "EigenCAM"]
    return ["--dataset", str(dataset), "--out", str(out), *model, "--reference", "mask"]


def test_an_unusable_out_folder_is_one_line_and_exit_1(tmp_path, capsys):
    from saliency_core.commands import augment as cli

    _write_rgb(tmp_path / "data" / "images" / "a.png")
    blocker = tmp_path / "afile"
    blocker.write_text("a file where a folder should be")
    assert cli.main(_augment_args(tmp_path / "data", blocker / "sub")) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {blocker / 'sub'}: Not a directory"


def test_an_interrupt_during_set_up_prints_the_resume_hint(tmp_path, capsys, monkeypatch):
    from saliency_core.commands import augment as cli
    from saliency_core.data import runs

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "resume_refusal", interrupted)
    _write_rgb(tmp_path / "data" / "images" / "a.png")
    assert cli.main(_augment_args(tmp_path / "data", tmp_path / "out")) == 130
    assert capsys.readouterr().err == "Interrupted: run the same command again to resume.\n"


@pytest.mark.parametrize("command", ["augment", "evaluate"])
def test_an_interrupt_while_importing_prints_the_resume_hint(command, monkeypatch, capsys):
    import runpy
    import sys

    class Importing:
        """Stands for the command module while its heavy imports are interrupted."""

        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, f"saliency_core.commands.{command}", Importing())
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(f"saliency_core.{command}", run_name="__main__")
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "Interrupted: run the same command again to resume.\n"


def test_atomic_writes_replace_whole_files_and_clean_up(tmp_path, monkeypatch):
    from saliency_core.data import atomic

    target = tmp_path / "out" / "x.png"
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = (10, 200, 30)
    atomic.save_image_atomic(rgb, target)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), rgb)
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    before = target.read_bytes()

    def killed(*_args):
        raise KeyboardInterrupt  # e.g. Ctrl-C between writing and renaming

    monkeypatch.setattr(atomic.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic.save_image_atomic(255 - rgb, target)
    assert target.read_bytes() == before  # the old complete file, not a torn one
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.png"]  # no temporary left
    with pytest.raises(ValueError, match=r"No image format for the extension '\.xyz'"):
        atomic.save_image_atomic(rgb, tmp_path / "x.xyz")


def test_the_augment_command_saves_atomically(tmp_path, monkeypatch):
    from saliency_core.augment import dataset as library
    from saliency_core.data import atomic

    written = []
    monkeypatch.setattr(atomic, "write_bytes_atomic", lambda p, d: written.append((p, d)))
    library._save(np.zeros((8, 8, 3), np.uint8), tmp_path / "images" / "a.jpg")
    [(path, data)] = written
    assert path == tmp_path / "images" / "a.jpg" and data[:3] == b"\xff\xd8\xff"  # a JPEG


def _umask() -> int:
    import os

    current = os.umask(0)
    os.umask(current)
    return current


# --- DeepGaze IIE's image normaliser matches the official float64 arithmetic ---------------------


def test_the_deepgaze_normaliser_matches_the_official_float64_arithmetic_bit_for_bit():
    from saliency_core.models.gaze.backbones import ImageNormaliser

    image = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (2, 3, 37, 53))).float()
    out = ImageNormaliser()(image)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(3, 1, 1)
    # The official Normalizer: float64 buffers, in-place ops on the float32 image, i.e. each
    # step computed in float64 and rounded to float32.
    centred = ((image / 255.0).double() - mean).float()
    expected = (centred.double() / std).float()
    assert out.dtype == torch.float32 and torch.equal(out, expected)
    float32_constants = (image / 255.0 - mean.float()) / std.float()
    assert not torch.equal(out, float32_constants)  # the old arithmetic differs by 1 ulp
    assert ImageNormaliser().state_dict() == {}


# --- tied map values: the top-p% mask never silently overshoots -----------------------------------


def _relu_map(seed: int = 0) -> np.ndarray:
    """A ReLU'd CAM: 80% of the pixels exactly 0, the rest distinct positive values."""
    values = np.random.default_rng(seed).normal(size=(40, 50))
    return np.maximum(values - np.quantile(values, 0.8), 0.0)


def test_top_25_percent_of_a_relu_map_does_not_select_everything():
    relu = _relu_map()
    study = metrics.top_percent_selection(relu, 25, ties=TIES_INCLUDE)
    assert study.mask.all() and study.share == 1.0  # the study's rule: every pixel
    default = metrics.top_percent_selection(relu, 25)
    np.testing.assert_array_equal(default.mask, relu > 0)
    assert default.share == pytest.approx(0.2, abs=1 / relu.size)
    assert default.flag == study.flag == metrics.FEW_ABOVE_MINIMUM
    assert metrics.top_percent_selection(relu, 10).flag is None
    assert metrics.top_percent_selection(relu, 10).share == pytest.approx(0.1)


def test_ties_at_the_threshold_are_left_out_only_when_they_overshoot():
    row = np.array([[0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    # top 25% = 2 px; the cut ties six 1.0s: only the pixels above it (none) would be left, so
    # the tied maximum is kept whole rather than an empty mask (a binary mask covering > p%)
    assert metrics.top_percent_mask(row, 25).tolist() == (row == 1.0).tolist()
    assert metrics.top_percent_selection(row, 25).share == 0.75
    tied_below = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0]])
    # top 50% = 4 px; the cut is 0 (six ties, which would overshoot): only the two above it
    assert metrics.top_percent_mask(tied_below, 50).tolist() == (tied_below > 0).tolist()
    assert metrics.top_percent_mask(tied_below, 50, ties="include").all()
    row = np.array([[0.0, 1.0, 1.0, 1.0]])
    assert metrics.top_percent_mask(row, 25, ties="include").tolist() == [[False, True, True, True]]
    assert metrics.top_percent_mask(row, 75).tolist() == [[False, True, True, True]]  # no overshoot
    assert metrics.top_percent_selection(row, 75).share == 0.75
    with pytest.raises(ValueError, match="ties must be one of"):
        metrics.top_percent_mask(row, 25, ties="sometimes")


def _tie_maps() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    quantised = np.round(rng.random((30, 40)) * 5) / 5  # six values, heavy ties everywhere
    plateau = rng.random((30, 40))
    plateau[plateau > 0.7] = 1.0  # 30% tied at the maximum
    return {
        "random": rng.random((30, 40)),
        "relu": _relu_map(1),
        "quantised": quantised,
        "plateau": plateau,
        "constant": np.full((30, 40), 0.3),
        "odd size": rng.random((7, 13)),
    }


@pytest.mark.parametrize("name", list(_tie_maps()))
@pytest.mark.parametrize("ties", TIE_POLICIES)
def test_ranked_map_matches_the_metric_for_both_tie_policies(name, ties):
    values = _tie_maps()[name]
    ranked = agreement.RankedMap(values)
    for percent in (0, 0.5, 1, 2.5, 10, 19.9, 25, 33.3, 50, 70, 99, 100):
        expected = metrics.top_percent_selection(values, percent, ties)
        np.testing.assert_array_equal(ranked.mask(percent, ties), expected.mask)
        assert ranked.selected_share(percent, ties) == pytest.approx(expected.share, abs=1e-12)
        assert ranked.flag(percent) == expected.flag
        if ties == TIES_NO_OVERSHOOT:  # never over p%, but for a tied maximum kept whole
            limit = np.ceil(percent / 100 * values.size) / values.size
            assert expected.share <= limit or (values[expected.mask] == values.max()).all()
    if name in ("random", "odd size"):  # no ties: both policies are the study's rule
        for percent in (1, 10, 25, 50):
            np.testing.assert_array_equal(
                ranked.mask(percent), values >= np.percentile(values, 100 - percent)
            )


def test_ties_are_passed_through_the_iou_functions():
    relu, other = _relu_map(0), _relu_map(5)
    ranked = {"a": agreement.RankedMap(relu), "ref": agreement.RankedMap(other)}
    for ties in TIE_POLICIES:
        expected = metrics.top_percent_iou(relu, other, 25, ties)
        table = agreement.iou_table({"a": ranked["a"]}, {"ref": ranked["ref"]}, 25, ties)
        assert table["value"].iloc[0] == pytest.approx(expected)
        assert metrics.compute(
            "IoU@top-p%", relu, reference=other, percent=25, ties=ties
        ).value == (pytest.approx(expected))
    assert metrics.top_percent_iou(relu, other, 25, "include") == 1.0  # both masks: every pixel
    assert metrics.top_percent_iou(relu, other, 25) < 1.0
