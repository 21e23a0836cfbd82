"""The Augment page's "Non-trivial transformations" section: one sub-policy of a learned
detection policy on the current image, its annotated boxes drawn before and after."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from saliency_core import viz
from saliency_core.augment import preview
from saliency_core.augment.policies import POLICIES, ZOPH_POLICIES
from saliency_core.data.annotations import AnnotationError
from saliency_core.data.images import Sample

RANDOM = "drawn at random"
NO_ANNOTATION = (
    "No boxes for {stem}: a dataset image needs a PASCAL VOC annotation `Annotations/{stem}.xml` "
    "in its dataset folder (beside `images/` or `JPEGImages/`); an uploaded image takes its VOC "
    "XML here."
)


def root_key(key: str) -> str:
    """The session key where the image picker keeps the current dataset's folder."""
    return f"{key}_dataset_root"


def _annotation(key: str, sample: Sample) -> tuple[bytes, str] | None:
    """The image's VOC XML (bytes, label naming it): an upload's, or the dataset's file."""
    if sample.source == "upload":
        upload = st.file_uploader(
            "PASCAL VOC annotation (XML) of the uploaded image", type=["xml"], key=f"{key}_voc"
        )
        return None if upload is None else (upload.getvalue(), upload.name)
    root = st.session_state.get(root_key(key))
    path = preview.annotation_file(Path(root), sample.id) if root else None
    return None if path is None else (path.read_bytes(), str(path))


def _boxes(key: str, sample: Sample) -> preview.AnnotatedImage | None:
    found = _annotation(key, sample)
    if found is None:
        st.info(NO_ANNOTATION.format(stem=sample.id), icon=":material/info:")
        return None
    try:
        annotated = preview.read_boxes(*found, sample.shape)
    except AnnotationError as error:
        st.warning(str(error))
        return None
    for notice in annotated.notices:
        st.info(notice, icon=":material/info:")
    return annotated


def _next_seed(key: str) -> None:
    st.session_state[key] += 1


def section(key: str, sample: Sample) -> None:
    st.subheader("Non-trivial transformations")
    st.caption(
        "Zoph et al.'s learned detection policies (v0–v3): one sub-policy per image, each "
        "operation with its probability. Geometric operations move the boxes with the pixels; "
        "boxes that leave the image are dropped. The study trained on v3."
    )
    annotated = _boxes(key, sample)
    if annotated is None:
        return
    policy_column, sub_column, seed_column = st.columns([1, 3, 1])
    policy = policy_column.selectbox(
        "Policy", ZOPH_POLICIES, index=ZOPH_POLICIES.index("v3"), key=f"{key}_policy"
    )
    sub_policy = sub_column.selectbox(
        "Sub-policy",
        [None, *range(len(POLICIES[policy]))],
        format_func=lambda i: RANDOM if i is None else preview.sub_policy_label(policy, i),
        key=f"{key}_sub_policy_{policy}",
    )
    seed_key = f"{key}_policy_seed"
    st.session_state.setdefault(seed_key, 0)
    seed = seed_column.number_input("Seed", min_value=0, step=1, key=seed_key)
    seed_column.button("Draw again", on_click=_next_seed, args=(seed_key,), key=f"{key}_redraw")
    result = preview.transform(sample.image, annotated, policy, int(seed), sub_policy)
    before, after = st.columns(2)
    before.image(
        viz.draw_boxes(sample.image, annotated.boxes, annotated.labels),
        caption=f"Before: {len(annotated.labels)} boxes",
    )
    steps = ", ".join(step.describe() for step in result.draw.steps) or "no operation applied"
    after.image(
        viz.draw_boxes(result.image, result.boxes, result.labels),
        caption=f"After sub-policy {result.draw.index + 1}: {steps}",
    )
    if result.dropped:
        st.info(
            f"Left the image and dropped with their boxes: {', '.join(result.dropped)}.",
            icon=":material/info:",
        )
