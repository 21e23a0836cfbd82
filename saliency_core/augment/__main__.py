"""``python -m saliency_core.augment``: the dataset command (see ``saliency_core.commands``)."""

from saliency_core.commands.augment import main

raise SystemExit(main())
