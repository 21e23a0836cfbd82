"""``saliency accuracy``: the study's Table 1, every chosen detector and weight source's mAP on
one split of an annotated dataset (PASCAL VOC folder or COCO JSON).

Writes ``accuracy.csv`` and ``accuracy.parquet`` (one row per detector × weight source, see
:func:`saliency_core.evaluate.detection.accuracy_table`) and ``manifest.json`` (settings,
package versions, the dataset's summary and notices) into ``--out``, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from saliency_core.commands.common import (
    DEVICE_HELP,
    comma_list,
    device_name,
    download_bar,
    run_command,
)
from saliency_core.data import runs
from saliency_core.data.annotations import SPLIT_RULES, read_detection_dataset, with_split_rule
from saliency_core.data.atomic import write_atomically, write_bytes_atomic
from saliency_core.data.csvfiles import write_csv
from saliency_core.evaluate import detection
from saliency_core.models.detectors import DETECTORS, TorchvisionSpec
from saliency_core.models.weights import ModelChoice, WeightSource
from saliency_core.settings import SettingsError
from saliency_core.train.session import training_device

TABLE = "accuracy"
MANIFEST = "manifest.json"
TORCHVISION_DETECTORS = tuple(
    name for name, spec in DETECTORS.items() if isinstance(spec, TorchvisionSpec)
)
"""The default ``--detectors``: every torchvision entry (DETR and YOLO are optional extras)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency accuracy",
        description=(
            "Detection accuracy (the study's Table 1): COCO mAP@[.5:.95], mAP@.5 (VOC), "
            "mAP@.75 and per-class AP@.5 of every chosen detector and weight source on one "
            "split of an annotated dataset (PASCAL VOC folder or a folder with a COCO JSON), "
            "through torchmetrics' MeanAveragePrecision (pycocotools). Model classes are matched "
            "to the dataset's by name (COCO<->VOC synonyms); others are dropped. Writes "
            "accuracy.csv, accuracy.parquet and manifest.json and prints the table."
        ),
    )
    parser.add_argument("--dataset", required=True, type=Path, help="annotated dataset folder")
    parser.add_argument("--split", default="test", help="split to score (default: test)")
    parser.add_argument(
        "--split-rule",
        default="dataset",
        choices=list(SPLIT_RULES),
        help="the dataset's own split files (default) or the study's (images with attention "
        "masks are the test split; as `saliency train --preset study`)",
    )
    parser.add_argument(
        "--detectors",
        type=comma_list,
        default=list(TORCHVISION_DETECTORS),
        metavar="NAME[,NAME…]",
        help=f"of: {', '.join(DETECTORS)} (default: every torchvision detector)",
    )
    parser.add_argument(
        "--weights",
        type=comma_list,
        default=[WeightSource.PRETRAINED.value],
        metavar="SOURCE[,SOURCE…]",
        help="pretrained (default), untrained and/or file: one row per detector and source",
    )
    parser.add_argument("--weights-file", help="state dict for --weights file (one detector)")
    parser.add_argument(
        "--input-size", type=int, help="detectors' internal input size (px; default: their own)"
    )
    parser.add_argument("--device", type=device_name, help=DEVICE_HELP)
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument("--out", required=True, type=Path, help="folder for the table")
    return parser


def _sources(names: list[str]) -> list[WeightSource]:
    known = [source.value for source in WeightSource]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SettingsError(f"--weights {','.join(unknown)}: choose from {', '.join(known)}")
    return [WeightSource(name) for name in names]


def choices_of(args: argparse.Namespace) -> list[ModelChoice]:
    """One :class:`ModelChoice` per detector × weight source, checked against the registry."""
    unknown = [name for name in args.detectors if name not in DETECTORS]
    if unknown or not args.detectors:
        raise SettingsError(
            f"--detectors: unknown {', '.join(map(repr, unknown))}; known: {', '.join(DETECTORS)}"
        )
    sources = _sources(args.weights)
    if WeightSource.FILE in sources and (not args.weights_file or len(args.detectors) != 1):
        raise SettingsError(
            "--weights file needs --weights-file PATH and one detector (the file's architecture)"
        )
    if args.weights_file and WeightSource.FILE not in sources:
        raise SettingsError("--weights-file is read only with --weights file")
    return [
        ModelChoice(name, source, args.weights_file, args.input_size)
        for name in args.detectors
        for source in sources
    ]


def _bar(choice: ModelChoice):
    bar = tqdm(unit="image", desc=choice.label, delay=0.5)

    def advance(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return advance


def _write(out: Path, table: pd.DataFrame, manifest: dict) -> None:
    write_csv(out / f"{TABLE}.csv", table)
    write_atomically(out / f"{TABLE}.parquet", lambda temporary: table.to_parquet(temporary))
    text = json.dumps(manifest, indent=2, default=str)
    write_bytes_atomic(out / MANIFEST, text.encode())


def _manifest(args, device, dataset, table: pd.DataFrame, seconds: float) -> dict:
    from saliency_core.evaluate.engine import environment

    settings = {key: getattr(args, key) for key in vars(args)}
    return {
        "command": "saliency accuracy",
        "settings": settings | {"device": str(device)},
        "environment": environment() | {"device": str(device)},
        "dataset": dataset.summary(),
        "notices": list(dataset.notices),
        "rows": table[["detector", "weights", "notes"]].to_dict("records"),
        "seconds": round(seconds, 3),
    }


def printable(table: pd.DataFrame) -> str:
    """The table as text (scores to 3 decimals, NaN as "n/a"), then each row's notes."""
    scores = table.drop(columns="notes").to_string(
        index=False, float_format=lambda value: f"{value:.3f}", na_rep="n/a"
    )
    notes = [
        f"{row.detector} ({row.weights}): {row.notes}" for row in table.itertuples() if row.notes
    ]
    return "\n".join([scores, *notes])


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every model was scored, 1 when some could not be loaded (their rows say why)
    or on a user error, 130 on Ctrl-C."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        choices = choices_of(args)
        device = training_device(args.device)
        refusal = runs.overlap_refusal(args.dataset, args.out)
        if refusal:
            raise SettingsError(refusal)
        dataset = with_split_rule(read_detection_dataset(args.dataset), args.split_rule)
        images = len(dataset.split(args.split))
        if not images:
            raise SettingsError(f"{args.dataset}: the {args.split!r} split has no images")
        print(f"{args.dataset}: {images} {args.split} images → {args.out}", file=sys.stderr)
        started = time.perf_counter()
        table = detection.accuracy_table(
            dataset,
            args.split,
            choices,
            device,
            batch_size=args.batch_size,
            progress=_bar,
            download_progress=download_bar,
        )
        _write(
            args.out, table, _manifest(args, device, dataset, table, time.perf_counter() - started)
        )
        print(printable(table))
        failed = int(table["notes"].str.contains(detection.NOT_LOADED, regex=False).sum())
        print(
            f"{len(table) - failed} of {len(table)} models scored on {images} {args.split} "
            f"images, {failed} not loaded, {len(dataset.notices)} dataset notices; "
            f"results in {args.out}",
            file=sys.stderr,
        )
        return 1 if failed else 0

    return run_command(body)
