"""What every command shares: list arguments, download bars, and one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tqdm import tqdm

from saliency_core.commands.launch import EXIT_INTERRUPTED, RESUME_MESSAGE
from saliency_core.data import file_errors
from saliency_core.data.datasets import DatasetError
from saliency_core.models.extras import MissingDependencyError
from saliency_core.models.weights import MissingWeightsError
from saliency_core.settings import SettingsError

USER_ERRORS = (
    SettingsError,
    DatasetError,
    MissingWeightsError,
    MissingDependencyError,
    ValueError,
)
"""Errors whose message is meant for the user: printed as one line, exit code 1."""


def comma_list(text: str) -> list[str]:
    """``"a,b , c"`` -> ``["a", "b", "c"]`` (registry names contain spaces, not commas)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in comma_list(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text}") from error


def download_bar(label: str) -> Callable[[int, int], None]:
    """A console bar (bytes) drawn the first time weights are downloaded."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=f"download {label}")
        bar.update(done - bar.n)
        if total and done >= total:
            bar.close()

    return update


def run_command(body: Callable[[], int], interrupted: str = RESUME_MESSAGE) -> int:
    """Run a command's body: a user error (or a file-system error: path and reason) is one line
    on stderr and exit 1; Ctrl-C prints ``interrupted`` and exits 130; no traceback."""
    try:
        return body()
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # e.g. an unwritable output folder: the path and the reason
        print(f"error: {file_errors.describe(error)}", file=sys.stderr)
        return 1
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
