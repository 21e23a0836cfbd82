"""The app's side: Streamlit helpers shared by the pages (widgets, caching, error display,
background jobs) and the views that exist only for a page (the Explore grid, the report's
view-model, table formatting, charts, presets, ETA text), Streamlit-free where they can be.

Every number shown comes from ``saliency_core``; the words and the layout live here.
"""
