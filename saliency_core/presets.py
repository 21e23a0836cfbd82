"""Named settings for the Explore page, including "Reproduce the study".

The study preset follows ../shared/STUDY_PROTOCOL.md (the study's published notebooks): every
image resized to 512×512, EigenCAM at Faster R-CNN's ``backbone.body.layer4`` and SSD-VGG16's
``backbone.extra[1]``, box targets from detections with score ≥ 0.9, maps min-max scaled to
[0, 1], IoU of the top 10% (the notebooks' ``percentile(map, 90)``) and MAE.
"""

from __future__ import annotations

from saliency_core.settings import Settings

PRESETS: dict[str, Settings] = {
    "Explore": Settings(detectors=("Faster R-CNN R50-FPN",)),
    "Reproduce the study": Settings(
        detectors=("Faster R-CNN R50-FPN", "SSD300 VGG16"),
        working_size=512,
        ties="include",
    ),
}
"""Named :class:`~saliency_core.settings.Settings`; each choice stays an editable control."""

STUDY_NOTES = (
    "Images and human masks are resized to 512×512 (aspect ratio not kept), as in the study.",
    "CAMs: EigenCAM at the study's target layers (Faster R-CNN layer4, SSD extra[1]); "
    "box targets from detections with score ≥ 0.9.",
    "IoU uses the top 10% of pixels: the notebooks' `map >= percentile(map, 90)` (the blog's "
    "'top 90%' wording means this 90th-percentile cut).",
    "The study fed DeepGaze IIE a 0..1 image although it expects 0..255, so its DeepGaze maps "
    "were computed on a near-black image and are dominated by the centre bias. Saliency Explorer "
    "does it right by default; the 'study input range' switch reproduces the original behaviour.",
    "EigenCAM's sign is arbitrary in pytorch-grad-cam 1.5.7 (issue #315): some of the study's "
    "maps may have been inverted. Saliency Explorer orients each map so that strongly activated "
    "pixels come out high, so its numbers can differ from the study's on such images.",
)
