"""The Explore matrix: rows and columns of the grid, the agreement rows, the export's layout and
the detections panel's explained boxes (no models: hand-made bundles)."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core import pipeline, viz
from saliency_core.data.images import Sample
from saliency_core.maps.cams import Detections
from saliency_core.maps.classifier_methods import Prediction
from saliency_core.maps.references import ReferenceMap
from saliency_core.settings import Settings
from ui import matrix
from ui.matrix import AGREEMENT, DETECTIONS, MAP, MISSING, REFERENCE, Cell, Row

FRCNN = "Faster R-CNN R50-FPN"
TRAINED, TWIN = f"{FRCNN} (pretrained)", f"{FRCNN} (UNTRAINED)"
DEEPGAZE = "DeepGaze IIE (MIT1003)"


def detections(scores: list[float]) -> Detections:
    count = len(scores)
    boxes = np.array([[2 + k, 2 + k, 12 + k, 10 + k] for k in range(count)], np.float32)
    names = ["person", "dog", "car", "cat"][:count]
    return Detections(boxes.reshape(-1, 4), np.array(scores, np.float32), np.arange(count), names)


def entry(label: str, kind: str, trained: bool = True, method: str = "", target: str = ""):
    values = np.linspace(0, 1, 16 * 24, dtype=np.float32).reshape(16, 24)
    return pipeline.MapEntry(
        label,
        values,
        kind,
        trained,
        detector=FRCNN if kind == "type-1" else "",
        model_label=label.split(" · ")[0] if kind == "type-1" else "",
        method=method,
        target=target,
    )


@pytest.fixture
def bundle() -> pipeline.Bundle:
    """Pretrained Faster R-CNN with its untrained twin × (EigenCAM, GradCAM); the twin's GradCAM
    failed. DeepGaze IIE is a map and a reference; the fixation density a reference."""
    settings = Settings(
        detectors=(FRCNN,),
        weights="pretrained",
        untrained_twins=True,
        cams=("EigenCAM", "GradCAM"),
        score_threshold=0.5,
        consensus=True,
    )
    sample = Sample("004", np.full((16, 24, 3), 90, np.uint8), "test")
    result = pipeline.Bundle(sample, settings)
    for label, kind, trained, method in [
        (f"{TRAINED} · EigenCAM @ layer4", "type-1", True, "EigenCAM"),
        (f"{TWIN} · EigenCAM @ layer4", "type-1", False, "EigenCAM"),
        (f"{TRAINED} · GradCAM @ layer4", "type-1", True, "GradCAM"),
        (DEEPGAZE, "type-2", True, "DeepGaze IIE"),
        ("consensus of type-1 maps (UNTRAINED inputs)", "consensus", False, "consensus"),
    ]:
        result.maps[label] = entry(label, kind, trained, method, "layer4" if method else "")
    result.detections = {TRAINED: detections([0.9, 0.6, 0.2]), TWIN: detections([0.1])}
    values = np.ones((16, 24), np.float32)
    result.references = {
        "deepgaze": ReferenceMap("deepgaze", DEEPGAZE, values),
        "fixations": ReferenceMap("fixations", "fixation density", values),
    }
    return result


REFERENCES = (
    Cell(DEEPGAZE, REFERENCE, "deepgaze"),
    Cell("fixation density", REFERENCE, "fixations"),
)


def test_one_row_per_detector_choice_with_the_references_beside_it(bundle):
    rows = matrix.overview_rows(bundle)
    assert rows == [
        Row("Type-2 maps", (Cell(DEEPGAZE, MAP, DEEPGAZE),)),
        Row(
            TRAINED,
            (
                Cell("detections ≥ 0.50: 2", DETECTIONS, TRAINED),
                Cell("EigenCAM @ layer4", MAP, f"{TRAINED} · EigenCAM @ layer4"),
                Cell("GradCAM @ layer4", MAP, f"{TRAINED} · GradCAM @ layer4"),
                *REFERENCES,
            ),
        ),
        Row(
            TWIN,
            (
                Cell("detections ≥ 0.50: 0", DETECTIONS, TWIN),
                Cell("EigenCAM @ layer4", MAP, f"{TWIN} · EigenCAM @ layer4"),
                Cell("GradCAM: not computed (see Notes)", MISSING),
                *REFERENCES,
            ),
        ),
        Row(
            "Consensus",
            (
                Cell(
                    "consensus of type-1 maps (UNTRAINED inputs)",
                    MAP,
                    "consensus of type-1 maps (UNTRAINED inputs)",
                ),
                None,  # the references stay in the same columns in every row
                None,
                *REFERENCES,
            ),
        ),
    ]
    assert matrix.width(rows) == 5
    assert [len(row.cells) for row in matrix.overview_rows(bundle, score=0.05)] == [1, 5, 5, 5]
    assert matrix.overview_rows(bundle, score=0.05)[2].cells[0].title == "detections ≥ 0.05: 1"


def test_without_a_model_one_row_holds_the_type2_maps_and_the_references(bundle):
    bundle.settings = bundle.settings.with_changes(detectors=(), cams=(), consensus=False)
    bundle.maps = {DEEPGAZE: bundle.maps[DEEPGAZE]}
    bundle.detections = {}
    assert matrix.overview_rows(bundle) == [
        Row(
            "Type-2 maps and references",
            (Cell(DEEPGAZE, MAP, DEEPGAZE), Cell("fixation density", REFERENCE, "fixations")),
        )
    ]


def test_the_agreement_rows_keep_the_columns_and_leave_out_the_reference_itself(bundle):
    rows = matrix.agreement_rows(matrix.overview_rows(bundle), DEEPGAZE, 12.5)
    assert [row.title for row in rows] == [
        f"{TRAINED} · top 12.5% vs {DEEPGAZE}",
        f"{TWIN} · top 12.5% vs {DEEPGAZE}",
        f"Consensus · top 12.5% vs {DEEPGAZE}",
    ]
    assert rows[0].cells == (
        None,
        Cell("EigenCAM @ layer4", AGREEMENT, f"{TRAINED} · EigenCAM @ layer4"),
        Cell("GradCAM @ layer4", AGREEMENT, f"{TRAINED} · GradCAM @ layer4"),
    )
    assert rows[1].cells == (
        None,
        Cell("EigenCAM @ layer4", AGREEMENT, f"{TWIN} · EigenCAM @ layer4"),
    )
    against_fixations = matrix.agreement_rows(matrix.overview_rows(bundle), "fixation density", 10)
    assert against_fixations[0].title == "Type-2 maps · top 10% vs fixation density"
    assert against_fixations[0].cells == (Cell(DEEPGAZE, AGREEMENT, DEEPGAZE),)


def test_a_constant_maps_agreement_panel_says_so(bundle):
    """Issue 20 §6: an untrained GradCAM's constant map showed a solid panel with no word."""
    constant = {f"{TRAINED} · GradCAM @ layer4"}
    rows = matrix.agreement_rows(matrix.overview_rows(bundle), DEEPGAZE, 10, constant)
    assert rows[0].cells[1:] == (
        Cell("EigenCAM @ layer4", AGREEMENT, f"{TRAINED} · EigenCAM @ layer4"),
        Cell("GradCAM @ layer4 · constant map", AGREEMENT, f"{TRAINED} · GradCAM @ layer4"),
    )


