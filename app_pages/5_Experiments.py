"""Experiments: the fine-tuning experiment's table, accuracy against agreement, training curves."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from saliency_core.data import datasets
from ui import experiments, tables
from ui.errors import guarded
from ui.report import folders

KEY = "experiments"
EXPLORE = "app_pages/1_Explore.py"
COMMAND = (
    "saliency experiment --dataset DATA --out {root}/NAME --detector NAME "
    "--arms none,erase,transform --seeds 0,1,2"
)


def pick_experiment(root: Path) -> Path | None:
    found = [str(path) for path in experiments.find_experiments(root)]
    st.sidebar.header("Experiment folder")
    if not found:
        st.info(
            f"No experiment folder under {root} (${folders.RESULTS_DIR_VARIABLE}). Run "
            f"`{COMMAND.format(root=root)}` and reload.",
            icon=":material/info:",
        )
        return None
    chosen = st.sidebar.selectbox(
        f"Found under {root}",
        found,
        key=f"{KEY}_folder",
        format_func=lambda path: str(Path(path).relative_to(root)),
    )
    return Path(chosen)


def table_section(exp: experiments.Experiment) -> None:
    st.subheader("Accuracy and agreement per arm")
    st.caption(
        "Mean over seeds with its 95% Student-t interval (ci_low, ci_high); mAP on the test "
        "split, agreement = the mean over the test images of the model's CAM against each "
        "reference. The first row is the model before fine-tuning."
    )
    tables.show(exp.table, hide_index=True)


def pareto_section(exp: experiments.Experiment) -> None:
    st.subheader("More human-like without losing accuracy?")
    columns = exp.agreement_columns
    if not columns:
        st.info("The scored models have no agreement values to plot.", icon=":material/info:")
        return
    pairs = [experiments.split_column(column) for column in columns]
    left, middle, right = st.columns(3)
    metrics = list(dict.fromkeys(m for m, _ in pairs))
    metric = left.selectbox("Agreement metric", metrics, key=f"{KEY}_metric")
    references = [r for m, r in pairs if m == metric]
    reference = middle.selectbox("Reference", references, key=f"{KEY}_reference")
    accuracy = right.selectbox(
        "Accuracy",
        list(experiments.ACCURACY_LABELS),
        format_func=experiments.ACCURACY_LABELS.get,
        key=f"{KEY}_accuracy",
    )
    column = f"{metric}{experiments.SEP}{reference}"
    st.plotly_chart(experiments.pareto_figure(exp.results, column, accuracy))


def curves_section(exp: experiments.Experiment) -> None:
    st.subheader("Training")
    if exp.losses.empty and exp.validation.empty:
        st.info("No run has a training log yet.", icon=":material/info:")
        return
    left, right = st.columns(2)
    if not exp.losses.empty:
        left.plotly_chart(
            experiments.curve_figure(exp.losses, "iteration", "loss", "Training loss per step")
        )
    if not exp.validation.empty:
        right.plotly_chart(
            experiments.curve_figure(exp.validation, "epoch", "map", "Validation mAP per epoch")
        )


def explore_section(exp: experiments.Experiment) -> None:
    st.subheader("Open in Explore")
    links = experiments.explore_links(exp, datasets.all_datasets())
    if not links:
        st.caption("No run has a final model yet.")
    for link in links:
        if link.query:
            st.page_link(
                EXPLORE,
                label=f"{link.run}: its maps beside the model it started from",
                icon=":material/search:",
                query_params=link.query,
            )
        else:
            st.caption(f"{link.run}: cannot open in Explore: {link.why_not}.")


def main() -> None:
    st.title("Experiments")
    st.caption(
        "Fine-tuning on human-centred augmentations: each arm's mAP next to its agreement with "
        "human attention, over seeds, against the model before fine-tuning."
    )
    root = folders.results_dir()
    path = pick_experiment(root)
    if path is None:
        return
    exp = experiments.load(path)
    st.caption(f"{path} · {len(exp.results)} model(s) scored")
    for line in exp.missing:
        st.info(f"Not in the table yet: {line}.", icon=":material/hourglass_empty:")
    if exp.results.empty:
        st.info("No model is scored yet: the table and the plot follow.", icon=":material/info:")
    else:
        with guarded("The table"):
            table_section(exp)
        with guarded("The accuracy-agreement plot"):
            pareto_section(exp)
    with guarded("The training curves"):
        curves_section(exp)
    with guarded("The Explore links"):
        explore_section(exp)


main()
