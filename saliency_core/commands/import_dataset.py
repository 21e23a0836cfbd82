"""``saliency import-dataset KIND SRC DST``: a fixation dataset's original download (already on
disk) converted into the project's layout (``images/``, ``fixations/<stem>.csv``), with
``DST/README.md`` (the conversion, licence and citation) and ``DST/import_log.csv`` (every
file left out, and why). Rerunning into DST skips the images already there."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from saliency_core.commands.common import run_command
from saliency_core.data.importers import IMPORTERS, import_dataset
from saliency_core.data.importers.base import LOG, ImportReport

NAMED = 10
"""The summary names this many failed images, then points to the log."""


def build_parser() -> argparse.ArgumentParser:
    kinds = "; ".join(f"{kind}: {importer.summary}" for kind, importer in IMPORTERS.items())
    parser = argparse.ArgumentParser(
        prog="saliency import-dataset",
        description=(
            "Convert a fixation dataset's original download (unpacked, already on disk) into "
            "the project's layout: images/, fixations/<stem>.csv (x,y in pixels, subject, "
            "onset_s, duration_s where the source has them), README.md stating the "
            f"conversion, licence and citation, and {LOG} naming every file left out. "
            "Rerunning into the same DST skips what is there; a DST of another kind is refused."
        ),
    )
    parser.add_argument("kind", choices=list(IMPORTERS), metavar="KIND", help=f"one of: {kinds}")
    parser.add_argument("source", type=Path, metavar="SRC", help="the unpacked download")
    parser.add_argument("destination", type=Path, metavar="DST", help="new or empty folder")
    return parser


def summary(report: ImportReport) -> list[str]:
    """The lines printed after an import: counts, then the failed images by name."""
    lines = [
        f"{report.kind} into {report.destination}: {report.imported} image(s) imported "
        f"({report.fixations} fixations), {report.already_there} already there, "
        f"{len(report.failed)} failed, {len(report.left_out)} file(s) or part(s) left out "
        f"(all in {report.destination / LOG})."
    ]
    lines += [f"  failed: {problem.file}: {problem.reason}" for problem in report.failed[:NAMED]]
    if len(report.failed) > NAMED:
        lines.append(f"  … and {len(report.failed) - NAMED} more failed (see {LOG})")
    lines += [f"  left out: {problem.reason}" for problem in report.left_out[:NAMED]]
    if len(report.left_out) > NAMED:
        lines.append(f"  … and {len(report.left_out) - NAMED} more left out (see {LOG})")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the import; exit 0, or 1 when an image failed (named in the summary and the log)."""
    arguments = build_parser().parse_args(argv)

    def body() -> int:
        report = import_dataset(
            arguments.kind,
            arguments.source,
            arguments.destination,
            progress=lambda items: tqdm(items, unit="image", desc=arguments.kind),
        )
        print("\n".join(summary(report)))
        return 1 if report.failed else 0

    return run_command(body)
