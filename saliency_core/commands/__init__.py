"""Command-line front ends: thin argument parsing over :class:`~saliency_core.settings.Settings`
and the library's pipeline (``python -m saliency_core.evaluate``, ``python -m
saliency_core.augment``)."""
