"""``saliency readout-experiment``: Oyama & Yamanaka's experiment — readouts on each backbone ×
weight source × readout kind × seed, trained on one dataset, scored on held-out images (and other
datasets) with the MIT metrics beside the floor, DeepGaze IIE and the human ceiling; a tidy
table for the Dataset report's accuracy vs. agreement plot.

A command of its own rather than ``saliency readout --experiment``: it takes lists (backbones,
weights, kinds, seeds, test datasets) where ``readout`` takes one of each, and writes an
experiment folder of many runs and evaluations, not one run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from saliency_core.commands.common import comma_list, run_command
from saliency_core.data.datasets import SAMPLE_DIR, SAMPLE_NAME
from saliency_core.evaluate.readout_experiment import (
    IMAGES,
    TABLE,
    ExperimentPlan,
    run_experiment,
)
from saliency_core.train.readout import LOSSES


def _dataset(text: str) -> tuple[str, Path]:
    """(name, folder) of ``--dataset``/``--test-dataset``: a folder with fixations/, or
    'sample'."""
    root = SAMPLE_DIR if text == "sample" else Path(text).expanduser()
    if not (root / "fixations").is_dir():
        raise ValueError(f"{root} has no fixations/ folder: not a fixation dataset")
    return (SAMPLE_NAME if text == "sample" else root.name), root


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency readout-experiment",
        description=(
            "Train a readout on each backbone × weights × kind × seed over one fixation "
            "dataset, score each on its held-out test split (and every --test-dataset) with IG, "
            "NSS, AUC-Judd, AUC-Borji, sAUC, CC, KLD, SIM beside the centre-bias floor, DeepGaze "
            "IIE (if its weights are on disk) and the human ceiling. Writes OUT/table.csv, "
            "table.parquet, images.parquet, manifest.json, runs/, evals/; a rerun skips what "
            "is finished. Open OUT in the Dataset report."
        ),
    )
    parser.add_argument("--dataset", required=True, help="training dataset folder, or 'sample'")
    parser.add_argument("--out", required=True, type=Path, help="experiment folder (resumed)")
    parser.add_argument(
        "--test-dataset",
        action="append",
        default=[],
        help="also test every readout on all images of this dataset (repeatable)",
    )
    parser.add_argument("--backbones", type=comma_list, default=["ResNet-50", "EfficientNet-B0"])
    parser.add_argument("--weights", type=comma_list, default=["pretrained", "untrained"])
    parser.add_argument("--readouts", type=comma_list, default=["dc"], help="dc,spc,bi,deepgaze")
    parser.add_argument("--seeds", type=comma_list, default=["0"])
    tuning = parser.add_mutually_exclusive_group()
    tuning.add_argument("--frozen", dest="finetune", action="store_false", help="(default)")
    tuning.add_argument("--finetune", dest="finetune", action="store_true")
    parser.set_defaults(finetune=False)  # else the first flag's default (True) wins
    parser.add_argument("--input-size", type=int, default=256, help="input long side (px)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--loss", default="nll", choices=LOSSES)
    parser.add_argument("--limit", type=int, help="only the first N images of each dataset")
    parser.add_argument(
        "--no-cams", dest="cams", action="store_false", help="skip the backbones' own Grad-CAMs"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        name, root = _dataset(args.dataset)
        plan = ExperimentPlan(
            root,
            name,
            tuple(args.backbones),
            tuple(args.weights),
            tuple(args.readouts),
            tuple(int(seed) for seed in args.seeds),
            tuple(_dataset(text) for text in args.test_dataset),
            args.epochs,
            args.batch_size,
            args.input_size,
            args.finetune,
            args.lr,
            args.patience,
            args.loss,
            args.limit,
            args.cams,
        )
        report = run_experiment(plan, args.out, print)
        for run in report.runs:
            print(f"{run['key']}: {run['training']}")
        for notice in report.notices:
            print(f"notice: {notice}")
        print(
            f"{len(report.table)} rows → {args.out / (TABLE + '.csv')} "
            f"(per image: {args.out / IMAGES})"
        )
        return 0

    return run_command(body)
