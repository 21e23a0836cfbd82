"""Explore's computation: cheap maps first, partial bundles, Stop with what is done, ETAs."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from saliency_core import pipeline
from saliency_core.data.images import Sample
from saliency_core.maps import detector_maps
from saliency_core.maps.cams import CamResult, Detections
from saliency_core.models.gaze import Type2Map
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.settings import Settings
from ui import compute_job, eta

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SETTINGS = Settings(
    detectors=("FCOS R50-FPN",),
    weights=WeightSource.UNTRAINED,
    cams=("GradCAM", "AblationCAM", "EigenCAM"),
    target="layer4",
    type2=("Centre bias (Gaussian)",),
    references=("centre-bias", "mask"),
    input_size=64,
)


def sample() -> Sample:
    mask = np.zeros((8, 8), np.float32)
    mask[:4] = 1.0
    return Sample("toy", np.zeros((8, 8, 3), np.uint8), "test", mask=mask)


class Fake:
    """Map functions that record the call order; ``gate`` (when set) holds every CAM after the
    first until it is released."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[str] = []
        self.gate = gate

    def cam(self, sample, choice: ModelChoice, method: str, layer: str, score: float, explain):
        if self.gate is not None and self.calls:
            self.gate.wait(10)
        self.calls.append(method)
        values = np.full(sample.shape, 0.1 * len(self.calls), np.float32)
        values[0, 0] = 1.0
        label = f"{choice.label} · {method}"
        none = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), [])
        return CamResult(values, none, label, trained=False)

    def type2(self, sample, job: pipeline.Type2Step) -> Type2Map:
        self.calls.append(job.model)
        values = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
        return Type2Map(np.log(values + 1e-3), values, job.model, [])

    def functions(self) -> pipeline.MapFunctions:
        return pipeline.MapFunctions(cam=self.cam, type2=self.type2)


def test_cheap_maps_come_first_and_each_step_hands_over_a_partial_bundle():
    fake, labels, partials = Fake(), [], []
    bundle = pipeline.compute_bundle(
        sample(),
        SETTINGS,
        fake.functions(),
        progress=lambda done, total, label: labels.append((done, total, label)),
        partial=lambda copy: partials.append(copy),
    )
    assert fake.calls == ["EigenCAM", "Centre bias (Gaussian)", "GradCAM", "AblationCAM"]
    assert [label for _, _, label in labels][-1] == "done" and labels[0][:2] == (0, 4)
    assert [len(copy.maps) for copy in partials] == [1, 2, 3, 4]
    # the references come with the type-2 step, before the gradient and perturbation methods
    assert [list(copy.references) for copy in partials[:2]] == [[], ["centre-bias", "mask"]]
    assert partials[0].maps is not bundle.maps, "a copy, safe to read from another thread"
    methods = [entry.method for entry in bundle.maps.values()]
    assert methods == ["EigenCAM", "GradCAM", "AblationCAM", "Centre bias (Gaussian)"]


def test_cancel_returns_the_partial_bundle_with_its_references():
    cancel = threading.Event()
    fake = Fake()

    def stop_after_two(copy: pipeline.Bundle) -> None:
        if len(copy.maps) == 2:
            cancel.set()

    with pytest.raises(pipeline.Cancelled) as stopped:
        pipeline.compute_bundle(
            sample(), SETTINGS, fake.functions(), cancel=cancel, partial=stop_after_two
        )
    partial = stopped.value.bundle
    assert fake.calls == ["EigenCAM", "Centre bias (Gaussian)"]
    assert [entry.method for entry in partial.maps.values()] == [
        "EigenCAM",
        "Centre bias (Gaussian)",
    ]
    assert list(partial.references) == ["centre-bias", "mask"]
    assert partial.baseline is not None and partial.baseline.shape == (8, 8)


