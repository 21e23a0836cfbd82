"""``python -m saliency_core.evaluate``: see ``saliency_core.commands.evaluate``."""

from saliency_core.commands.launch import launch

launch("evaluate")
