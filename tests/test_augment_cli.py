"""The dataset command (saliency augment) on a 3-image folder written here."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency_core import pipeline
from saliency_core.augment import dataset as library
from saliency_core.commands import augment as cli
from saliency_core.data import fixations
from saliency_core.data.images import load_image, load_mask
from saliency_core.maps.cams import CamResult
from saliency_core.maps.detector_maps import compute_cam
from saliency_core.models.gaze import predict_type2
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.scoring import metrics

ROOT = Path(__file__).resolve().parents[1]
STEMS = ("img_a", "img_b", "img_c")
SHAPE = (96, 128)
CHOICE = ModelChoice("Faster R-CNN R50-FPN", WeightSource.UNTRAINED, None, 128)
MODEL = ["--detector", CHOICE.name, "--weights", "untrained", "--cam", "EigenCAM"]
MODEL += ["--input-size", "128", "--inpaint", "telea"]
ALWAYS = ["--metric", "MAE", "--comparator", ">=", "--threshold", "0"]
"""MAE ≥ 0 holds for every image: erase all."""
NEVER = ["--metric", "MAE", "--comparator", "<", "--threshold", "0"]
"""MAE < 0 never holds: keep all."""
OTHER_FILES = (
    "annotations/img_a.xml",
    "annotations/img_b.xml",
    "annotations/img_c.xml",
    "masks/img_a.png",
    "fixations/img_b.csv",
    "images/README.txt",
)


def make_dataset(root: Path) -> Path:
    """images/*.jpg (96×128, smooth colour fields), masks/*.png, fixations/*.csv, annotations."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]] / SHAPE[1]
    for index, stem in enumerate(STEMS):
        for folder in ("images", "masks", "fixations", "annotations"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        phases = rng.uniform(0, 6, 3)
        rgb = np.stack([np.sin(7 * x + 5 * y + p) for p in phases], axis=-1) * 100 + 128
        Image.fromarray(rgb.astype(np.uint8)).save(root / "images" / f"{stem}.jpg", quality=90)
        mask = np.zeros(SHAPE, np.uint8)
        mask[10:60, 10 + 30 * index : 70 + 30 * index] = 255
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        points = rng.uniform([0, 0], [SHAPE[1], SHAPE[0]], (8, 2))
        rows = "\n".join(f"{px:.1f},{py:.1f}" for px, py in points)
        (root / "fixations" / f"{stem}.csv").write_text(f"x,y\n{rows}\n")
        (root / "annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><object><name>thing</name>"
            f"<bndbox><xmin>{5 + index}</xmin><ymin>6</ymin><xmax>60</xmax><ymax>70</ymax>"
            "</bndbox></object></annotation>\n"
        )
    (root / "images" / "README.txt").write_text("non-image file next to the images\n")
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "dataset")


def run(dataset: Path, out: Path, *extra: str) -> int:
    return cli.main(["--dataset", str(dataset), "--out", str(out), *MODEL, *extra])


def read_log(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (out / library.LOG_NAME).open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_erases_every_image_and_copies_the_rest_unchanged(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(dataset, out, "--reference", "mask", "--save-masks", *ALWAYS) == 0
    columns, rows = read_log(out)
    assert columns == list(library.LOG_COLUMNS)
    assert [row["stem"] for row in rows] == list(STEMS)
    for relative in OTHER_FILES:
        assert (out / relative).read_bytes() == (dataset / relative).read_bytes(), relative
    for row in rows:
        stem = row["stem"]
        original = load_image(dataset / "images" / f"{stem}.jpg").rgb
        cam = compute_cam(original, CHOICE, "EigenCAM").cam
        mask, _ = load_mask(dataset / "masks" / f"{stem}.png", SHAPE)
        expected = metrics.compute("MAE", cam, reference=mask).value
        assert (row["metric"], row["decision"], row["inpaint"]) == ("MAE", "erase", "Telea")
        assert float(row["value"]) == pytest.approx(expected, rel=1e-5)
        assert row["output"] == f"images/{stem}.png"
        assert "UNTRAINED" in row["notes"]
        erased = np.asarray(Image.open(out / library.ERASE_MASKS / f"{stem}.png")) > 0
        assert int(row["erased_pixels"]) == erased.sum()
        assert erased.sum() >= 0.025 * erased.size
        output = np.asarray(Image.open(out / row["output"]))
        assert output.shape == original.shape
        np.testing.assert_array_equal(output[~erased], original[~erased])
        assert output[erased].mean() > 40, "Telea filled the hole (black would be 0)"
    assert "3/3" in capsys.readouterr().err, "tqdm progress bar"


def test_kept_images_are_copied_byte_identical(dataset, tmp_path):
    out = tmp_path / "out"
    assert run(dataset, out, "--reference", "fixations", *NEVER) == 0
    _, rows = read_log(out)
    for row in rows:
        stem = row["stem"]
        source = dataset / "images" / f"{stem}.jpg"
        rgb = load_image(source).rgb
        points = fixations.read_fixations(dataset / "fixations" / f"{stem}.csv")
        density = fixations.density_map(points, SHAPE, fixations.default_sigma(SHAPE))
        expected = metrics.compute(
            "MAE", compute_cam(rgb, CHOICE, "EigenCAM").cam, reference=fixations.display(density)
        ).value
        assert row["decision"] == "keep"
        assert row["reason"].endswith("keep. Copied unchanged.")
        assert float(row["value"]) == pytest.approx(expected, rel=1e-5)
        assert (row["erased_pixels"], row["inpaint"]) == ("0", "")
        assert (out / row["output"]).read_bytes() == source.read_bytes()


def test_input_format_keeps_the_suffix(dataset, tmp_path):
    out = tmp_path / "out"
    assert (
        run(dataset, out, "--reference", "mask", "--format", "input", "--limit", "1", *ALWAYS) == 0
    )
    _, [row] = read_log(out)
    assert row["output"] == "images/img_a.jpg"
    written = out / row["output"]
    assert Image.open(written).format == "JPEG"
    assert load_image(written).rgb.shape == (*SHAPE, 3)
    assert written.read_bytes() != (dataset / "images" / "img_a.jpg").read_bytes()


def test_resumes_where_it_stopped(dataset, tmp_path, monkeypatch):
    out = tmp_path / "out"
    processed: list[str] = []
    process_image = library.process_image

    def counting(dataset, stem, *args):
        processed.append(stem)
        return process_image(dataset, stem, *args)

    monkeypatch.setattr(library, "process_image", counting)
    arguments = ("--reference", "mask", *ALWAYS)
    assert run(dataset, out, *arguments) == 0
    assert processed == list(STEMS)
    stamps = {stem: (out / "images" / f"{stem}.png").stat().st_mtime_ns for stem in STEMS}

    assert run(dataset, out, *arguments) == 0
    assert processed == list(STEMS), "second run skips everything"

    (out / "images" / "img_b.png").unlink()
    assert run(dataset, out, *arguments) == 0
    assert processed == [*STEMS, "img_b"], "third run redoes only the missing output"
    assert (out / "images" / "img_b.png").is_file()
    for stem in ("img_a", "img_c"):
        assert (out / "images" / f"{stem}.png").stat().st_mtime_ns == stamps[stem]
    _, rows = read_log(out)
    assert sorted(row["stem"] for row in rows) == list(STEMS), "one row per image"


def test_resuming_with_other_settings_is_refused(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(dataset, out, "--reference", "mask", "--limit", "1", *ALWAYS) == 0
    with pytest.raises(SystemExit) as exit_info:
        run(dataset, out, "--reference", "mask", "--top-percent", "5", *ALWAYS)
    assert exit_info.value.code == 2
    assert "top_percent differ" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["same", "inside", "above"])
def test_refuses_to_write_into_its_input(dataset, tmp_path, capsys, where):
    out = {"same": dataset, "inside": dataset / "augmented", "above": tmp_path}[where]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        run(dataset, out, "--reference", "mask")
    assert exit_info.value.code == 2
    assert "never writes into its input" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_failing_image_is_logged_and_the_run_goes_on(dataset, tmp_path, monkeypatch):
    (dataset / "images" / "img_a.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    real_cam = pipeline.compute_cam
    img_c = load_image(dataset / "images" / "img_c.jpg").rgb

    def spike_for_c(rgb, choice, *args, **kwargs):
        """img_c's CAM: one hot pixel on zeros (its top 2.5% cannot be isolated)."""
        result = real_cam(rgb, choice, *args, **kwargs)
        if np.array_equal(rgb, img_c):
            spike = np.zeros_like(result.cam)
            spike[5, 5] = 1.0
            result = CamResult(spike, result.detections, result.label, False)
        return result

    monkeypatch.setattr(pipeline, "compute_cam", spike_for_c)
    out = tmp_path / "out"
    assert run(dataset, out, "--reference", "mask", *ALWAYS) == 1
    _, rows = read_log(out)
    by_stem = {row["stem"]: row for row in rows}
    assert by_stem["img_a"]["decision"] == "error"
    assert by_stem["img_a"]["reason"].startswith("ImageLoadError: ")
    assert by_stem["img_c"]["decision"] == "error"
    assert by_stem["img_c"]["reason"].startswith("ValueError: The CAM's top 2.5% cannot be")
    assert by_stem["img_b"]["decision"] == "erase"
    assert sorted(p.name for p in (out / "images").iterdir()) == ["README.txt", "img_b.png"]


def test_deepgaze_reference(dataset, tmp_path):
    """One image against an untrained DeepGaze IIE at 128 px (keeps the test at a few seconds)."""
    out = tmp_path / "out"
    gaze = ["--deepgaze-weights", "untrained", "--deepgaze-max-side", "128", "--limit", "1"]
    assert run(dataset, out, "--reference", "deepgaze", *gaze, *ALWAYS) == 0
    _, [row] = read_log(out)
    rgb = load_image(dataset / "images" / "img_a.jpg").rgb
    reference = predict_type2("DeepGaze IIE", rgb, max_side=128).display
    cam = compute_cam(rgb, CHOICE, "EigenCAM").cam
    expected = metrics.compute("MAE", cam, reference=reference).value
    assert row["decision"] == "erase"
    assert float(row["value"]) == pytest.approx(expected, rel=1e-5)
    assert "DeepGaze IIE (UNTRAINED)" in row["notes"]


def test_the_flags_defaults_and_choices_are_the_options_own(tmp_path):
    """Only the required flags given: the parsed options are AugmentOptions' defaults (the
    study's values), and augment_settings.json keeps the keys older runs resume from."""
    required = ["--dataset", "d", "--out", "o", "--detector", CHOICE.name, "--weights"]
    required += ["untrained", "--cam", "EigenCAM", "--reference", "mask"]
    parser = cli.build_parser()
    options = library.AugmentOptions.from_arguments(vars(parser.parse_args(required)))
    assert options == library.AugmentOptions(
        detector=CHOICE.name, weights="untrained", cam="EigenCAM", reference="mask"
    )
    given = {k: v for k, v in library.AugmentOptions.defaults().items() if v is not None}
    assert given == {
        "score_threshold": 0.9,
        "deepgaze_weights": "pretrained",
        "deepgaze_max_side": 1024,
        "study_input_range": False,
        "rule": "study-code",
        "top_percent": 2.5,
        "dilate": 0,
        "kernel": "disk",
        "fill": "black",
        "inpaint_radius": 3.0,
        "dip_lr": 0.01,
        "dip_seed": 0,
        "format": "png",
        "save_masks": False,
    }
    actions = {action.dest: action for action in parser._actions}
    for name, choices in library.CHOICES.items():
        assert actions[name].choices == list(choices)
    assert list(options.identity(tmp_path)) == [
        "cam", "comparator", "dataset", "deepgaze_max_side", "deepgaze_weights",
        "deepgaze_weights_path", "detector", "dilate", "dip_iterations", "dip_lr", "dip_seed",
        "fill", "format", "inpaint", "inpaint_radius", "input_size", "kernel", "metric",
        "reference", "rule", "rule_percent", "save_masks", "score_threshold", "sigma",
        "study_input_range", "target", "threshold", "top_percent", "weights", "weights_path",
    ]  # fmt: skip


def test_a_number_off_its_declared_range_is_a_usage_error_before_anything_runs(
    dataset, tmp_path, capsys
):
    out = tmp_path / "out"
    said = {
        ("--top-percent", "150"): "150 is not in (0, 100] %",
        ("--rule-percent", "0"): "0 is not in (0, 100] %",
        ("--dilate", "2.5"): "'2.5' is not a whole number in 0..1000 px",
        ("--dilate", "-3"): "-3 is not a whole number in 0..1000 px",
        ("--limit", "0"): "0 is not a whole number in 1..1000000000 images",
        ("--inpaint-radius", "nan"): "nan is not in (0, 100] px",
        ("--dip-iterations", "0"): "0 is not a whole number in 1..1000000",
        ("--dip-lr", "2"): "2 is not in (0, 1]",
    }
    for (flag, value), message in said.items():
        with pytest.raises(SystemExit) as exit_info:
            run(dataset, out, flag, value)
        assert exit_info.value.code == 2
        assert f"argument {flag}: {message}" in capsys.readouterr().err
    assert not out.exists(), "nothing ran"
    assert set(library.option_ranges()) == {
        "rule_percent", "top_percent", "dilate", "inpaint_radius", "dip_iterations", "dip_lr",
        "limit",
    }  # fmt: skip


def test_entry_point_help():
    done = subprocess.run(
        [sys.executable, "-m", "saliency_core.augment", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "BOUNDING BOXES ARE UNCHANGED" in done.stdout
    assert "--reference {deepgaze,centre-bias,spectral-residual,fixations,mask}|RUN" in done.stdout


def test_augmenting_an_augmented_dataset_keeps_its_own_log_and_settings(dataset, tmp_path):
    """An earlier run's augment_log.csv / augment_settings.json in --dataset are not copied over
    this run's own (which would break resuming it)."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(dataset, first, "--reference", "mask", "--limit", "1", *ALWAYS) == 0
    arguments = ("--reference", "mask", "--limit", "1", *NEVER)
    assert run(first, second, *arguments) == 0
    settings = (second / library.SETTINGS_NAME).read_text()
    assert str(first.resolve()) in settings, "the first run's settings were copied over"
    _, rows = read_log(second)
    assert [(row["stem"], row["decision"]) for row in rows] == [("img_a", "keep")]
    assert run(first, second, *arguments) == 0, "resuming the second run was refused"


def test_an_image_named_like_a_formula_is_neutralised_in_the_log_and_resumed(
    dataset, tmp_path, monkeypatch
):
    """``=cmd|calc.jpg``: its log row starts with ``'=cmd|calc`` (a spreadsheet shows text),
    and a second run reads the stem back exactly, so it skips the finished image."""
    stem = "=cmd|calc"
    for folder, suffix in (("images", ".jpg"), ("masks", ".png")):
        (dataset / folder / f"img_a{suffix}").rename(dataset / folder / f"{stem}{suffix}")
    for other in ("img_b", "img_c"):
        (dataset / "images" / f"{other}.jpg").unlink()
    out = tmp_path / "out"
    processed: list[str] = []
    process_image = library.process_image

    def counting(dataset, stem, *args):
        processed.append(stem)
        return process_image(dataset, stem, *args)

    monkeypatch.setattr(library, "process_image", counting)
    assert run(dataset, out, "--reference", "mask", *NEVER) == 0
    with (out / library.LOG_NAME).open(newline="") as handle:
        header, row = list(csv.reader(handle))
    assert header[0] == "stem" and row[0] == "'=cmd|calc"
    assert run(dataset, out, "--reference", "mask", *NEVER) == 0
    assert processed == [stem], "the second run found the logged image done"
    assert (out / "images" / f"{stem}.jpg").is_file()


def test_a_voc_folder_is_augmented_into_the_same_layout(tmp_path, synthetic_voc):
    """JPEGImages/ in, JPEGImages/ out; annotations and splits copied, so the copy reads back
    as the same detection dataset (erasing never moves a box)."""
    import shutil

    from saliency_core.data.annotations import read_voc

    voc = shutil.copytree(synthetic_voc, tmp_path / "voc")
    masked = {path.stem for path in (voc / "masks").iterdir()}
    for image in (voc / "JPEGImages").iterdir():
        if image.stem not in masked:  # the mask is this rule's reference
            image.unlink()
    out = tmp_path / "out"
    assert run(voc, out, "--reference", "mask", "--limit", "2", *ALWAYS) == 0
    _, rows = read_log(out)
    assert [row["output"] for row in rows] == [f"JPEGImages/{row['stem']}.png" for row in rows]
    original, copy = read_voc(voc), read_voc(out)
    for row in rows:
        stem = row["stem"]
        assert (out / "Annotations" / f"{stem}.xml").read_bytes() == (
            voc / "Annotations" / f"{stem}.xml"
        ).read_bytes()
        np.testing.assert_array_equal(
            copy.annotations[stem].boxes, original.annotations[stem].boxes
        )
    assert (out / "ImageSets" / "Main" / "test.txt").is_file()
