"""Selective erasing and selective inpainting (the study's augmentation).

When a detector's CAM and a human reference (DeepGaze IIE, fixations, a mask) disagree according
to an :class:`EraseRule`, the CAM's most salient pixels are erased (:func:`erase_mask`,
:func:`erase`) and may then be filled again (:func:`inpaint`: Telea, Navier-Stokes or a Deep
Image Prior). :func:`augment_sample` runs the three steps for one image;
:func:`saliency_core.augment.dataset.augment_dataset` runs them over a dataset folder (resumable).

Bounding boxes are unchanged by these augmentations: pixels are replaced in place, nothing is
moved, resized or cropped, so a sample's boxes stay valid as they are. :func:`augment_sample`
passes them through untouched.

The non-trivial transformations (Zoph et al.'s detection policies, which do move boxes) are in
:mod:`saliency_core.augment.policies`; :mod:`saliency_core.augment.arms` combines them with the
erased and inpainted copies into the fine-tuning experiment's arms.
"""

from saliency_core.augment.erase import (
    FILLS,
    KERNELS,
    EraseSettings,
    dilate_mask,
    erase,
    erase_mask,
)
from saliency_core.augment.inpaint import METHODS, InpaintMethod, inpaint
from saliency_core.augment.pipeline import AugmentedSample, augment_sample
from saliency_core.augment.result import InpaintResult, ProgressCallback
from saliency_core.augment.rule import (
    COMPARATORS,
    DEFAULT_PRESET,
    PRESETS,
    EraseRule,
    RuleDecision,
    RulePreset,
    decide,
)

__all__ = [
    "COMPARATORS",
    "DEFAULT_PRESET",
    "FILLS",
    "KERNELS",
    "METHODS",
    "PRESETS",
    "AugmentedSample",
    "EraseRule",
    "EraseSettings",
    "InpaintMethod",
    "InpaintResult",
    "ProgressCallback",
    "RuleDecision",
    "RulePreset",
    "augment_sample",
    "decide",
    "dilate_mask",
    "erase",
    "erase_mask",
    "inpaint",
]
