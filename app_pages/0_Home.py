"""Home page: what this is, a quick start, the data credits."""

from __future__ import annotations

import streamlit as st

from saliency_core import __version__
from saliency_core.models.cache import default_device

st.title("Saliency Explorer")
st.markdown(
    """
Compare **what a model looked at** (type-1 saliency: CAM maps of object detectors) with
**where people look** (type-2 saliency: DeepGaze IIE predictions, recorded human fixations and
human attention masks).

**Quick start**
1. Open **Explore**, pick an image of the NUS Scene sample (or upload your own).
2. Choose detectors, a weight source and CAM methods in the sidebar; the type-2 model and the
   human reference come next to them.
3. Move the **top-p%** slider: masks, IoU, the metrics tables and the IoU curve update without
   running any model again. Download the grid (PNG) and the metrics (CSV).
4. The **Reproduce the study** preset sets the study's exact protocol (512×512, EigenCAM at the
   study's layers, score ≥ 0.9, top 10%).
5. Open **Augment** to preview selective erasing and inpainting on any image, and the
   non-trivial transformations with their boxes on annotated images.
6. **Dataset report** reads whole-dataset runs (`saliency evaluate`); **Experiments** reads a
   fine-tuning experiment (`saliency experiment`): accuracy (mAP) against agreement per arm.

Results of **untrained** (randomly initialised) models are always labelled as such: they are the
model-randomisation sanity check, not findings.
"""
)
st.caption(f"Version {__version__} · computing on {default_device().type.upper()}")
st.subheader("Data credits")
st.markdown(
    """
- **NUS Scene Saliency sample** (50 of 500 images, shipped in `assets/sample/`): stimuli from
  SUN2012 with free-viewing eye fixations of about 12 observers per image, NUS Visual Information
  Processing Lab, 2015 — H. Liang, Q. Zhao et al., *Scene Saliency Dataset* (public repository
  Yanakz/Scene). MIT License, © 2015 Haoran Liang; the licence is in `assets/sample/LICENSE`.
- **DeepGaze IIE**: Linardos, Kümmerer, Press, Bethge, *DeepGaze IIE: Calibrated prediction in
  and out-of-domain for state-of-the-art saliency modeling*, ICCV 2021 (independent
  implementation that loads the official checkpoint).
- **CAM methods**: pytorch-grad-cam (J. Gildenblat and contributors). **Detectors**: torchvision.
"""
)
