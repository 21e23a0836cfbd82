"""What the Explore page shows and exports: metric cells, the metrics CSV, the grid PNG."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from saliency_core import agreement, analysis


def test_undefined_cells_read_n_a_and_no_value_prints_negative_zero():
    assert agreement.format_value(float("nan")) == "n/a"
    assert agreement.format_value(None) == "n/a"
    assert agreement.format_value(-0.0004) == "0.000"
    assert agreement.format_value(-0.0) == "0.000"
    assert agreement.format_value(-0.0006) == "-0.001"
    assert agreement.format_value(0.12345) == "0.123"
    long = pd.DataFrame(
        [
            ["cam", "fixations", "IG", -0.0002, True, None],
            ["cam", "fixations", "sAUC", float("nan"), True, "no other fixations"],
        ],
        columns=agreement.COLUMNS,
    )
    summary = agreement.widen(long)
    html = summary.styled().to_html()
    assert ">0.000<" in html and ">n/a<" in html
    assert "-0.000" not in html and "None" not in html and "nan" not in html.lower()
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
    text = analysis.csv_text(table)
    assert "-0" not in text
    back = pd.read_csv(io.StringIO(text))
    assert back["value"].iloc[0] == 0.0 and not np.signbit(back["value"].iloc[0])
    assert np.isnan(back["value"].iloc[1]) and back["reason"].iloc[1] == "no other fixations"
    assert back["value"].iloc[2] == 0.25 and pd.isna(back["reason"].iloc[2])
    assert "a,sAUC,NaN,no other fixations" in text
