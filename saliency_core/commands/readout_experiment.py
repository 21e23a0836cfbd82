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

from saliency_core.commands.common import comma_list, fixation_dataset, run_command
from saliency_core.commands.readout import add_training_flags
from saliency_core.train.readout_experiment import (
    IMAGES,
    TABLE,
    ExperimentPlan,
    run_experiment,
)


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
    add_training_flags(parser)
    parser.add_argument(
        "--no-cams", dest="cams", action="store_false", help="skip the backbones' own Grad-CAMs"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        name, root = fixation_dataset(args.dataset)
        plan = ExperimentPlan(
            root,
            name,
            tuple(args.backbones),
            tuple(args.weights),
            tuple(args.readouts),
            tuple(int(seed) for seed in args.seeds),
            tuple(fixation_dataset(text) for text in args.test_dataset),
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
