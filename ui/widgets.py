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


def _follow_link(choice: str, wanted: str | None, options: list[str], what: str) -> None:
    """Select the link's ``wanted`` value in the widget ``choice``; one that is not among
    ``options`` is said (``what``: e.g. "image 'x' is not in NUS"), with what is shown instead."""
    if wanted is None:
        return
    if wanted in options:
        st.session_state[choice] = wanted
        return
    shown = st.session_state.get(choice)
    shown = shown if shown in options else options[0]
    st.warning(
        f"The link's {what.format(repr(wanted))}: showing {shown!r} instead.",
        icon=":material/link:",
    )


def _from_dataset(key: str, link: dict[str, str]) -> Sample | None:
    available = _available_datasets()
    names = list(available)
    listed = "dataset {} is not among the datasets listed here"
    _follow_link(f"{key}_dataset", link.get("dataset"), names, listed)
    name = st.sidebar.selectbox(
        "Dataset",
        names,
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
    _follow_link(image_key, link.get("image"), ids, f"image {{}} is not in {name}")
    if st.session_state.get(image_key) not in ids:
        st.session_state[image_key] = ids[0]
    stem = st.sidebar.selectbox("Image", ids, key=image_key)
    st.session_state[f"{key}_source_params"] = {"dataset": name, "image": stem}
    st.session_state[f"{key}_dataset_root"] = str(dataset.root)  # its annotations are read there
    _gallery(dataset, key)
    try:
        return cached.sample(dataset.name, str(dataset.root), stem)
    except Exception as error:  # noqa: BLE001 - shown as a message, the page goes on
        report(error, f"Loading {stem}")
        return None


def _from_upload(key: str) -> Sample | None:
    st.session_state[f"{key}_source_params"] = dict(UPLOAD_PARAMS)
    upload = st.sidebar.file_uploader("Image", type=UPLOAD_TYPES, key=f"{key}_upload")
    mask_upload = st.sidebar.file_uploader(
        "Human attention mask (optional)", type=UPLOAD_TYPES, key=f"{key}_mask_upload"
    )
    if upload is None:
        return None
    st.sidebar.caption(UPLOAD_NOT_SHARED)
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


SOURCE_PARAMS = ("source", "dataset", "image")
"""The address's parameters of the image source (written by :func:`source_params`)."""
UPLOAD_PARAMS = {"source": "upload"}
UPLOAD_NOT_SHARED = (
    "An uploaded image stays in this browser tab: the address says `source=upload` and a "
    "copied link opens without the picture (upload it again there)."
)
LINK_TO_UPLOAD = (
    "This link was made with an uploaded image, which a link cannot carry: upload it in the "
    "sidebar."
)
SOURCES = {"Dataset": _from_dataset, "Upload": lambda key, link: _from_upload(key)}


def image_picker(key: str, link: dict[str, str]) -> Sample | None:
    """The sidebar's image source: a dataset image (with gallery) or an upload; ``link`` (see
    ``ui.address.incoming``) selects its dataset and image, or the upload mode."""
    if link.get("source") == UPLOAD_PARAMS["source"]:
        st.session_state[f"{key}_source"] = "Upload"
        st.info(LINK_TO_UPLOAD, icon=":material/link:")
    elif {"dataset", "image"} & set(link):
        st.session_state[f"{key}_source"] = "Dataset"
    mode = st.sidebar.radio("Image source", list(SOURCES), horizontal=True, key=f"{key}_source")
    sample = SOURCES[mode](key, link)
    if sample is not None:
        for notice in sample.notices:
            st.info(notice, icon=":material/info:")
    return sample


def source_params(key: str) -> dict[str, str]:
    """The image source as address parameters: the dataset and image shown, or ``source=upload``
    (an upload cannot be shared); {} before a pick."""
    return dict(st.session_state.get(f"{key}_source_params", {}))


def user_key(key: str) -> str:
    """The session key of the value the user (or a link) gave the derived slider ``key``."""
    return f"{key}_user"


def _user_moved(key: str) -> None:
    st.session_state[user_key(key)] = st.session_state[key]


def derived_slider(
    container, label: str, low: float, high: float, derived: float, key: str
) -> float | None:
    """A slider whose default derives from the input (e.g. the image's size): it shows
    ``derived`` until the user moves it, then keeps the user's value (clamped to the range) on
    every input. Returns the user's value, or None while it follows ``derived``. A link sets it
    through ``st.session_state[user_key(key)]``."""
    user = st.session_state.get(user_key(key))
    kept = None if user is None else min(max(float(user), low), high)
    st.session_state[key] = derived if kept is None else kept
    container.slider(label, low, high, key=key, on_change=_user_moved, args=(key,))
    return kept


def weight_source(key: str, label: str = "Weights", trained_on: str = "COCO") -> WeightSource:
    """The weight-source radio; ``trained_on`` names the official weights' training data."""
    names = {"pretrained": f"pretrained ({trained_on})", "file": "weights file"}
    st.session_state.setdefault(key, WeightSource.UNTRAINED)  # another page may have set it
    return st.radio(
        label,
        list(WeightSource),
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
