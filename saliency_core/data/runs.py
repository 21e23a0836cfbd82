"""The output folder of a dataset run (the evaluate engine's results, an augmented dataset): it
never overlaps its input, and a run resumes in it only with the identity (dataset, settings,
options) of the run that wrote it. Both checks say why a folder is refused, or return None."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Comparable = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Turns a run's identity (as written, or as now) into the values compared key by key."""


def overlap_refusal(dataset: Path, out: Path) -> str | None:
    """Why ``out`` cannot take a run over ``dataset`` (one inside the other, or the same), or
    None."""
    data, target = dataset.resolve(), out.resolve()
    if target == data or target.is_relative_to(data) or data.is_relative_to(target):
        return (
            f"--out {out} and the dataset {dataset} overlap; a run never writes into its input. "
            "Choose an output folder outside the dataset (and not above it)."
        )
    return None


def changed_keys(earlier: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ, sorted (a key on one side only counts as None on the
    other)."""
    return sorted(key for key in earlier.keys() | now.keys() if earlier.get(key) != now.get(key))


def resume_refusal(
    record: Path, identity: Mapping[str, Any], comparable: Comparable = dict
) -> str | None:
    """Why the folder holding ``record`` (the JSON object an earlier run wrote there) cannot take
    a run of ``identity``, or None: there is no earlier run, or both compare equal through
    ``comparable`` (applied to both sides)."""
    if not record.is_file():
        return None
    try:
        earlier = json.loads(record.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return f"{record} is unreadable ({error}); use a new output folder."
    if not isinstance(earlier, dict):
        return f"{record} is unreadable (not a JSON object); use a new output folder."
    changed = changed_keys(comparable(earlier), comparable(identity))
    if not changed:
        return None
    return (
        f"--out {record.parent} holds a run with other settings ({', '.join(changed)} differ); "
        "resuming would mix them. Use a new output folder, or the earlier settings."
    )
