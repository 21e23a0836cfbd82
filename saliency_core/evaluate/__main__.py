"""``python -m saliency_core.evaluate``: see ``saliency_core.commands.evaluate``.

The heavy imports (torch, torchvision) take a few seconds; a Ctrl-C during them ends with the
resume hint too, not a traceback.
"""

import sys

try:
    from saliency_core.commands.evaluate import main
except KeyboardInterrupt:
    print("Interrupted: run the same command again to resume.", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
