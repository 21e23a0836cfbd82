"""Saliency Explorer's entry point (run with `make run`): the page config, the pages and the one
error guard.

``st.navigation`` declares the pages (files in ``app_pages/``, not ``pages/``: a ``pages/``
folder next to the entry point switches Streamlit to its legacy multipage mode, which runs a
page without this file; URLs ``/Explore``, ``/Augment``, ``/Dataset_report``,
``/Experiments``) and draws the sidebar navigation. Every page runs inside
:func:`ui.errors.report`'s guard, so no page ever shows a traceback; fragments (which rerun
without passing through here) carry their own.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from saliency_core.data import roots
from saliency_core.data.datasets import dataset_roots
from ui.errors import report
from ui.report.folders import results_dir

APP_TITLE = "Saliency Explorer"
FAVICON = Path(__file__).with_name("assets") / "favicon.png"
"""The browser tab's icon, served by the app (``tools/favicon.py`` draws it): a
``:material/…:`` page icon would be fetched from fonts.gstatic.com, out of reach offline."""
PAGES = (
    st.Page("app_pages/0_Home.py", title="Home", icon=":material/home:", default=True),
    st.Page(
        "app_pages/1_Explore.py", title="Explore", icon=":material/search:", url_path="Explore"
    ),
    st.Page(
        "app_pages/2_Augment.py", title="Augment", icon=":material/healing:", url_path="Augment"
    ),
    st.Page(
        "app_pages/3_Dataset_report.py",
        title="Dataset report",
        icon=":material/bar_chart:",
        url_path="Dataset_report",
    ),
    st.Page(
        "app_pages/5_Experiments.py",
        title="Experiments",
        icon=":material/science:",
        url_path="Experiments",
    ),
)

# the icon before the navigation: else the browser takes the page's own (material) icon first
st.set_page_config(page_icon=str(FAVICON), layout="wide")
page = st.navigation(list(PAGES))
st.set_page_config(page_title=APP_TITLE if page.title == "Home" else f"{page.title} · {APP_TITLE}")
# a file a user names (weights, a trained readout, a link's fine-tuned model) is read only under
# these folders: neither a link nor a text field makes a shared server open a file elsewhere
roots.confine_reads([results_dir(), *dataset_roots()], "the results and dataset folders")
try:
    page.run()
except Exception as error:  # noqa: BLE001 - the app never shows a traceback
    report(error, f"The {page.title} page")
