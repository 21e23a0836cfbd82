"""``python -m saliency_core.augment``: see ``saliency_core.commands.augment``.

The heavy imports (torch, torchvision) take a few seconds; a Ctrl-C during them ends with the
resume hint too, not a traceback.
"""

import sys

try:
    from saliency_core.commands.augment import main
except KeyboardInterrupt:
    print("Interrupted: run the same command again to resume.", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
