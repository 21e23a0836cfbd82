"""Input widgets shared by the pages: image source, detector and weight choices."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from saliency_core.data import datasets
from saliency_core.data.images import ACCEPTED_SUFFIXES, Sample, load_image, load_optional_mask
from saliency_core.models.detectors import DETECTORS, pretrained_path
from saliency_core.models.weights import WeightSource
from ui import cached
from ui.errors import guarded, report

UPLOAD_TYPES = [suffix.lstrip(".") for suffix in ACCEPTED_SUFFIXES] + [
    f"image/{kind}" for kind in ("jpeg", "png", "webp", "bmp", "tiff")
]
"""The browser's file filter. A MIME entry turns off Streamlit's server-side extension check,
whose exception (e.g. for a .gif) escaped as a redacted error box: load_image now refuses
unsupported formats by content, with a clear message."""
GALLERY_PAGE = 12
INPUT_SIZES = {"torchvision default": None, "512 px": 512, "320 px": 320}
"""The detector input sizes offered (label -> shorter side in px; None: the model's own)."""
WEIGHT_HELP = {
    WeightSource.PRETRAINED: "The official weights (torch hub cache; downloaded once).",
    WeightSource.FILE: "A state-dict file of your own (e.g. a fine-tuned or augmented model).",
    WeightSource.UNTRAINED: "Random weights: the model-randomisation sanity check.",
}


def _available_datasets() -> dict[str, datasets.Dataset]:
    try:
        scan = datasets.scan_user_datasets()
    except datasets.DatasetError as error:
        st.sidebar.warning(str(error))
        return {datasets.SAMPLE_NAME: datasets.sample_dataset()}
    for notice in scan.notices:
        st.sidebar.warning(notice)
    return {d.name: d for d in (datasets.sample_dataset(), *scan.datasets)}


def _select(key: str, stem: str) -> None:
    st.session_state[key] = stem


def _gallery(dataset: datasets.Dataset, key: str) -> None:
    """Thumbnails of one page of the dataset; a click selects the image."""
    ids = dataset.ids
    pages = max(1, -(-len(ids) // GALLERY_PAGE))
    with st.expander(f"Gallery: {dataset.name} ({len(ids)} images)", expanded=False):
        page = st.number_input("Page", 1, pages, 1, key=f"{key}_gallery_page") if pages > 1 else 1
        chunk = ids[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
        columns = st.columns(6)
        for index, stem in enumerate(chunk):
            with columns[index % 6], guarded(f"Thumbnail {stem}"):
                st.image(cached.thumbnail(dataset.name, str(dataset.root), stem), caption=stem)
                st.button(
                    "Use",
                    key=f"{key}_use_{stem}",
                    on_click=_select,
                    args=(f"{key}_image", stem),
                    width="stretch",
                )


def _from_dataset(key: str) -> Sample | None:
    available = _available_datasets()
    names = list(available)
    wanted = st.query_params.get("dataset")
    name = st.sidebar.selectbox(
        "Dataset",
        names,
        index=names.index(wanted) if wanted in names else 0,
        key=f"{key}_dataset",
        help=f"Add your own with {datasets.DATA_DIR_VARIABLE}=/path (images/, masks/, "
        f"fixations/); several folders joined by {os.pathsep!r}.",
    )
    dataset = available[name]
    ids = dataset.ids
    if not ids:
        st.sidebar.warning(f"{name} has no images in {dataset.root / 'images'}.")
        return None
    image_key = f"{key}_image"
    if st.session_state.get(image_key) not in ids:
        wanted_image = st.query_params.get("image")
        st.session_state[image_key] = wanted_image if wanted_image in ids else ids[0]
    stem = st.sidebar.selectbox("Image", ids, key=image_key)
    st.query_params.update({"dataset": name, "image": stem})
    _gallery(dataset, key)
    try:
        return cached.sample(dataset.name, str(dataset.root), stem)
    except Exception as error:  # noqa: BLE001 - shown as a message, the page goes on
        report(error, f"Loading {stem}")
        return None


def _from_upload(key: str) -> Sample | None:
    upload = st.sidebar.file_uploader("Image", type=UPLOAD_TYPES, key=f"{key}_upload")
    mask_upload = st.sidebar.file_uploader(
        "Human attention mask (optional)", type=UPLOAD_TYPES, key=f"{key}_mask_upload"
    )
    if upload is None:
        return None
    try:
        loaded = load_image(upload.getvalue())
    except Exception as error:  # noqa: BLE001 - shown as a message, the page goes on
        report(error, f"Reading {upload.name}")
        return None
    sample = Sample(
        id=Path(upload.name).stem, image=loaded.rgb, source="upload", notices=loaded.notices
    )
    if mask_upload is not None:  # a bad mask costs only itself: a notice naming it
        shape = loaded.rgb.shape[:2]
        sample.mask, notices = load_optional_mask(mask_upload.getvalue(), mask_upload.name, shape)
        sample.notices += notices
    return sample


def image_picker(key: str) -> Sample | None:
    """The sidebar's image source: a dataset image (with gallery) or an upload."""
    mode = st.sidebar.radio(
        "Image source", ["Dataset", "Upload"], horizontal=True, key=f"{key}_source"
    )
    sample = _from_dataset(key) if mode == "Dataset" else _from_upload(key)
    if sample is not None:
        for notice in sample.notices:
            st.info(notice, icon="ℹ️")
    return sample


def weight_source(key: str, label: str = "Weights", trained_on: str = "COCO") -> WeightSource:
    """The weight-source radio; ``trained_on`` names the official weights' training data."""
    names = {"pretrained": f"pretrained ({trained_on})", "file": "weights file"}
    options = list(WeightSource)
    return st.radio(
        label,
        options,
        index=options.index(WeightSource.UNTRAINED),
        format_func=lambda s: names.get(s.value, "untrained"),
        key=key,
        help=" ".join(f"**{s.value}**: {text}" for s, text in WEIGHT_HELP.items()),
        horizontal=True,
    )


@dataclass(frozen=True)
class DetectorWeights:
    """The sidebar's weight choice for the selected detectors."""

    source: WeightSource
    files: tuple[tuple[str, str], ...]
    untrained_twins: bool


def detector_weights(key: str, names: list[str]) -> DetectorWeights:
    """Weight source (and per-detector weights files) for the selected detectors."""
    source = weight_source(f"{key}_weights")
    files = []
    for name in names:
        if source is WeightSource.FILE:
            path = st.text_input(f"State-dict file for {name}", key=f"{key}_path_{name}")
            if path:
                files.append((name, path))
            else:
                st.caption(f"Enter a weights file path to run {name}.")
        elif source is WeightSource.PRETRAINED and not pretrained_path(DETECTORS[name]).exists():
            st.caption(
                f"{name}: `{DETECTORS[name].checkpoint_name}` is not cached yet; it is downloaded "
                f"on first use into `{pretrained_path(DETECTORS[name]).parent}`."
            )
    twins = source is not WeightSource.UNTRAINED and st.checkbox(
        "Add the untrained twin of each detector",
        key=f"{key}_twins",
        help="Model-randomisation sanity check (Adebayo et al., 2018): a CAM that survives "
        "random weights says little about what the model learned.",
    )
    return DetectorWeights(source, tuple(files), bool(twins))


def size_label(size: int | None, sizes: dict[str, int | None] = INPUT_SIZES) -> str:
    """The size widget's label for ``size`` among ``sizes`` (label -> px); a size from a link
    may be none of the offered ones: it is shown as it is, e.g. "64 px"."""
    return next((label for label, value in sizes.items() if value == size), f"{size} px")


def input_size(
    key: str,
    container=st,
    title: str = "Detector input size",
    sizes: dict[str, int | None] = INPUT_SIZES,
) -> int | None:
    """A size selectbox over ``sizes`` (label -> px); a size set from a link or another page
    that is none of them is offered too, so the view is kept exactly."""
    options = list(sizes)
    current = st.session_state.get(key)
    if isinstance(current, str) and current not in options and current.endswith(" px"):
        options.append(current)
    label = container.selectbox(title, options, key=key)
    return sizes[label] if label in sizes else int(label.removesuffix(" px"))
