"""Page frame shared by every page: title, wide layout and the navigation links."""

from __future__ import annotations

import streamlit as st

PAGES = (
    ("app.py", "Home", "🏠"),
    ("pages/1_Explore.py", "Explore", "🔍"),
    ("pages/2_Augment.py", "Augment", "🩹"),
    ("pages/3_Dataset_report.py", "Dataset report", "📊"),
)


def frame(title: str) -> None:
    """Set the browser title and layout, and draw the sidebar navigation."""
    st.set_page_config(
        page_title=f"{title} · Saliency Explorer" if title != "Home" else "Saliency Explorer",
        page_icon="🔍",
        layout="wide",
    )
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
