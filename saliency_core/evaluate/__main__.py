"""``python -m saliency_core.evaluate``: the dataset command (see ``saliency_core.commands``)."""

from saliency_core.commands.evaluate import main

raise SystemExit(main())
