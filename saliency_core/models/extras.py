"""Optional dependencies: import them by name, or say which requirements file installs them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional package is not installed; the message gives the install command."""


def require(module: str, requirements: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependencyError` naming ``requirements``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {module!r}: "
            f".venv/bin/pip install -r {requirements}"
        ) from error