def test_the_eta_uses_what_each_kind_of_step_took():
    jobs, _ = pipeline.planned_steps(SETTINGS)
    eigen, centre, grad, ablation = jobs
    times = eta.StepTimes()
    assert times.estimate(grad) is None, "nothing measured yet"
    times.record(eigen, 0.01)
    assert times.estimate(eigen) is None, "a cache hit says nothing"
    times.record(eigen, 1.5)
    assert times.estimate(eigen) == 1.5
    assert times.estimate(grad) == 3.0, "a backward costs about one forward"
    assert times.estimate(ablation) is None, "its cost depends on the layer's channels"
    assert times.estimate(centre) == 0.0, "a weight-free type-2 model runs no network"
    times.record(centre, 0.25)
    assert times.remaining([eigen, centre, grad], elapsed=1.0) == (0.5 + 0.25 + 3.0, True)
    assert times.remaining([grad, ablation], elapsed=4.0) == (0.0, False)
    assert eta.describe(3.75, True) == "about 4 s left"
    assert eta.describe(130, False) == "at least 3 min left"
    assert eta.describe(0.0, False) == "time left not known yet"


def test_a_stopped_job_keeps_the_maps_done():
    gate = threading.Event()
    fake = Fake(gate)
    job = compute_job.ComputeJob("key", sample(), SETTINGS, fake.functions(), eta.StepTimes())
    while job.snapshot().done < 2:  # EigenCAM and the centre bias done, GradCAM held
        assert not job.wait(0.01) or job.snapshot().done >= 2
    job.stop()
    gate.set()
    assert job.wait(10)
    outcome = job.result
    assert outcome.stopped and (outcome.done, outcome.total) == (3, 4)
    assert outcome.note == "stopped: 3 of 4 maps"
    assert [entry.method for entry in outcome.bundle.maps.values()] == [
        "EigenCAM",
        "GradCAM",
        "Centre bias (Gaussian)",
    ]
    assert job.snapshot().text().startswith("Map 3 of 4: FCOS R50-FPN (UNTRAINED) · GradCAM — ")


def test_the_page_shows_a_stopped_computation_and_resumes(monkeypatch: pytest.MonkeyPatch):
    """Stop pressed during the first map: the page shows it with "stopped: 1 of 3 maps", and
    "Compute the remaining maps" computes the rest."""
    jobs: list[compute_job.ComputeJob] = []
    real_init, real_run_cam = compute_job.ComputeJob.__init__, detector_maps.run_cams

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        jobs.append(self)

    def stopping_run_cam(*args, **kwargs):
        jobs[-1].stop()  # as the Stop button does
        return real_run_cam(*args, **kwargs)

    monkeypatch.setattr(compute_job.ComputeJob, "__init__", recording_init)
    monkeypatch.setattr(detector_maps, "run_cams", stopping_run_cam)
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("app_pages/1_Explore.py")
    at.session_state["explore_image"] = "024"
    at.session_state["explore_detectors"] = ["FCOS R50-FPN"]
    at.session_state["explore_methods"] = ["EigenCAM", "GradCAM"]
    at.session_state["explore_size"] = "96 px"
    at.session_state["explore_type2"] = ["Centre bias (Gaussian)"]
    at.run()
    assert not at.exception, at.exception
    assert any(
        info.value == "stopped: 1 of 3 maps: the others were not computed." for info in at.info
    )
    assert at.dataframe, "the map done is compared with the references"
    notes = " ".join(caption.value for caption in at.caption)
    assert (
        "Reference centre-bias: the Centre bias (Gaussian) map was not computed (stopped)." in notes
    )
    monkeypatch.setattr(detector_maps, "run_cams", real_run_cam)
    [resume] = [button for button in at.button if button.label == "Compute the remaining maps"]
    resume.click().run()
    assert not at.exception, at.exception
    assert not any("stopped" in info.value for info in at.info)
    maps = {name for _, name in at.dataframe[0].value.index}
    assert len(jobs) == 2 and any(name.endswith("GradCAM @ layer4") for name in maps), maps


