"""``python -m saliency_core.augment``: the dataset command (see ``cli``).

The heavy imports (torch, torchvision) take a few seconds; a Ctrl-C during them ends with the
resume hint too, not a traceback.
"""

import sys

try:
    from saliency_core.augment.cli import main
except KeyboardInterrupt:
    print("Interrupted: run the same command again to resume.", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
