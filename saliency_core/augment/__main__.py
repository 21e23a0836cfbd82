"""``python -m saliency_core.augment``: the dataset command (see ``cli``)."""

from saliency_core.augment.cli import main

raise SystemExit(main())
