"""Saliency Explorer: entry point (navigation) — run with `make run`."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Saliency Explorer", page_icon="🔍", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/0_Home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/1_Explore.py", title="Explore", icon="🔍"),
        st.Page("pages/2_Augment.py", title="Augment", icon="🩹"),
    ]
)
navigation.run()
