"""The Dataset report's view-model, pure functions the page lays out (no Streamlit):
``folders`` (results folders and a run's manifest), ``summary_table`` (the table and its n/a
notes), ``figures`` (charts), ``gallery`` (its rows), ``thumbnails`` (its pictures) and
``links`` (to Explore).
"""
