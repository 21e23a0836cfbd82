"""Where the app may read: its configured roots, checked on resolved real paths.

A results folder opened from the Dataset report lies under ``$SALIENCY_RESULTS_DIR``; a dataset
read through a results folder's manifest lies under a dataset root (``$SALIENCY_DATA_DIR``'s
folders or the shipped sample set). :func:`confine` is the one check every front end calls on a
path it got from a user (a typed path, a manifest, a run form): the path is resolved first, so a
symbolic link inside a root that points out of it is refused too. On a single-user machine,
``SALIENCY_ALLOW_ANY_PATH=1`` lifts the check.

Files a user names one by one (a weights file, a trained readout, a link's fine-tuned model)
are checked against one switch, :func:`confine_reads`: the library reads them anywhere (its
default, as the console commands do); the app confines them to its folders once at start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

ALLOW_ANY_PATH_VARIABLE = "SALIENCY_ALLOW_ANY_PATH"
DATA_DIR_VARIABLE = "SALIENCY_DATA_DIR"
OPT_IN = f"{ALLOW_ANY_PATH_VARIABLE}=1"
"""The opt-in, as it is written in messages and in the README."""
_TRUE = {"1", "true", "yes", "on"}


_reads: tuple[tuple[Path, ...], str] | None = None


class OutsideRootsError(ValueError):
    """A path outside every allowed root; the message names the root and the opt-in."""


def any_path_allowed(environ: Mapping[str, str] = os.environ) -> bool:
    """True when ``SALIENCY_ALLOW_ANY_PATH`` is 1 (or true/yes/on): any folder may be opened."""
    return environ.get(ALLOW_ANY_PATH_VARIABLE, "").strip().lower() in _TRUE


def data_roots(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The folders of ``$SALIENCY_DATA_DIR``: one or several, joined by ``os.pathsep``
    (``:`` on Linux and macOS, ``;`` on Windows); empty parts are ignored."""
    text = environ.get(DATA_DIR_VARIABLE, "")
    return [Path(part.strip()).expanduser() for part in text.split(os.pathsep) if part.strip()]


def confine(
    path: str | Path,
    roots: Iterable[Path],
    where: str,
    environ: Mapping[str, str] = os.environ,
) -> Path:
    """``path`` resolved (symbolic links followed) when it lies inside one of ``roots`` (resolved
    too), or when :func:`any_path_allowed`; else :class:`OutsideRootsError`, one line naming
    ``where`` (what the roots are, e.g. "$SALIENCY_RESULTS_DIR (/srv/results)") and the opt-in."""
    resolved = Path(path).expanduser().resolve()
    if any_path_allowed(environ):
        return resolved
    if any(resolved.is_relative_to(Path(root).expanduser().resolve()) for root in roots):
        return resolved
    raise OutsideRootsError(
        f"{path} is outside {where}: refused (the app reads only under its configured "
        f"folders). On a single-user machine, start the app with {OPT_IN} to open any folder."
    )


def confine_reads(folders: Iterable[Path] | None, where: str = "the app's folders") -> None:
    """From now on, :func:`check_read` accepts files only under ``folders`` (``where`` says
    what they are, in messages); None: anywhere again (the library's default)."""
    global _reads
    _reads = None if folders is None else (tuple(Path(folder) for folder in folders), where)


def check_read(path: str | Path, environ: Mapping[str, str] = os.environ) -> Path:
    """``path`` (resolved when reads are confined) if it may be read under
    :func:`confine_reads`; else :class:`OutsideRootsError` naming the folders and the opt-in."""
    if _reads is None:
        return Path(path).expanduser()
    folders, where = _reads
    return confine(path, folders, where, environ)


def read_allowed(path: str | Path) -> bool:
    """Whether :func:`check_read` accepts ``path``."""
    try:
        check_read(path)
    except OutsideRootsError:
        return False
    return True
