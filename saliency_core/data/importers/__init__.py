"""Fixation datasets from their original downloads into the project's layout
(``saliency import-dataset KIND SRC DST``): one module per dataset, registered in
:data:`IMPORTERS`; :mod:`.base` holds the shared driver."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from saliency_core.data.importers import cat2000, mit1003, salicon
from saliency_core.data.importers.base import (
    Importer,
    ImportRefused,
    ImportReport,
    Item,
    run_import,
)

IMPORTERS: dict[str, Importer] = {
    "mit1003": mit1003.IMPORTER,
    "cat2000": cat2000.IMPORTER,
    "salicon": salicon.IMPORTER,
}
"""Dataset kind -> its importer."""


def import_dataset(
    kind: str,
    source: str | Path,
    destination: str | Path,
    progress: Callable[[Sequence[Item]], Iterable[Item]] = iter,
) -> ImportReport:
    """Convert the ``kind`` dataset's download in ``source`` into ``destination`` (see
    :func:`.base.run_import`); an unknown kind is refused with the known ones."""
    if kind not in IMPORTERS:
        raise ImportRefused(f"Unknown dataset kind {kind!r}; known: {', '.join(IMPORTERS)}.")
    return run_import(kind, IMPORTERS[kind], Path(source), Path(destination), progress)
