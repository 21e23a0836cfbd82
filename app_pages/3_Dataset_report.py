"""Dataset report: a run's summary table, charts and failure-mode gallery; or start a run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from saliency_core.data import csvfiles, datasets, roots
from saliency_core.evaluate import summary
from saliency_core.evaluate.store import ResultsError, ResultsFolder
from saliency_core.scoring import temporal
from saliency_core.settings import Settings
from saliency_core.train import readout_experiment
from ui import charts, progress, readout_view, results, run_panel, tables
from ui.classifier_view import accuracy_section
from ui.errors import guarded
from ui.errors import report as report_error
from ui.report import figures, folders, gallery, links, summary_table, thumbnails

KEY = "report"
FOLDER = f"{KEY}_folder"
EXPLORE = "app_pages/1_Explore.py"
PER_PAGE = 8


# --- choosing a results folder ---------------------------------------------------------------


def pick_folder(root: Path) -> ResultsFolder | None:
    """Sidebar: a results folder under ``root``, or any path typed in."""
    side = st.sidebar
    side.header("Results folder")
    found = [str(path) for path in folders.find_results_folders(root)]
    if (chosen := run_panel.take_chosen(found)) is not None:  # a run started here
        st.session_state[FOLDER] = chosen
    if st.session_state.get(FOLDER) not in found:
        st.session_state.pop(FOLDER, None)
    listed = None
    if found:
        listed = side.selectbox(
            f"Found under {root}",
            found,
            key=FOLDER,
            format_func=lambda path: _relative(Path(path), root),
        )
    typed = side.text_input(
        "Or a results folder path",
        key=f"{KEY}_path",
        help=f"A folder written by a run, under {root} (${folders.RESULTS_DIR_VARIABLE}); its "
        f"dataset must lie under ${datasets.DATA_DIR_VARIABLE} or be the sample set. Folders "
        f"elsewhere are refused unless the app was started with {roots.OPT_IN}.",
    )
    path = Path(typed).expanduser() if typed.strip() else (Path(listed) if listed else None)
    if path is None:
        return None
    try:
        return folders.open_results_folder(path, root)
    except ValueError as error:  # outside the root, or no manifest: the message says which
        st.error(str(error), icon=":material/warning:")
    except OSError as error:  # e.g. a path too long for the file system: named, page goes on
        report_error(error, "The results folder")
        return None


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


# --- the report ------------------------------------------------------------------------------


def run_header(folder: ResultsFolder, table, settings: Settings) -> None:
    manifest = folder.manifest()
    images = table["image"].nunique() if len(table) else 0
    errors = folder.errors()
    outcome = folders.run_outcome(manifest, images, errors)
    status = outcome.text() if outcome else manifest.get("status", "unknown")
    st.caption(
        f"{folder.root} · dataset {manifest.get('dataset', '?')} · {images} of "
        f"{manifest.get('images', '?')} images · status: {status} · device "
        f"{manifest.get('device', '?')}"
    )
    if outcome is None:
        st.info(
            "This run is still going (or was interrupted): the report shows the images finished "
            "so far. Rerunning the same command resumes it.",
            icon=":material/info:",
        )
    elif outcome.advice():
        show, icon = run_panel.OUTCOME_BOX[outcome.status]
        show(f"Run {outcome.text()}. {outcome.advice()}", icon=icon)
    st.caption(
        f"Detectors: {', '.join(settings.detectors) or 'none'} ({settings.weights.value}) · "
        f"CAMs: {', '.join(settings.cams) or 'none'} · "
        + (
            f"classifiers: {', '.join(settings.classifiers)} "
            f"({settings.classifier_weights.value}; {', '.join(settings.classifier_methods)}) · "
            if settings.classifiers
            else ""
        )
        + "references: "
        f"{', '.join(settings.references)} · top-p%: {settings.top_percent:g}"
    )
    if len(table) and not table["trained"].all():
        st.warning(
            "Some maps come from UNTRAINED (random) weights: a sanity-check baseline, not a "
            "result.",
            icon=":material/warning:",
        )
    if len(errors):
        with st.expander(f"{len(errors)} image(s) skipped with an error"):
            st.dataframe(errors, hide_index=True)


def notices_section(folder: ResultsFolder) -> None:
    """The run's notices: what each image's results leave out or changed, and why."""
    notices = folder.notices()
    if len(notices):
        with st.expander(f"Notices ({len(notices)})"):
            st.caption(
                "What the results leave out or changed, per image (e.g. fixation rows without "
                "x/y, an optional analysis that could not run, a resized mask): notices.csv."
            )
            st.dataframe(notices, hide_index=True, width="stretch", key=f"{KEY}_notices")


def summary_section(long, table, settings: Settings) -> None:
    st.subheader("Summary")
    view = summary_table.summary_table(long, summary_table.map_labels(table))
    if view.values.empty:
        st.info("No rows yet: the run has not finished any image.")
        return
    show_ci = st.toggle("Show the 95% bootstrap CIs", key=f"{KEY}_ci")
    shown = view.with_ci() if show_ci else view.values.copy()
    row_notes = summary_table.row_notes(view, table)
    if any(row_notes):  # last: the numbers are read first, a note says why one is missing
        shown["notes"] = row_notes
    styler = tables.styled(shown, view.metric_columns)
    styler = styler.apply(
        lambda _: view.best.map(lambda best: "background-color: #c8f0c8" if best else ""),
        axis=None,
        subset=view.metric_columns,
    )
    st.dataframe(styler, hide_index=True, width="stretch")
    lower = sorted({c.split(" vs ")[0] for c, h in view.higher_is_better.items() if not h})
    st.caption(
        "Means over images (click a column to sort). Green: the best map in each column. The "
        "floor row (the centre-bias prior, which knows nothing of the image) is what every score "
        f"is read against. Lower is better for {', '.join(lower) or 'none'}; higher for the rest."
        + (" Hover a note to read it whole." if any(row_notes) else "")
    )
    for note in summary_table.ceiling_notes(table):
        st.caption(f"⚠️ {note}")
    for note in summary_table.reference_notes(settings):
        st.caption(note)
    notes = summary_table.undefined_notes(table)
    if notes:
        with st.expander(f"Why some values are {tables.NOT_AVAILABLE}"):
            for note in notes:
                st.caption(note)


def charts_section(table, curves) -> None:
    st.subheader("Per-image distributions")
    choices = figures.metric_choices(table)
    left, middle, right = st.columns(3)
    reference = left.selectbox("Reference", list(choices), key=f"{KEY}_chart_ref")
    metric = middle.selectbox("Metric", choices[reference], key=f"{KEY}_chart_metric")
    style = right.radio("Plot", ["box", "violin"], horizontal=True, key=f"{KEY}_chart_style")
    st.plotly_chart(
        figures.distribution_figure(table, reference, metric, style),
        width="stretch",
        key=f"{KEY}_distribution",
    )
    if curves.empty:
        return
    st.subheader("Mean IoU vs. top-p%")
    keys = list(dict.fromkeys(curves["reference_key"]))
    curve_ref = st.selectbox("Against", keys, key=f"{KEY}_curve_ref")
    st.plotly_chart(figures.mean_curve_figure(curves, curve_ref), width="stretch", key=f"{KEY}_iou")


def time_objects_section(root: str, fingerprint: str) -> None:
    st.subheader("Time and objects")
    times = results.time_tables(root, fingerprint)
    if times is None:
        st.info(
            "No agreement over time in this run: its fixations carry no onset times "
            "(onset_s), or the run predates the onset-window tables."
        )
    else:
        curves, counts = times
        metric = st.selectbox("Metric over time", temporal.TIME_METRICS, key=f"{KEY}_time_metric")
        st.plotly_chart(
            charts.dataset_time_figure(curves, metric), width="stretch", key=f"{KEY}_time"
        )
        st.plotly_chart(
            charts.peak_time_figure(counts, metric), width="stretch", key=f"{KEY}_peaks"
        )
    ratios = results.class_ratios(root, fingerprint)
    if ratios.empty:
        st.info(
            "No region shares in this run: no detector box reached the score threshold on an "
            "image with fixations (or the run predates the region tables)."
        )
        return
    map_label = st.selectbox("Map", list(dict.fromkeys(ratios["map"])), key=f"{KEY}_class_map")
    st.plotly_chart(
        charts.class_ratio_figure(ratios, map_label), width="stretch", key=f"{KEY}_classes"
    )
    st.caption(
        "Per detected class, the mean ratio of the map's share of a box to people's share "
        "(fixation counts): > 1 the model over-weights the class relative to people."
    )


def gallery_section(folder: ResultsFolder, table, settings: Settings) -> None:
    st.subheader("Failure-mode gallery")
    st.caption("Worst images first for one map, reference and metric.")
    maps = summary_table.map_labels(table)["map"].tolist()
    choices = figures.metric_choices(table)
    pick_map, pick_ref, pick_metric = st.columns(3)
    map_label = pick_map.selectbox("Map", maps, key=f"{KEY}_gallery_map")
    rows = table[table["map"] == map_label]
    refs = [key for key in choices if key in set(rows["reference_key"])]
    reference = pick_ref.selectbox("Reference", refs, key=f"{KEY}_gallery_ref")
    metrics = [m for m in choices[reference] if m in set(rows["metric"])]
    metric = pick_metric.selectbox("Metric", metrics, key=f"{KEY}_gallery_metric")
    ranked = gallery.rank_images(table, map_label, reference, metric)
    tags = gallery.tag_lists(folder.tags())
    # widgets whose bounds depend on the choice are keyed by it (a stale value never clashes)
    scope = hashlib.sha1(f"{map_label}|{reference}|{metric}".encode()).hexdigest()[:10]
    selected = _gallery_filters(ranked, tags, scope)
    if selected.empty:
        st.info("No image matches these filters: widen the value range or clear the tag filter.")
        return
    pages = gallery.page_count(len(selected), PER_PAGE)
    page = st.columns(4)[0].number_input(
        f"Page (of {pages}, {len(selected)} images)",
        1,
        pages,
        1,
        key=f"{KEY}_gallery_page_{scope}_{pages}",
    )
    shown = gallery.page_of(selected, int(page), PER_PAGE)
    manifest = folder.manifest()
    run_data = folders.run_dataset(manifest, _datasets())
    identity = thumbnails.MapIdentity.of(table, map_label)
    metric_rows = rows[(rows["metric"] == metric) & (rows["reference_key"] == reference)]
    percent = metric_rows["top_percent"].dropna()
    percent = float(percent.iloc[0]) if len(percent) else settings.top_percent
    better = figures.direction(bool(metric_rows["higher_is_better"].iloc[0]))
    pictures = run_data.dataset is not None
    if not pictures:
        st.warning(f"{run_data.missing} Values only, no pictures.", icon=":material/warning:")
    else:
        st.caption(
            f"Top {percent:g}% agreement: yellow both · red the map only · blue the reference "
            f"only. {metric}: {better}."
        )
        try:
            progress.fetch_weights(thumbnails.map_settings(settings, identity, reference))
        except Exception as error:  # noqa: BLE001 - shown once; the values are still listed
            report_error(error, "Loading the models for the gallery's pictures")
            pictures = False
    columns = st.columns(4)
    for index, row in enumerate(shown.itertuples(index=False)):
        with columns[index % 4]:
            item = GalleryItem(row, identity, reference, metric, percent)
            _gallery_item(folder, item, run_data, settings, pictures)


def _datasets() -> dict[str, datasets.Dataset]:
    try:
        return datasets.all_datasets()
    except datasets.DatasetError:
        return {datasets.SAMPLE_NAME: datasets.sample_dataset()}


def _gallery_filters(ranked, tags, scope: str) -> object:
    values = ranked["value"].dropna().astype(float)
    left, middle, right = st.columns([2, 1, 2])
    value_range = None
    if len(values) and values.min() < values.max():
        low, high = float(values.min()), float(values.max())
        step = gallery.slider_step(low, high)
        value_range = left.slider(
            "Value range",
            low,
            high,
            (low, high),
            step=step,
            key=f"{KEY}_gallery_range_{scope}",
            format=gallery.slider_format(step),
        )
    include = middle.checkbox(
        f"Include {tables.NOT_AVAILABLE}",
        True,
        key=f"{KEY}_gallery_na",
        help="Images without a value.",
    )
    wanted = right.multiselect(
        "Only images tagged", gallery.all_tags(tags), key=f"{KEY}_gallery_tags"
    )
    return gallery.filter_images(ranked, value_range, include, tags, wanted)


def _tag_key(folder: ResultsFolder, stem: str) -> str:
    digest = hashlib.sha1(str(folder.root.resolve()).encode()).hexdigest()[:10]
    return f"{KEY}_tag_{digest}_{stem}"


def _save_tags(folder: ResultsFolder, stem: str, key: str) -> None:
    folder.set_tags(stem, ", ".join(gallery.parse_tags(st.session_state[key])))


@dataclass(frozen=True)
class GalleryItem:
    """One ranked image (rank, image, value, reason) and what its picture shows."""

    row: Any
    identity: thumbnails.MapIdentity
    reference: str
    metric: str
    percent: float


def _gallery_item(
    folder: ResultsFolder,
    item: GalleryItem,
    run_data: folders.RunDataset,
    settings: Settings,
    pictures: bool,
) -> None:
    row = item.row
    value = tables.format_value(row.value)
    if value == tables.NOT_AVAILABLE and isinstance(row.reason, str) and row.reason:
        value += f" ({row.reason})"
    if pictures:
        with guarded(f"The picture of {row.image}"):
            picture = results.thumbnail(
                run_data.dataset.name,
                str(run_data.dataset.root),
                row.image,
                settings.to_json(),
                item.identity,
                item.reference,
                item.percent,
            )
            st.image(picture.picture, width="stretch")
    st.markdown(f"**#{row.rank} · {row.image}** — {item.metric} = {value}")
    key = _tag_key(folder, row.image)
    if key not in st.session_state:
        st.session_state[key] = ", ".join(gallery.tag_lists(folder.tags()).get(row.image, ()))
    st.text_input(
        "Tags",
        key=key,
        on_change=_save_tags,
        args=(folder, row.image, key),
        placeholder="e.g. clutter, text, small object",
    )
    if run_data.listed:
        st.page_link(
            EXPLORE,
            label="Open in Explore",
            icon=":material/search:",
            query_params=links.explore_query(run_data.dataset.name, row.image, settings),
        )
        for note in links.explore_settings(settings)[1]:
            st.caption(note)
    elif run_data.dataset is not None:
        st.caption(f"List this dataset with {datasets.DATA_DIR_VARIABLE} to open it in Explore.")


def downloads_section(folder: ResultsFolder, table, long, fingerprint: str) -> None:
    st.subheader("Downloads")
    stem = folder.root.name
    root = str(folder.root)
    files = (  # (button, builds the bytes when clicked, file name, MIME type, key)
        (
            "Per-image table (CSV)",
            lambda: csvfiles.csv_text(table),
            "metrics.csv",
            "text/csv",
            "csv",
        ),
        (
            "Per-image table (Parquet)",
            lambda: results.parquet_bytes(root, fingerprint),
            "metrics.parquet",
            "application/vnd.apache.parquet",
            "parquet",
        ),
        ("Summary (CSV)", lambda: csvfiles.csv_text(long), "summary.csv", "text/csv", "summary"),
        ("Summary (LaTeX)", lambda: summary.to_latex(long), "summary.tex", "text/x-tex", "latex"),
    )
    for column, (label, data, name, mime, key) in zip(st.columns(len(files)), files, strict=True):
        column.download_button(
            label, data, f"{stem}_{name}", mime, on_click="ignore", key=f"{KEY}_dl_{key}"
        )


def show_report(folder: ResultsFolder) -> None:
    if readout_experiment.is_experiment(folder.root):
        with guarded("The readout experiment"):
            readout_view.experiment_report(folder.root)
        return
    fingerprint = folders.folder_fingerprint(folder.root)
    root = str(folder.root)
    try:
        settings = folders.run_settings(folder)
    except (ResultsError, ValueError) as error:
        report_error(error, f"Reading {folder.root}")
        return
    table = results.table(root, fingerprint)
    run_header(folder, table, settings)
    with guarded("The notices"):
        notices_section(folder)
    if table.empty:
        return  # the header said what happened and what to do
    curves = results.curves(root, fingerprint)
    long = results.long_summary(root, fingerprint)
    with guarded("The summary table"):
        summary_section(long, table, settings)
    with guarded("The charts"):
        charts_section(table, curves)
    with guarded("Accuracy vs. agreement"):
        accuracy_section(table, folder.manifest())
    with guarded("Time and objects"):
        time_objects_section(root, fingerprint)
    with guarded("The gallery"):
        gallery_section(folder, table, settings)
    with guarded("The downloads"):
        downloads_section(folder, table, long, fingerprint)


def main() -> None:
    st.title("Dataset report")
    st.caption(
        "A whole dataset at once: the study's tables (mean ± 95% CI per detector and CAM "
        "method), the per-image distributions, and the images where model and people disagree "
        "most."
    )
    root = folders.results_dir()
    folder = pick_folder(root)
    with st.expander("Start a run on a dataset", expanded=folder is None), guarded("The run"):
        run_panel.run_panel(root)
    if folder is None:
        st.info(
            f"No results folder chosen. Start a run above, or run "
            f"`{run_panel.COMMAND.format(root=root)}` and reload; folders under {root} "
            f"(${folders.RESULTS_DIR_VARIABLE}) are listed in the sidebar.",
            icon=":material/info:",
        )
        return
    show_report(folder)


main()
