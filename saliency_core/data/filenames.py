"""Download and output file names that every file system and shell accepts."""

from __future__ import annotations

import re
import unicodedata

UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
"""Runs of anything but letters, digits, "." and "-" (underscores too, so runs collapse)."""


def safe_filename(text: str, fallback: str = "file") -> str:
    """``text`` as a portable file name: accents dropped (NFKD → ASCII), every run of other
    characters (spaces, commas, slashes, "·", "×", "_" …) one "_", no leading or trailing "_"/"."
    (no hidden files, no "..");
    ``fallback`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = UNSAFE.sub("_", ascii_text).strip("_.")
    return name or fallback
