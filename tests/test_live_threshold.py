"""The live top-p% slider's data (ui.live_threshold) and its script's masks, IoU and pictures,
run in a real headless Chromium against the library's (agreement.RankedMap, viz)."""

from __future__ import annotations

import base64
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from saliency_core import viz
from saliency_core.scoring import agreement, metrics
from saliency_core.study import TIE_POLICIES, TIES_INCLUDE, TIES_NO_OVERSHOOT
from ui import live_threshold, matrix

SCRIPT = Path(live_threshold.__file__).with_suffix(".js")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def test_ranks_are_competition_ranks_in_decreasing_order():
    ranked = agreement.RankedMap(np.array([[0.5, 0.2], [0.5, 0.9]]))
    rank = live_threshold.ranks(ranked)
    assert rank.dtype == np.uint16 and rank.tolist() == [1, 3, 1, 0]  # ties share rank 1
    big = agreement.RankedMap(np.zeros((257, 256)))
    assert live_threshold.ranks(big).dtype == np.uint32  # 65,792 pixels > 2**16


def test_every_library_mask_is_rank_below_its_size():
    """The design's claim: under either tie rule the mask holds the K top-ranked pixels, K its
    size (K always ends a block of ties), so ``rank < K`` is the mask."""
    rng = np.random.default_rng(0)
    maps = {
        "ties": rng.integers(0, 5, (30, 40)) / 4.0,
        "relu": np.maximum(rng.random((30, 40)) - 0.8, 0),
        "flat": np.full((30, 40), 0.3),
        "smooth": rng.random((30, 40)),
    }
    for values in maps.values():
        ranked = agreement.RankedMap(values)
        rank = live_threshold.ranks(ranked).reshape(values.shape)
        for ties in TIE_POLICIES:
            for percent in (0.5, 1, 10, 17.5, 25, 50, 80, 100):
                library = ranked.mask(percent, ties)
                np.testing.assert_array_equal(rank < library.sum(), library)


def test_sorted_values_stay_float32_only_when_lossless():
    assert live_threshold.sorted_values(agreement.RankedMap(np.array([0.5, 0.25]))).dtype == (
        np.float32
    )
    assert live_threshold.sorted_values(agreement.RankedMap(np.array([0.1, 0.2]))).dtype == (
        np.float64
    )


def test_pack_and_unpack():
    data = live_threshold.pack({"id": "x"}, [b"abc", b"de"])
    assert data[:4] == b"LTP1"
    header, sections = live_threshold.unpack(data)
    assert header == {"id": "x", "sections": [[0, 3], [3, 2]]} and sections == [b"abc", b"de"]
    with pytest.raises(ValueError, match="not a live-threshold message"):
        live_threshold.unpack(b"PNG" + data)


def test_over_budget_names_the_maps_and_the_budget():
    assert live_threshold.over_budget((512, 512, 3), 16) is None
    assert live_threshold.over_budget((1024, 768), 6) == (
        "6 maps of 768×1024 px are more than the live slider takes (4,194,304 map pixels)"
    )


def tiny_payload() -> tuple[np.ndarray, dict[str, agreement.RankedMap]]:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    ranked = {
        "cam": agreement.RankedMap(np.array([[0, 0, 1, 2]] * 3, np.float32)),
        "ref": agreement.RankedMap(rng.random((3, 4))),
    }
    return rgb, ranked


