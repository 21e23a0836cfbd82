"""Streamlit-side helpers shared by the pages (widgets, caching, error display).

Everything computed here comes from ``saliency_core``; this package only lays out widgets.
"""
