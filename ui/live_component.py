"""The live top-p% slider as a Streamlit component (``st.components.v2``, inline script and
style from ``ui/live_threshold.js``: no build step, nothing fetched).

The browser draws the agreement pictures, their IoU and the share of pixels selected on every
animation frame while the slider moves; the value comes back once, on release, into the page's
own top-p% key, and the page redraws its tables, curve, exports and address as with the
server-side slider.

A handshake keeps the page honest: until the browser has read an image's maps and said so
(``ready``), the page shows the server-side slider and the component stays invisible; a browser
that lacks what the script needs says so (``unsupported``) and the page keeps the server-side
slider for the session with that reason, as it does when the maps exceed
``live_threshold.PIXEL_BUDGET``. Each image's payload is sent once per session (the browser
keeps the last few); a browser that no longer has it asks again (``missing``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from saliency_core.scoring.agreement import RankedMap
from ui import live_threshold, sliders

SCRIPT = Path(__file__).with_name("live_threshold.js").read_text(encoding="utf-8")
STYLE = """
.lt { font-family: var(--st-font, sans-serif); color: var(--st-text-color, inherit); }
.lt-label { display: block; font-size: 0.875rem; margin-bottom: 0.25rem; }
.lt-slider { width: 100%; accent-color: var(--st-primary-color, #ff4b4b); touch-action: none; }
.lt-heading { font-size: 1.5rem; font-weight: 600; margin: 1rem 0 0.25rem; }
.lt-legend, .lt-reference { font-size: 0.875rem; opacity: 0.7; margin: 0.25rem 0; }
.lt-row-title { font-weight: 600; margin: 0.75rem 0 0.25rem; }
.lt-grid { display: grid; gap: 1rem; }
.lt-cell { margin: 0; min-width: 0; }
.lt-cell canvas { width: 100%; height: auto; display: block; }
.lt-cell figcaption { font-size: 0.875rem; opacity: 0.7; text-align: center; }
"""
COMPONENT = st.components.v2.component("live_threshold", js=SCRIPT, css=STYLE)
SWITCH = "SALIENCY_LIVE_SLIDER"
"""Environment variable: "0" keeps the server-side slider (``benchmarks/browser_latency.py``
measures that path)."""
STARTING = (
    "Live slider starting in the browser (if its script cannot run there, the error box below "
    "says why): until then the view updates when the slider is released."
)
"""What the page says beside the server slider until the browser's "ready". A browser that
cannot load the script at all never tells the server: Streamlit (1.67) imports the inline
script as a module from a blob URL and, when that fails, draws its own "BidiComponent Error"
box in the component's place; the report functions exist only inside the script, so no
callback runs and this line is the page's only word on it."""
STATES = ("percent", "ready", "unsupported", "missing")
"""What the browser reports, each as ``[value, time stamp]`` (a repeated value is a change)."""


def keys(page: str) -> dict[str, str]:
    """The session keys of ``page``'s live slider: the component, its status (True: the
    browser can draw; a string: why it cannot) and the payloads sent this session."""
    return {name: f"{page}_live_{name}" for name in ("component", "status", "sent")}


def off_reason(page: str, shape: tuple[int, ...], maps: int) -> str | None:
    """Why ``page`` cannot use the live slider for ``maps`` maps of ``shape`` (None: it can)."""
    if os.environ.get(SWITCH) == "0":
        return f"turned off ({SWITCH}=0)"
    status = st.session_state.get(keys(page)["status"])
    if isinstance(status, str):
        return status
    return live_threshold.over_budget(shape, maps)


def ready(page: str) -> bool:
    """Whether the browser has said it can draw (the page then shows the live slider)."""
    return st.session_state.get(keys(page)["status"]) is True


def keep_percent(percent_key: str) -> float:
    """The top-p% as a plain session value (no server slider holds it while the live one
    shows; a widget's value left undrawn would be dropped)."""
    st.session_state[percent_key] = st.session_state[percent_key]
    return st.session_state[percent_key]


@st.cache_resource(max_entries=4, show_spinner=False)
def payload(bundle_key: str, _rgb: np.ndarray, _ranked: Mapping[str, RankedMap]):
    """The image's payload (``live_threshold.payload``), built once per bundle."""
    return live_threshold.payload(_rgb, _ranked)


def _reported(page: str, name: str, percent_key: str) -> None:
    """A browser report: the released p into the page's key, the browser's status, or a
    payload to send again."""
    names = keys(page)
    state = st.session_state.get(names["component"]) or {}
    value = (state.get(name) or [None])[0]
    if name == "percent" and value is not None:
        st.session_state[percent_key] = sliders.on_slider("top_percent", float(value))
    elif name == "ready":
        st.session_state[names["status"]] = True
    elif name == "unsupported":
        st.session_state[names["status"]] = f"the browser cannot draw it: {value}"
    elif name == "missing":
        st.session_state[names["sent"]] = [
            sent for sent in st.session_state.get(names["sent"], []) if sent != value
        ]


def show(
    page: str, percent_key: str, data: live_threshold.Payload, control: live_threshold.Control
) -> None:
    """Mounts the component with ``control`` and, the first time this session, ``data``."""
    names = keys(page)
    sent = st.session_state.setdefault(names["sent"], [])
    message = live_threshold.message(control, data, data.id not in sent)
    if data.id not in sent:
        st.session_state[names["sent"]] = [*sent[-2:], data.id]  # the browser keeps 3
    callbacks = {
        f"on_{name}_change": partial(_reported, page, name, percent_key) for name in STATES
    }
    COMPONENT(key=names["component"], data=message, **callbacks)
