"""The study's protocol in one place (../shared/STUDY_PROTOCOL.md) and the kinds of map compared.

Every default that reproduces the study is named here once; the settings, the commands, the
augmentation and the app import these names instead of repeating the numbers.
"""

from __future__ import annotations

from enum import StrEnum

SCORE_THRESHOLD = 0.9
"""Detections scored ≥ this are the CAM targets (and the boxes drawn)."""
TOP_PERCENT = 10.0
"""Agreement is the IoU of the maps' top 10 % pixels (the 90th-percentile cut)."""
ERASE_PERCENT = 2.5
"""Selective erasing removes the CAM's top 2.5 % (above its 97.5th percentile)."""
WORKING_SIZE = 512
"""Images and masks are resized to 512 × 512 px (aspect ratio not kept) before anything else."""
DEEPGAZE_MAX_SIDE = 1024
"""DeepGaze IIE runs on images whose longer side is at most this many pixels."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet normalisation (per RGB channel, on [0, 1] inputs) of every pretrained backbone."""

TIES_NO_OVERSHOOT = "no-overshoot"
"""The default top-p% tie policy (ours, not the study's): never more than p%. When the pixels
tied at the threshold would make the top-p% mask exceed ⌈p% · n⌉ pixels, only the pixels strictly
above the tied value are taken (the mask may then be smaller than p%;
:func:`~saliency_core.scoring.metrics.top_percent_selection` reports the share selected) — unless
none lies above it and some lie below (the ties are the maximum of a map that has others, e.g. a
binary attention mask covering more than p%): an empty mask would single nothing out, so the
tied maximum is taken whole. A constant map is one tie block above nothing: it selects nothing
(below p = 100)."""
TIES_INCLUDE = "include"
"""The study's rule: ``m >= percentile(m, 100 − p)``, every tie at the threshold included, so
the mask can exceed p% (a map with 80% zeros: its top 25% is every pixel)."""
TIE_POLICIES = (TIES_NO_OVERSHOOT, TIES_INCLUDE)


class MapKind(StrEnum):
    """What a map is, in the order the summary tables list them. A ``StrEnum``: each member
    equals its text, which the tables store."""

    TYPE1 = "type-1"
    """A detector's CAM: what the model looked at."""
    CLASSIFIER = "classifier"
    """A classifier's CAM or gradient map (type-1 saliency too)."""
    CONSENSUS = "consensus"
    """The mean of the type-1 maps."""
    TYPE2 = "type-2"
    """A prediction of where people look (DeepGaze IIE, a baseline)."""
    FLOOR = "baseline"
    """The centre-bias prior, which knows nothing of the image."""
    CEILING = "ceiling"
    """People predicting people (the inter-observer gold standard)."""


TYPE1_KINDS = (MapKind.TYPE1, MapKind.CLASSIFIER)
"""Kinds that are type-1 saliency (a model's own explanation)."""
