"""Atomic file writes: a reader sees the old file or the complete new one, never a torn one.

The data go to a hidden temporary file in the destination's folder (same file system), are
flushed to disk, and replace the destination with ``os.replace`` (atomic on POSIX and Windows).
On any failure, an interrupt included, the temporary file is removed. Only a hard kill can leave
one behind: it is named ``.<name>.<pid>.<random>.tmp``, so dataset listings (which skip hidden
files and unknown suffixes) never pick it up.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` (which creates and fills that file), then rename it onto
    ``path`` (creating its folder); the temporary file is removed on any failure, and a
    file-system error is raised again as an OSError naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:  # named after the destination (a full disk's error names no file)
        temporary.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk; permissions follow the umask as
    for a plain write."""

    def write(temporary: Path) -> None:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    write_atomically(path, write)


def save_image_atomic(rgb: np.ndarray, path: str | Path, **options) -> None:
    """Encode ``rgb`` (uint8 H×W×3) in the format of ``path``'s suffix with Pillow's save
    ``options`` (e.g. ``quality=95``) and write it atomically."""
    path = Path(path)
    extension = path.suffix.lower()
    image_format = Image.registered_extensions().get(extension)
    if image_format is None:
        raise ValueError(f"No image format for the extension {extension!r} of {path.name}.")
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=image_format, **options)
    write_bytes_atomic(path, buffer.getvalue())
