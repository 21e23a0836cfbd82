"""What every command shares: the settings' flags, list arguments, download bars, one-line
errors, and the training commands' launchers (local, torchrun, Ray Train)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from saliency_core.commands.launch import EXIT_INTERRUPTED, RESUME_MESSAGE
from saliency_core.data import file_errors
from saliency_core.data.datasets import SAMPLE_DIR, SAMPLE_NAME, DatasetError
from saliency_core.models.extras import MissingDependencyError
from saliency_core.models.weights import MissingWeightsError, WeightSource
from saliency_core.settings import DECLARATIONS, SECTIONS, Declaration, Range, SettingsError

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


def int_list(text: str) -> list[int]:
    """``"0, 1,2"`` -> ``[0, 1, 2]`` (a flag's type)."""
    try:
        return [int(part) for part in comma_list(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected whole numbers: {text}") from error


def device_syntax(text: str) -> str | None:
    """A ``--device`` value as written: "auto" (None: CUDA when present, as
    ``default_device``) or a torch device name (cpu, cuda, cuda:1, …); else a usage error."""
    if text == "auto":
        return None
    try:
        torch.device(text)
    except RuntimeError as error:
        raise argparse.ArgumentTypeError(f"{text}: {error}") from None
    return text


def missing_device(name: str) -> str | None:
    """Why this machine lacks the torch device ``name`` (no CUDA, or no CUDA device of that
    index), or None."""
    device = torch.device(name)
    if device.type != "cuda":
        return None
    if not torch.cuda.is_available():
        return f"{name}: CUDA is not available here"
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"{name}: this machine has {torch.cuda.device_count()} CUDA device(s)"
    return None


def device_name(text: str) -> str | None:
    """:func:`device_syntax`, for a device this machine has (:func:`missing_device`); else a
    usage error saying why."""
    name = device_syntax(text)
    if name is not None and (missing := missing_device(name)):
        raise argparse.ArgumentTypeError(missing)
    return name


DEVICE_HELP = "auto (default: CUDA when present), cpu, cuda, cuda:1, …"


def in_range(accepted: Range) -> Callable[[str], float]:
    """A flag's type: the number ``text`` (whole when ``accepted.integer``) that ``accepted``
    holds; else a usage error naming the range."""

    def number(text: str) -> float:
        try:
            value = int(text) if accepted.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {accepted}") from None
        if not accepted.holds(value):
            raise argparse.ArgumentTypeError(f"{text} is not {accepted}")
        return value

    return number


def copies(text: str) -> tuple[str, str]:
    """``--copies NAME=DIR`` -> ``(NAME, DIR)`` (a flag's type)."""
    name, _, folder = text.partition("=")
    if not folder:
        raise argparse.ArgumentTypeError(f"--copies takes NAME=DIR, got {text!r}")
    return name.strip(), folder.strip()


def fixation_dataset(text: str) -> tuple[str, Path]:
    """(name, folder) of a fixation dataset flag: a folder with ``fixations/``, or 'sample'."""
    root = SAMPLE_DIR if text == "sample" else Path(text).expanduser()
    if not (root / "fixations").is_dir():
        raise ValueError(f"{root} has no fixations/ folder: not a fixation dataset")
    return (SAMPLE_NAME if text == "sample" else root.name), root


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


@dataclass(frozen=True)
class Launch:
    """One training command's run: its settings (a training of
    :data:`~saliency_core.train.distributed.TRAININGS`), dataset and run folder, its own
    arguments (torchrun reruns them), ``here`` training in this process (``(device, quiet)`` ->
    exit code; ``quiet`` on ranks other than 0), and the launcher flags' values."""

    settings: Any
    dataset_root: Path
    run_dir: Path
    argv: list[str]
    here: Callable[[Any, bool], int]
    device: str | None = None
    launcher: str = "local"
    num_workers: int = 2
    ray_address: str | None = None


LAUNCH_OPTIONS = ("device", "launcher", "num_workers", "ray_address")
"""The launcher flags' destinations (:func:`add_launcher_flags`)."""


def add_launcher_flags(container: Any) -> None:
    """``--device``, ``--launcher``, ``--num-workers`` (``--workers-per-node``) and
    ``--ray-address`` on a training command's parser or group (read by :func:`launch`)."""
    container.add_argument(
        "--device", type=device_syntax, help=f"{DEVICE_HELP} (with ray: the workers' device)"
    )
    container.add_argument(
        "--launcher", choices=list(LAUNCHERS), help="local (default), torchrun, ray"
    )
    container.add_argument(
        "--num-workers",
        "--workers-per-node",
        dest="num_workers",
        type=int,
        help="training processes: torchrun's per machine, Ray's in all (default 2)",
    )
    container.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")


def launch(
    settings: Any,
    dataset_root: Path,
    run_dir: Path,
    argv: list[str],
    here: Callable[[Any, bool], int],
    options: Mapping[str, Any],
) -> int:
    """Train with the launcher ``options`` names (the launcher flags' values; absent or None:
    the defaults); the exit code."""
    given = {key: options[key] for key in LAUNCH_OPTIONS if options.get(key) is not None}
    request = Launch(settings, Path(dataset_root), Path(run_dir), argv, here, **given)
    return LAUNCHERS[request.launcher](request)


def _here_device(request: Launch) -> str | None:
    """The requested device, when this machine has it (else SettingsError)."""
    if request.device is not None and (missing := missing_device(request.device)):
        raise SettingsError(f"--device {missing}")
    return request.device


def _local(request: Launch) -> int:
    return request.here(_here_device(request), False)


def _torchrun(request: Launch) -> int:
    """Rerun the command under torchrun; under it, train in its process group."""
    from saliency_core.train import distributed

    if not distributed.under_torchrun():
        _here_device(request)  # the workers run on this machine
        training = distributed.training_of(request.settings)
        command = distributed.torchrun_command(training, request.argv, request.num_workers)
        print(" ".join(command), file=sys.stderr)
        return subprocess.call(command)
    device = distributed.local_device(request.device)
    with distributed.process_group(device):  # every rank stops at the same step on Ctrl-C
        return request.here(device, os.environ["RANK"] != "0")


def _ray(request: Launch) -> int:
    from saliency_core.train.distributed import ray_train
    from saliency_core.train.session import training_device

    device = training_device(request.device).type
    summary = ray_train(
        request.settings,
        request.dataset_root,
        request.run_dir,
        request.num_workers,
        use_gpu=device == "cuda",
        address=request.ray_address,
    )
    print(f"Ray Train: {summary}", file=sys.stderr)
    return 0


LAUNCHERS: dict[str, Callable[[Launch], int]] = {
    "local": _local,
    "torchrun": _torchrun,
    "ray": _ray,
}
"""``--launcher`` -> how the training runs: in this process, over torchrun's processes (one per
device, any number of machines), or over Ray Train's workers."""