def test_payload_holds_the_image_ranks_and_sorted_values():
    rgb, ranked = tiny_payload()
    payload = live_threshold.payload(rgb, ranked)
    header, sections = payload.header, payload.sections
    assert (header["width"], header["height"], header["image"]) == (4, 3, 0)
    assert zlib.decompress(sections[0]) == rgb.tobytes()
    cam, ref = header["maps"]
    assert cam == {
        "name": "cam",
        "ranks": [1, "uint16"],
        "sorted": [2, "float32"],
        "constant": False,
        "above_minimum": 6,  # six pixels above the minimum 0
    }
    assert np.frombuffer(zlib.decompress(sections[1]), np.uint16).tolist() == [6, 6, 3, 0] * 3
    assert ref["sorted"] == [4, "float64"]
    assert header["tints"][3] == [0.25, 0.75, [255.0, 221.0, 0.0]]  # yellow: in both
    again = live_threshold.payload(rgb, ranked)
    assert again.id == payload.id and len(payload.id) == 16
    other = live_threshold.payload(rgb[::-1].copy(), ranked)
    assert other.id != payload.id


def test_payload_refuses_a_map_of_another_shape():
    rgb, ranked = tiny_payload()
    with pytest.raises(ValueError, match=r"cam: map shape \(3, 4\) is not the image's"):
        live_threshold.payload(rgb[:2], ranked)


def test_the_message_carries_the_payload_only_when_asked():
    rgb, ranked = tiny_payload()
    payload = live_threshold.payload(rgb, ranked)
    control = live_threshold.Control(12.5, "ref", TIES_INCLUDE, [("CAMs", [("cam", "c")])], 2)
    light, sections = live_threshold.unpack(live_threshold.message(control, payload, False))
    assert sections == [] and "payload" not in light
    assert light["id"] == payload.id and light["percent"] == 12.5 and light["ties"] == "include"
    assert (
        light["rows"] == [["CAMs", [["cam", "c"]]]]
        and light["suffix"] == " · top {p}% vs {reference}"
    )
    heavy, sections = live_threshold.unpack(live_threshold.message(control, payload, True))
    assert heavy["payload"] == payload.header and tuple(sections) == payload.sections
    with pytest.raises(ValueError, match="ties must be one of"):
        live_threshold.Control(10, "ref", "all", [], 2).header("x")


def test_control_rows_drop_the_suffix_the_browser_rewrites():
    cells = (None, matrix.Cell("GradCAM @ layer", matrix.MAP, "g"))
    rows = [matrix.Row("FCOS", cells)]
    shown = matrix.agreement_rows(rows, "DeepGaze", 12.5, constant={"g"})
    assert shown[0].title == "FCOS · top 12.5% vs DeepGaze"
    assert live_threshold.control_rows(shown, 12.5, "DeepGaze") == [
        ("FCOS", [None, ("g", "GradCAM @ layer · constant map")])
    ]


# --- the script in a real browser -------------------------------------------------------------

