"""Named starting points for :class:`~saliency_core.settings.Settings`: exploring, and the study.

The study preset follows ../shared/STUDY_PROTOCOL.md (the study's published notebooks): every
image resized to 512×512, EigenCAM at Faster R-CNN's ``backbone.body.layer4`` and SSD-VGG16's
``backbone.extra[1]``, box targets from detections with score ≥ 0.9, maps min-max scaled to
[0, 1], IoU of the top 10% (the notebooks' ``percentile(map, 90)``, ties included) and MAE.
The evaluate command starts from one with ``--preset``; the app names them (``ui.presets``).
"""

from __future__ import annotations

from saliency_core.settings import Settings
from saliency_core.study import TIES_INCLUDE, WORKING_SIZE

EXPLORE = Settings(detectors=("Faster R-CNN R50-FPN",))
"""One detector, everything else at its default."""
STUDY = Settings(
    detectors=("Faster R-CNN R50-FPN", "SSD300 VGG16"),
    working_size=WORKING_SIZE,
    ties=TIES_INCLUDE,
)
"""The study's protocol (its other choices are the defaults: EigenCAM, score 0.9, top 10%)."""

SETTINGS_PRESETS: dict[str, Settings] = {"study": STUDY, "explore": EXPLORE}
"""The presets by the name ``--preset`` takes."""
