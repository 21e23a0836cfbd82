"""The Dataset report of a readout experiment folder (``saliency readout-experiment``): its runs,
the tidy table's means, and the accuracy vs. agreement area with its two views, named apart —
:data:`~ui.readout_report.READOUT_VIEW` (the experiment) and
:data:`~ui.readout_report.CAM_VIEW` (the backbones' own CAMs, scored beside the readouts)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from saliency_core.train import readout_experiment
from ui import readout_report
from ui.classifier_view import accuracy_section

KEY = "report_readout"


def experiment_report(root: Path) -> None:
    table, images, manifest = readout_experiment.read_experiment(root)
    plan = manifest.get("plan", {})
    st.subheader("Readout experiment (Oyama & Yamanaka 2018)")
    st.caption(
        f"Readouts trained on {plan.get('dataset_name', '?')} ({len(manifest.get('runs', []))} "
        "runs: backbone × weights × kind × seed), each scored on its held-out test split"
        + (" and on " + ", ".join(n for n, _ in plan.get("test_datasets", [])))
        * bool(plan.get("test_datasets"))
        + " with the MIT metrics, beside the centre-bias floor, DeepGaze IIE and the human "
        "ceiling. Files: table.csv / table.parquet (tidy), images.parquet, manifest.json."
    )
    for notice in manifest.get("notices", []):
        st.caption(f"ℹ️ {notice}")
    means = table.pivot_table(
        index=["test_dataset", "model", "backbone", "weights", "kind"],
        columns="metric",
        values="value",
        aggfunc="mean",
        sort=False,
    ).reset_index()
    st.dataframe(means, hide_index=True, key=f"{KEY}_table")
    st.subheader("Accuracy vs. agreement")
    readout_section(table, images)
    cams, accuracy = readout_experiment.cam_tables(root)
    if cams.empty:
        st.caption(f"{readout_report.CAM_VIEW}: the experiment scored no CAMs (--no-cams).")
    else:
        accuracy_section(cams, {"classifier_accuracy": accuracy}, heading=False)


def readout_section(table, images) -> None:
    st.markdown(f"#### {readout_report.READOUT_VIEW}")
    left, middle, right = st.columns(3)
    metric = left.selectbox("Test metric", readout_report.metric_choices(table), key=f"{KEY}_m")
    test = middle.selectbox("Tested on", list(dict.fromkeys(table["test_dataset"])), key=f"{KEY}_t")
    kind = right.selectbox("Readout", list(dict.fromkeys(table["kind"])), key=f"{KEY}_k")
    points = readout_report.readout_points(table, metric, test, kind)
    lines = readout_report.reference_lines(table, metric, test, kind)
    st.plotly_chart(
        readout_report.readout_figure(points, lines, metric), width="stretch", key=f"{KEY}_plot"
    )
    found = readout_report.correlations(images, table, metric, test, kind)
    st.caption(readout_report.correlation_caption(found))
    st.caption(
        "x: the ImageNet-1K top-1 accuracy of the backbone's weights; y: the test metric of "
        "readouts trained on its features (mean over seeds). Untrained backbones, left, have no "
        "accuracy and are not in the correlations."
    )
