"""Starting a command: its heavy imports (torch, torchvision) take a few seconds, and a Ctrl-C
during them ends with the resume hint too, not a traceback."""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130
RESUME_MESSAGE = "Interrupted: run the same command again to resume."


def run(command: str, argv: list[str] | None = None) -> int:
    """Import ``saliency_core.commands.<command>`` (a ``-`` in the command read as ``_``) and
    return its ``main(argv)``'s exit code (:data:`EXIT_INTERRUPTED` when interrupted while
    importing)."""
    try:
        main = importlib.import_module(f"saliency_core.commands.{command.replace('-', '_')}").main
    except KeyboardInterrupt:
        print(RESUME_MESSAGE, file=sys.stderr)
        return EXIT_INTERRUPTED
    return main(argv)


def launch(command: str) -> NoReturn:
    """``python -m saliency_core.<command>``: exit with :func:`run`'s code."""
    raise SystemExit(run(command))