RUN_JS = """async ([source, message, reference, percents, ties, pictures]) => {
  const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
  const lt = await import(url);
  const bytes = Uint8Array.from(atob(message), (c) => c.charCodeAt(0));
  const {header, sections} = lt.parseMessage(bytes);
  const payload = await lt.decodePayload(header.payload, sections);
  const out = {};
  for (const p of percents) {
    for (const rule of ties) {
      const table = lt.agreementTable(payload, reference, p, rule, header.reasons);
      for (const name of payload.maps.keys()) {
        const map = payload.maps.get(name);
        const row = table[name];
        out[`${name}|${p}|${rule}`] = {
          mask: lt.mask(map, p, rule).join(""),
          iou: Number.isNaN(row.value) ? null : row.value,
          reason: row.reason, share: row.share, flag: lt.cut(map, p, rule).flag,
        };
      }
    }
  }
  for (const [name, p, rule] of pictures) {
    const picture = lt.agreementPicture(payload, name, reference, p, rule);
    out[`picture ${name}|${p}|${rule}`] = Array.from(picture);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def page():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = chromium.new_page()
        page.set_content("<html><body></body></html>")
        yield page
        chromium.close()


def run_script(page, rgb, ranked, reference, percents, pictures=()):
    payload = live_threshold.payload(rgb, ranked)
    control = live_threshold.Control(10, reference, TIES_NO_OVERSHOOT, [], 2)
    message = base64.b64encode(live_threshold.message(control, payload, True)).decode()
    args = [SCRIPT.read_text(), message, reference, percents, list(TIE_POLICIES), pictures]
    return page.evaluate(RUN_JS, args)


def check_against_library(shown, ranked, reference, percents):
    """Masks pixel for pixel, IoU to 1e-9 (NaN with the library's reason), share and flag."""
    masks = {}
    for percent in percents:
        for ties in TIE_POLICIES:
            masks = agreement.top_masks(ranked, percent, ties)
            table = agreement.masks_iou_table(ranked, {reference: ranked[reference]}, masks)
            table = table.set_index("map")
            for name, values in ranked.items():
                got = shown[f"{name}|{percent}|{ties}"]
                expected = "".join("1" if v else "0" for v in masks[name].ravel())
                assert got["mask"] == expected, (name, percent, ties)
                assert got["share"] == values.selected_share(percent, ties)
                assert got["flag"] == (values.flag(percent) is not None)
                if name == reference:
                    continue
                row = table.loc[name]
                if math.isnan(row["value"]):
                    assert got["iou"] is None and got["reason"] == row["reason"]
                else:
                    assert got["iou"] == pytest.approx(row["value"], abs=1e-9, rel=0)


@pytest.mark.browser
def test_the_scripts_masks_iou_and_pictures_are_the_librarys(page):
    rng = np.random.default_rng(7)
    shape = (30, 40)
    binary = np.zeros(shape, np.float32)
    binary[5:20, 10:30] = 1.0  # 25% of the pixels, all tied at the maximum
    ranked = {
        name: agreement.RankedMap(values)
        for name, values in {
            "ties": (rng.integers(0, 5, shape) / 4.0).astype(np.float32),
            "relu": np.maximum(rng.random(shape) - 0.8, 0),
            "flat": np.full(shape, 0.3, np.float32),
            "binary": binary,
            "ref": rng.random(shape),
        }.items()
    }
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    percents = [0, 0.5, 1, 2.5, 7.3, 10, 20, 25, 33.3, 50, 80, 100]
    pictures = [["ties", 10, TIES_NO_OVERSHOOT], ["relu", 33.3, TIES_INCLUDE]]
    shown = run_script(page, rgb, ranked, "ref", percents, pictures)
    check_against_library(shown, ranked, "ref", percents)
    assert shown["flat|10|no-overshoot"]["reason"] == metrics.CONSTANT_MAP
    assert shown["ties|0|include"]["reason"] == metrics.EMPTY_MASK
    paint = viz.AgreementPainter(rgb)
    for name, percent, ties in pictures:
        packed = np.array(shown[f"picture {name}|{percent}|{ties}"], np.uint32)
        drawn = packed.view(np.uint8).reshape(*shape, 4)
        assert (drawn[..., 3] == 255).all()
        expected = paint(ranked[name].mask(percent, ties), ranked["ref"].mask(percent, ties))
        np.testing.assert_array_equal(drawn[..., :3], expected)


@pytest.mark.browser
def test_the_script_reads_uint32_ranks_and_float64_values(page):
    """A map of more than 65,536 pixels (uint32 ranks) whose values need float64, against a
    binary reference (ties at its maximum)."""
    rng = np.random.default_rng(3)
    shape = (260, 256)
    reference = np.zeros(shape)
    reference[:100] = 1.0
    ranked = {"cam": agreement.RankedMap(rng.random(shape)), "ref": agreement.RankedMap(reference)}
    payload = live_threshold.payload(np.zeros((*shape, 3), np.uint8), ranked)
    assert [m["ranks"][1] for m in payload.header["maps"]] == ["uint32", "uint32"]
    percents = [3.7, 42.5]
    shown = run_script(page, np.zeros((*shape, 3), np.uint8), ranked, "ref", percents)
    check_against_library(shown, ranked, "ref", percents)
    assert json.dumps(shown["cam|42.5|include"]["iou"]) != "null"
