"""``saliency <command> …``: the one command-line entry point (a console script), one
subcommand per command module; ``python -m saliency_core.evaluate|augment`` stay as shims."""

from __future__ import annotations

import argparse

from saliency_core.commands.launch import run

COMMANDS: dict[str, str] = {
    "evaluate": "score every image of a dataset: maps against references and fixations, tables",
    "augment": "human-centred augmentation of a dataset (selective erasing or inpainting)",
    "accuracy": "detection accuracy (mAP) of detectors on an annotated dataset (Table 1)",
    "train": "fine-tune a detector on a VOC/COCO dataset with an augmentation arm (resumable)",
    "readout": "train a saliency readout on a classifier backbone over a fixation dataset",
    "experiment": "fine-tune on each augmentation arm × seed, score mAP and agreement: the table",
    "readout-experiment": "readouts on backbones × weights × kinds × seeds, MIT metrics, table",
    "import-dataset": "MIT1003, CAT2000 or SALICON from its original download into the layout",
}
"""Subcommand -> one line of help; ``saliency_core.commands.<name>.main(argv)`` runs it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency",
        description="Saliency Explorer's commands; `saliency COMMAND --help` lists its flags.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        # the command's own parser reads the rest, --help included
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv`` (default: the process's arguments) to its subcommand."""
    parsed, rest = build_parser().parse_known_args(argv)
    return run(parsed.command, rest)
