"""A trained readout where one name is taken: ``saliency augment --reference RUN`` (the flag's
value checked through the registry's ``in``, not a fixed list of choices), and the ETAs' cost
entry of a readout not used before (issue 17 §1)."""

from __future__ import annotations

import pytest
from test_augment_cli import ALWAYS, CHOICE, read_log, run
from test_augment_cli import make_dataset as write_augment_dataset

from saliency_core.commands import augment as cli
from saliency_core.data.images import load_image
from saliency_core.maps.classifier_maps import ClassifierStep
from saliency_core.maps.classifier_methods import METHOD_FORWARDS
from saliency_core.maps.detector_maps import compute_cam
from saliency_core.maps.references import REFERENCES
from saliency_core.models.gaze import TYPE2_MODELS, predict_type2
from saliency_core.models.readout import ReadoutRecipe, build_readout, save_readout
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.pipeline import Type2Step
from saliency_core.scoring import metrics
from ui import eta

LABEL = "Readout (BI) on ResNet-50 [UNTRAINED backbone] · trained on toy"


@pytest.fixture
def readout(tmp_path):
    """An untrained BI readout's run folder (64 px): a readout not used before in this process."""
    run_dir = tmp_path / "readout-run"
    run_dir.mkdir()
    recipe = ReadoutRecipe("ResNet-50", "untrained", kind="bi", input_size=64, trained_on="toy")
    save_readout(build_readout(recipe), run_dir / "readout.pt")
    return str(run_dir)


def test_augment_takes_a_readout_run_folder_as_its_reference(readout, tmp_path):
    dataset = write_augment_dataset(tmp_path / "dataset")
    out = tmp_path / "out"
    assert run(dataset, out, "--reference", readout, "--limit", "1", *ALWAYS) == 0
    _, [row] = read_log(out)
    rgb = load_image(dataset / "images" / "img_a.jpg").rgb
    reference = predict_type2(readout, rgb).display
    expected = metrics.compute("MAE", compute_cam(rgb, CHOICE, "EigenCAM").cam, reference=reference)
    assert row["decision"] == "erase"
    assert float(row["value"]) == pytest.approx(expected.value, rel=1e-5)
    assert row["notes"].endswith(f" | reference: {LABEL}")


def test_an_unknown_reference_is_refused_naming_the_known_ones(tmp_path, capsys):
    argv = ["--dataset", "d", "--out", "o", "--detector", "Faster R-CNN R50-FPN"]
    argv += ["--weights", "untrained", "--cam", "EigenCAM", "--reference", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(argv)
    assert stop.value.code == 2
    listed = ", ".join(repr(key) for key in REFERENCES)
    assert f"argument --reference: invalid choice: '{tmp_path}' (choose from {listed})" in (
        capsys.readouterr().err
    )


def test_a_readout_not_used_before_is_estimated_from_its_backbones_timed_forwards(readout):
    """A readout's cost entry: one forward of its backbone (ResNet-50) at its input size (64);
    a timed Grad-CAM there (2 forwards, 3.0 s) gives 1.5 s before the readout has run (dict.get
    skipped a readout not yet in the registry: no estimate); its own time wins once timed."""
    assert not dict.__contains__(TYPE2_MODELS, readout)
    step = Type2Step(readout, WeightSource.UNTRAINED, None, False, 1024, scored=True)
    times = eta.StepTimes()
    assert times.estimate(step) is None  # nothing timed yet
    times.record(ClassifierStep(ModelChoice("ResNet-50", "untrained", None, 64), "GradCAM"), 3.0)
    assert METHOD_FORWARDS["GradCAM"] == 2.0
    assert times.estimate(step) == 1.5
    times.record(ClassifierStep(ModelChoice("ResNet-50", "untrained", None, 96), "GradCAM"), 9.0)
    assert times.estimate(step) == 1.5  # another input size says nothing
    times.record(step, 0.7)
    assert times.estimate(step) == 0.7
    assert TYPE2_MODELS.get(readout).timed_like == ("classifier", "ResNet-50", 64)
    assert REFERENCES.get(readout).type2_model == readout
    assert TYPE2_MODELS.get("no such model") is None
