"""Saliency Explorer backend: type-1 (CAM) and type-2 (human, DeepGaze) saliency maps, metrics.

A plain library: no Streamlit import anywhere in this package.
"""

__version__ = "0.1.0"
