"""Show failures as messages, never as tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from saliency_core.data import file_errors
from saliency_core.data.datasets import DatasetError
from saliency_core.data.images import ImageLoadError
from saliency_core.maps.detector_maps import ComputeError
from saliency_core.models.weights import MissingWeightsError

LOG = logging.getLogger("saliency_explorer")
USER_ERRORS = (ImageLoadError, MissingWeightsError, DatasetError, ComputeError, ValueError)
"""Errors whose message is written for the user and shown as is."""


def report(error: BaseException, what: str) -> None:
    """One readable message for ``error`` (a file-system error names the path and says what went
    wrong); unexpected errors are logged with their traceback."""
    if isinstance(error, USER_ERRORS):
        st.error(f"{what}: {error}", icon=":material/warning:")
    elif isinstance(error, OSError):  # a file that cannot be read or written: path and reason
        LOG.warning("%s: %s", what, error)
        st.error(f"{what}: {file_errors.describe(error)}", icon=":material/warning:")
    else:
        LOG.exception("Unexpected error while %s", what)
        st.error(
            f"{what} failed unexpectedly ({error.__class__.__name__}). Details are in the "
            "server log; the rest of the page still works.",
            icon=":material/warning:",
        )


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run a block; on failure show a message instead of a traceback and carry on."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the app never shows a traceback
        report(error, what)