def test_a_chosen_detection_below_the_threshold_is_drawn_and_marked(bundle):
    found = detections([0.9, 0.6, 0.2])
    drawn, marked = matrix.shown_detections(found, 0.5, np.array([2]))
    assert drawn.scores.tolist() == pytest.approx([0.9, 0.6, 0.2]) and marked.tolist() == [2]
    drawn, marked = matrix.shown_detections(found, 0.5, np.array([0, 1]))
    assert len(drawn) == 2 and marked is None, "every drawn box explained: nothing singled out"
    drawn, marked = matrix.shown_detections(found, 0.95, np.array([0]))
    assert drawn.names == ["person"] and marked is None
    bundle.settings = bundle.settings.with_changes(explain_detection=2)
    bundle.explained[TRAINED] = np.array([2])
    assert matrix.detections_title(bundle, TRAINED, 0.5) == (
        "detections ≥ 0.50: 2 · explained: car 0.20"
    )
    bundle.settings = bundle.settings.with_changes(explain_detection=None, explain_class="dog")
    bundle.explained[TRAINED] = np.array([1])
    assert matrix.detections_title(bundle, TRAINED, 0.5) == (
        "detections ≥ 0.50: 2 · explained: dog (1)"
    )
    assert matrix.detections_title(bundle, TWIN, 0.5) == "detections ≥ 0.50: 0", "EigenCAM only"
    bundle.explained[TRAINED] = np.array([2])
    thick = matrix.paint(bundle, Cell("", DETECTIONS, TRAINED), 0.5)
    plain = viz.draw_detections(bundle.sample.image, found.above(0.5))
    assert thick.shape == (16, 24, 3) and not np.array_equal(thick, plain)


