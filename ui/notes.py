"""What the Explore page says about maps it could not show, each with how to fix it (no
Streamlit)."""

from __future__ import annotations

from saliency_core.pipeline import Bundle, Unchosen, unchosen
from saliency_core.settings import Settings

UNCHOSEN_FIX = {
    Unchosen.CLASSIFIER_METHOD: (
        "No classifier method chosen: pick one under Classifiers in the sidebar."
    ),
    Unchosen.MODEL: (
        "No detector and no type-2 model chosen: pick one under Type-1 (Detectors) or "
        "Type-2 (Model) in the sidebar."
    ),
    Unchosen.CAM_METHOD: "No CAM method chosen: pick one under CAM methods in the sidebar.",
    Unchosen.DETECTOR: "No detector chosen: pick one under Detectors in the sidebar.",
}
"""Each :class:`~saliency_core.pipeline.Unchosen` choice, said with where to make it."""

WEIGHTS_FIX = (
    "Place the checkpoint where the error says (or choose a weights file), or choose "
    "untrained weights to try the page (labelled UNTRAINED)."
)
NOTHING_ASKED = "The settings ask for no map: choose a detector and a CAM method."


def unchosen_notes(settings: Settings) -> list[str]:
    """What ``settings`` leave out that the user probably meant to choose, with the fix."""
    return [UNCHOSEN_FIX[missing] for missing in unchosen(settings)]


def why_empty(bundle: Bundle) -> list[str]:
    """Why ``bundle`` has no map, each cause with how to fix it (empty when it has maps)."""
    if bundle.maps:
        return []
    causes = unchosen_notes(bundle.settings)
    causes += [
        f"{label}: failed (the error above says why). {WEIGHTS_FIX}" for label in bundle.failed
    ]
    causes += bundle.skipped
    return causes or [NOTHING_ASKED]
