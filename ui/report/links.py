"""The gallery's Explore links: one image under the run's settings as Explore's URL."""

from __future__ import annotations

from saliency_core.maps.references import REFERENCES
from saliency_core.settings import Settings, to_query


def explore_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """The run's settings as Explore can show them, and what differs from the run's view.

    Explore builds a type-2 reference (e.g. "deepgaze") only from a chosen type-2 model, so each
    model that a reference of the run needs joins the type-2 models (Explore then shows its map
    too, which the run did not score: said in the notes).
    """
    needed = (REFERENCES[key].type2_model for key in settings.references)
    added = [model for model in dict.fromkeys(needed) if model and model not in settings.type2]
    notes = [
        f"Explore also shows {model}'s map: it builds the {key} reference from it."
        for model in added
        for key in settings.references
        if REFERENCES[key].type2_model == model
    ]
    return settings.with_changes(type2=(*settings.type2, *added)), notes


def explore_query(dataset_name: str, stem: str, settings: Settings) -> dict[str, str]:
    """The Explore page's URL parameters for one image under the run's settings (as
    :func:`explore_settings` carries them)."""
    shown, _ = explore_settings(settings)
    return {"dataset": dataset_name, "image": stem, **to_query(shown)}
