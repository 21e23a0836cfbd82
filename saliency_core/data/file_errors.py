"""File-system errors as one line for people: the path and what went wrong, in plain words."""

from __future__ import annotations

import errno
from pathlib import Path

REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENAMETOOLONG: "the path is too long for the file system",
}
"""errno -> plain words, followed by the system's own message (any other errno: that alone)."""
SHOWN_PATH = 160
"""Paths longer than this (characters) are shown as their start and end around "…"."""


def shown_path(path: str | Path) -> str:
    """``path`` as text, shortened in the middle beyond :data:`SHOWN_PATH` characters."""
    text = str(path)
    if len(text) <= SHOWN_PATH:
        return text
    half = SHOWN_PATH // 2
    return f"{text[:half]}…{text[-half:]} ({len(text)} characters)"


def describe(error: OSError) -> str:
    """``path: reason`` for ``error`` (the reason alone when it names no file)."""
    system = error.strerror or str(error) or error.__class__.__name__
    reason = f"{REASONS[error.errno]} ({system})" if error.errno in REASONS else system
    return f"{shown_path(error.filename)}: {reason}" if error.filename else reason
