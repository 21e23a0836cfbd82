"""The Augment page's "Non-trivial transformations" preview (Streamlit AppTest) and its library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from saliency_core.augment import preview
from saliency_core.models.weights import WeightSource
from ui.policy_preview import NO_ANNOTATION

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/2_Augment.py"
XML = (
    "<annotation><filename>img.png</filename><size><width>96</width><height>64</height></size>"
    "<object><name>cat</name><bndbox><xmin>10</xmin><ymin>8</ymin><xmax>40</xmax><ymax>50</ymax>"
    "</bndbox></object>\n<object><name>dog</name><bndbox><xmin>60</xmin><ymin>20</ymin>"
    "<xmax>110</xmax><ymax>60</ymax></bndbox></object></annotation>\n"
)


@pytest.fixture
def voc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dataset "voc": img (with Annotations/img.xml, the dog box past the right edge),
    bare (no annotation), broken (malformed XML)."""
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    rgb = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    for stem in ("img", "bare", "broken"):
        Image.fromarray(rgb).save(root / "JPEGImages" / f"{stem}.png")
    (root / "Annotations" / "img.xml").write_text(XML)
    (root / "Annotations" / "broken.xml").write_text("<annotation>\n<object>\n</annotation>\n")
    monkeypatch.setenv("SALIENCY_DATA_DIR", str(root))
    return root


def page(stem: str) -> AppTest:
    """The page on ``stem`` of "voc", the detector waiting for a weights file (not run)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(PAGE)
    at.session_state["augment_dataset"] = "voc"
    at.session_state["augment_image"] = stem
    at.session_state["augment_weights"] = WeightSource.FILE
    return at.run()


def captions(at: AppTest) -> list[str]:
    """The captions of the images shown."""
    return [caption for image in at.image for caption in image.captions]


def test_read_boxes_clips_to_the_image_and_scales_to_the_shown_size():
    annotated = preview.read_boxes(XML.encode(), "img.xml", (32, 48))  # shown at half size
    np.testing.assert_allclose(annotated.boxes, [[5, 4, 20, 25], [30, 10, 48, 30]])
    assert annotated.labels == ("cat", "dog")
    assert annotated.notices == (
        "img.xml:2: object 2 'dog': box (60, 20, 110, 60) outside the 96×64 image; "
        "clipped to (60, 20, 96, 60).",
    )


def test_the_preview_draws_a_chosen_sub_policy_and_draws_again(voc):
    at = page("img")
    assert not at.exception, at.exception
    assert "Enter the path of a state-dict file" in at.info[0].value
    assert any("clipped to (60, 20, 96, 60)" in el.value for el in at.info)
    assert "Before: 2 boxes" in captions(at)
    # v3's first sub-policy: Posterize (0.8, level 2) then TranslateX_BBox by ±200 px (always):
    # both boxes leave the 96 px wide image
    at.selectbox(key="augment_sub_policy_v3").set_value(0).run()
    image = np.asarray(Image.open(voc / "JPEGImages" / "img.png"))
    annotated = preview.read_boxes(XML.encode(), "img.xml", image.shape[:2])
    expected = preview.transform(image, annotated, "v3", 0, 0)
    steps = ", ".join(step.describe() for step in expected.draw.steps)
    assert [(s.operation.name, abs(s.magnitude)) for s in expected.draw.steps][-1] == (
        "TranslateX_BBox",
        200,
    )
    assert f"After sub-policy 1: {steps}" in captions(at)
    assert "Left the image and dropped with their boxes: cat, dog." in [el.value for el in at.info]
    at.button(key="augment_redraw").click().run()
    assert at.number_input(key="augment_policy_seed").value == 1
    redrawn = preview.transform(image, annotated, "v3", 1, 0)
    steps = ", ".join(step.describe() for step in redrawn.draw.steps)
    assert f"After sub-policy 1: {steps}" in captions(at)
    at.selectbox(key="augment_policy").set_value("v0").run()
    assert not at.exception
    assert any(text.startswith("After sub-policy ") for text in captions(at))


def test_without_an_annotation_the_page_says_how_to_get_one(voc):
    at = page("bare")
    assert not at.exception
    assert NO_ANNOTATION.format(stem="bare") in [el.value for el in at.info]
    assert not any(text.startswith("Before:") for text in captions(at))


def test_a_malformed_annotation_is_named_with_its_line(voc):
    at = page("broken")
    assert not at.exception
    [warning] = at.warning
    assert (
        warning.value == f"{voc / 'Annotations' / 'broken.xml'}:3:3: malformed XML (mismatched tag)"
    )
