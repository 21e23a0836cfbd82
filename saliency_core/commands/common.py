"""What every command shares: the settings' flags, list arguments, download bars, and one-line
errors."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tqdm import tqdm

from saliency_core.commands.launch import EXIT_INTERRUPTED, RESUME_MESSAGE
from saliency_core.data import file_errors
from saliency_core.data.datasets import DatasetError
from saliency_core.models.extras import MissingDependencyError
from saliency_core.models.weights import MissingWeightsError, WeightSource
from saliency_core.settings import DECLARATIONS, SECTIONS, Declaration, SettingsError

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


PAIRS = tuple[tuple[str, str], ...]
"""The type of a setting given as NAME=PATH pairs (``weights_files``)."""
TYPE_ARGUMENTS: dict[Any, dict[str, Any]] = {
    bool: {"action": "store_true"},
    int: {"type": int},
    float: {"type": float},
    str: {},
    WeightSource: {"choices": [source.value for source in WeightSource]},
    PAIRS: {"action": "append"},
}
"""A setting's type -> its flag's argparse keywords (lists of names: :func:`_list_arguments`)."""


def add_setting_flag(
    container: Any, name: str, *, one: bool = False, flag: str | None = None, **overrides: Any
) -> None:
    """Add setting ``name``'s flag to a parser or group, from its declaration: ``one`` takes one
    name of a list (``--detector NAME`` for ``detectors``), ``flag`` spells it otherwise (without
    ``--``), ``overrides`` are further argparse keywords (``required``, ``default``, …)."""
    declared = DECLARATIONS[name]
    spelled = flag or (declared.one if one else declared.flag_name)
    if declared.is_list:
        arguments = _list_arguments(declared, one)
    else:
        arguments = {**TYPE_ARGUMENTS[declared.type], "help": declared.help}
        arguments |= {"choices": list(declared.choices)} if declared.choices else {}
        arguments |= {"metavar": declared.metavar} if declared.metavar else {}
    arguments |= overrides
    container.add_argument(f"--{spelled}", **_escaped(arguments))


def _list_arguments(declared: Declaration, one: bool) -> dict[str, Any]:
    """A list of registry names: one of them (``one``; argparse's ``choices``, or, for a registry
    whose ``in`` takes more than its keys, :func:`one_name`) or ``NAME[,NAME…]``, the registry's
    names (with their summaries where its entries have one) in the help."""
    registry = declared.names()
    if all(hasattr(entry, "summary") for entry in registry.values()):
        described = "; ".join(f"{key}: {entry.summary}" for key, entry in registry.items())
    else:
        described = ", ".join(registry)
    note = f" ({declared.help})" if declared.help else ""
    metavar = declared.metavar
    if one:
        wider = type(registry).__contains__ is not dict.__contains__  # e.g. readout paths
        check = {"type": one_name(registry)} if wider else {"choices": list(registry)}
        return {**check, "metavar": metavar, "help": f"one of: {described}{note}"}
    return {"type": comma_list, "help": f"{metavar}[,{metavar}…] of: {described}{note}"}


def one_name(registry: Mapping[str, Any]) -> Callable[[str], str]:
    """A flag's type taking one name of ``registry``, checked through the registry's ``in`` as
    the settings check a list's names: a registry that also takes paths (a trained readout's file
    or run folder in the type-2 and reference registries) takes them here too."""

    def name(text: str) -> str:
        if text in registry:
            return text
        listed = ", ".join(repr(key) for key in registry)
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {listed})")

    return name


def _escaped(arguments: dict[str, Any]) -> dict[str, Any]:
    """``help`` as argparse reads it (``%`` escaped)."""
    if arguments.get("help"):
        arguments["help"] = arguments["help"].replace("%", "%%")
    return arguments


def add_setting_flags(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Every declared setting's flag, in its section's group (:data:`SECTIONS` order; flags of
    one ``exclusive`` set in a mutually exclusive group); returns the groups by section."""
    groups = {key: parser.add_argument_group(title) for key, title in SECTIONS.items()}
    exclusive: dict[str, Any] = {}
    for name, declared in DECLARATIONS.items():
        if declared.flag_name is None:
            continue
        group = groups[declared.section]
        if declared.exclusive:
            if declared.exclusive not in exclusive:
                exclusive[declared.exclusive] = group.add_mutually_exclusive_group()
            group = exclusive[declared.exclusive]
        add_setting_flag(group, name)
    return groups


def setting_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings given as flags (parsed by :func:`add_setting_flags`, absent ones suppressed),
    as :meth:`Settings.from_dict` values; NAME=PATH flags become a list of pairs."""
    values = {}
    for name, declared in DECLARATIONS.items():
        dest = (declared.flag_name or "").replace("-", "_")
        if dest in given:
            values[name] = given[dest]
            if declared.type == PAIRS:
                values[name] = _pairs(given[dest], declared.flag_name)
    return values


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = [item.split("=", 1) for item in items]
    if any(len(pair) != 2 for pair in pairs):
        raise SettingsError(f"--{flag} takes NAME=PATH")
    return [(name.strip(), path.strip()) for name, path in pairs]


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


def step_bar(desc: str) -> tuple[tqdm, Callable[[Any], None]]:
    """A console bar over a training run's steps (tqdm's rate and ETA) and the ``progress``
    callback that moves it: a StepReport's position, epoch, loss and lr."""
    bar = tqdm(unit="step", desc=desc, delay=0.5)

    def update(report) -> None:
        bar.total = report.total
        bar.update(report.done - bar.n)
        bar.set_postfix_str(
            f"epoch {report.epoch}/{report.epochs} loss {report.loss:.3f} lr {report.lr:.2g}"
        )

    return bar, update


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


STOPPED = "Stopped: the last checkpoint is saved; run the same command again to resume."
"""What a training command says when :class:`StopOnInterrupt` stopped it (exit 130)."""


class StopOnInterrupt:
    """The first Ctrl-C sets the stop event (the step under way finishes, a checkpoint is
    saved); a second one interrupts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __enter__(self) -> threading.Event:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, *_: object) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        print("\nStopping after this step (Ctrl-C again to abort)…", file=sys.stderr)
        self.event.set()

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self.previous)
