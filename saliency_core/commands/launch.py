"""Starting a command with ``python -m``: its heavy imports (torch, torchvision) take a few
seconds, and a Ctrl-C during them ends with the resume hint too, not a traceback."""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130
RESUME_MESSAGE = "Interrupted: run the same command again to resume."


def launch(command: str) -> NoReturn:
    """Import ``saliency_core.commands.<command>`` and exit with its ``main()``'s code
    (:data:`EXIT_INTERRUPTED` when interrupted while importing)."""
    try:
        main = importlib.import_module(f"saliency_core.commands.{command}").main
    except KeyboardInterrupt:
        print(RESUME_MESSAGE, file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    raise SystemExit(main())
