"""Checkpoint download into the torch hub cache, with a progress callback and a hash check.

torchvision and torch hub name checkpoints ``<name>-<sha256 prefix>.pth``; the prefix is
verified after download. The file is written under a temporary name and renamed only when
complete, so an interrupted download never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import hashlib
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20
TIMEOUT_S = 20


def expected_hash_prefix(url: str) -> str | None:
    """The sha256 prefix encoded in a torch-hub style file name, if any."""
    match = re.search(r"-([a-f0-9]{6,})\.", Path(url).name)
    return match.group(1) if match else None


def download_checkpoint(
    url: str, destination: Path, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Stream ``url`` to ``destination``; ``progress(bytes_done, bytes_total)`` after each MiB.

    Raises ``OSError`` (``URLError`` included) when offline or when the hash does not match.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(destination.suffix + ".partial")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, partial.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    prefix = expected_hash_prefix(url)
    if prefix and not digest.hexdigest().startswith(prefix):
        partial.unlink(missing_ok=True)
        raise OSError(f"Checksum mismatch for {destination.name}: the download is corrupt.")
    partial.replace(destination)
    return destination
