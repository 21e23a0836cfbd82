"""``python -m saliency_core.augment``: see ``saliency_core.commands.augment``."""

from saliency_core.commands.launch import launch

launch("augment")