def test_a_cached_sample_is_hashed_once(monkeypatch: pytest.MonkeyPatch):
    from saliency_core.data import images
    from saliency_core.data.datasets import sample_dataset
    from ui import cached

    hashed: list[tuple] = []
    real = images.image_hash
    monkeypatch.setattr(images, "image_hash", lambda rgb: hashed.append(rgb.shape) or real(rgb))
    cached.sample.clear()
    dataset = sample_dataset()
    first = cached.sample(dataset.name, str(dataset.root), dataset.ids[0])
    again = cached.sample(dataset.name, str(dataset.root), dataset.ids[0])
    assert again is not first, "st.cache_data hands out a copy"
    assert again.key == first.key == real(first.image)
    assert hashed == [first.image.shape], "hashed when loaded, never on access"


def test_downloads_are_built_only_when_clicked(monkeypatch: pytest.MonkeyPatch):
    from streamlit.delta_generator import DeltaGenerator

    from saliency_core import viz

    grids: list[int] = []
    real_grid, real_download = viz.grid_figure, DeltaGenerator.download_button
    datas: dict[str, object] = {}

    def counting_grid(rows, *args, **kwargs):
        grids.append(sum(len([cell for cell in cells if cell]) for _, cells in rows))
        return real_grid(rows, *args, **kwargs)

    def recording(self, label, data, *args, **kwargs):
        datas[label] = data
        return real_download(self, label, data, *args, **kwargs)

    monkeypatch.setattr(viz, "grid_figure", counting_grid)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("app_pages/1_Explore.py")
    at.session_state["explore_detectors"] = ["FCOS R50-FPN"]
    at.session_state["explore_size"] = "96 px"
    at.session_state["explore_type2"] = ["Centre bias (Gaussian)"]
    at.run()
    assert not at.exception, at.exception
    assert set(datas) == {"Download the grid (PNG)", "Download the metrics (CSV)"}
    assert all(callable(data) for data in datas.values()) and grids == []
    png = datas["Download the grid (PNG)"]()
    assert png.startswith(b"\x89PNG") and len(grids) == 1 and grids[0] >= 4
    csv = datas["Download the metrics (CSV)"]()
    assert csv.splitlines()[0].startswith("map,") and "FCOS R50-FPN (UNTRAINED)" in csv


def test_fetch_weights_downloads_only_pretrained_and_keeps_going(monkeypatch):
    """Explore's prefetch: only models with downloaded weights are built, each with its own
    bar, and one that fails does not stop the others; by default the failure is raised."""
    built: list[tuple[str, object]] = []

    def detector(choice, progress=None):
        built.append((choice.label, progress))
        if choice.name == "FCOS R50-FPN":
            raise RuntimeError("no checkpoint")

    def type2(model, source, path, progress=None):
        built.append((model, progress))

    monkeypatch.setattr(pipeline, "get_detector", detector)
    monkeypatch.setattr(pipeline.gaze, "load_type2", type2)
    settings = Settings(
        detectors=("FCOS R50-FPN", "RetinaNet R50-FPN"),
        weights=WeightSource.PRETRAINED,
        untrained_twins=True,
        cams=("EigenCAM",),
        type2=("DeepGaze IIE", "Centre bias (Gaussian)"),
        type2_weights=WeightSource.PRETRAINED,
        references=("mask",),
    )
    pipeline.fetch_weights(
        settings, lambda label: f"bar {label}", downloads_only=True, keep_going=True
    )
    choices = pipeline.detector_choices(settings)[0]
    assert len(choices) == 4  # two detectors and their untrained twins
    pretrained = [c.label for c in choices if c.source is WeightSource.PRETRAINED]
    assert built == [(label, f"bar {label}") for label in pretrained] + [
        ("DeepGaze IIE", "bar DeepGaze IIE")
    ]
    with pytest.raises(RuntimeError, match="no checkpoint"):
        pipeline.fetch_weights(settings)