def test_the_export_draws_the_same_matrix(bundle):
    rows = matrix.overview_rows(bundle)
    pictures = [
        (
            row.title,
            [
                None if c is None or c.kind == MISSING else (c.title, matrix.paint(bundle, c, 0.5))
                for c in row.cells
            ],
        )
        for row in rows
    ]
    sheet = viz.grid_figure(pictures, tile=48)
    # 5 columns of 48 px + 8 px gaps; 4 titled rows of (24 + 40 + 32 + 8) px (32: 16×24 at 48 px)
    assert sheet.shape == (8 + 4 * (24 + 40 + 32 + 8), 5 * (48 + 8) + 8, 3)
    # the twin's missing GradCAM leaves its cell white; the trained row's GradCAM is drawn
    row_top = 8 + 2 * 104 + 24 + 40
    assert (sheet[row_top : row_top + 32, 8 + 2 * 56 : 8 + 2 * 56 + 48] == 255).all()
    assert not (sheet[row_top - 104 : row_top - 72, 8 + 2 * 56 : 8 + 2 * 56 + 48] == 255).all()
    flat = viz.grid_figure(
        [(c.title, matrix.paint(bundle, c, 0.5)) for c in rows[1].cells[:3]], tile=48
    )
    assert flat.shape == (8 + 40 + 32 + 8, 3 * 56 + 8, 3), "a flat list still wraps"


def test_a_classifier_is_a_row_with_one_column_per_method(bundle):
    """ResNet-50 × (GradCAM, Guided Backprop, EigenCAM) where Guided Backprop was not computed:
    a row of its own after the detectors, before the consensus."""
    bundle.settings = bundle.settings.with_changes(
        classifiers=("ResNet-50",), classifier_methods=("GradCAM", "Guided Backprop", "EigenCAM")
    )
    # GradCAM++'s map comes first and its label starts like GradCAM's: not GradCAM's cell
    for method in ("GradCAM++", "GradCAM", "EigenCAM"):
        label = f"ResNet-50 (UNTRAINED) · {method}"
        bundle.maps[label] = entry(label, "classifier", False, method, "layer4")
        bundle.maps[label].detector = "ResNet-50"
    rows = matrix.overview_rows(bundle)
    assert [row.title for row in rows][-2:] == ["ResNet-50 (UNTRAINED)", "Consensus"]
    bundle.predictions["ResNet-50 (UNTRAINED)"] = [
        Prediction(713, "photocopier", 0.8267),
        Prediction(750, "quilt", 0.05),
    ]
    titled = matrix.overview_rows(bundle)[-2].title
    assert titled == "ResNet-50 (UNTRAINED) · top-5: photocopier 0.83, quilt 0.05"
    assert rows[-2].cells == (
        Cell("GradCAM @ layer4", MAP, "ResNet-50 (UNTRAINED) · GradCAM"),
        Cell("Guided Backprop: not computed (see Notes)", MISSING),
        Cell("EigenCAM @ layer4", MAP, "ResNet-50 (UNTRAINED) · EigenCAM"),
        *REFERENCES,
    )


def test_a_fallback_box_is_named_in_the_caption(bundle):
    """No detection ≥ the threshold: the best one is explained and drawn, and the caption says
    so instead of reading "0" next to a drawn box."""
    bundle.explained[TWIN] = np.array([0])
    assert matrix.detections_title(bundle, TWIN, 0.5) == (
        "detections ≥ 0.50: 0 — the best box (score 0.10) drawn as fallback"
    )
    bundle.settings = bundle.settings.with_changes(score_threshold=0.7, explain_class="dog")
    bundle.explained[TRAINED] = np.array([1])
    assert matrix.detections_title(bundle, TRAINED, 0.7) == (
        "detections ≥ 0.70: 1 — the best dog box (score 0.60) drawn as fallback"
    )
