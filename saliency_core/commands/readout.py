"""``saliency readout``: train a saliency readout on a classifier backbone over a fixation
dataset (Oyama & Yamanaka 2018; DeepGaze IIE's readout), into a run folder that is a type-2
model (``saliency evaluate --type2 RUN``). Rerunning the same command resumes (mid-epoch too);
Ctrl-C saves a checkpoint and exits 130."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from saliency_core.commands.common import STOPPED, StopOnInterrupt, run_command, step_bar
from saliency_core.commands.launch import EXIT_INTERRUPTED
from saliency_core.data.datasets import SAMPLE_DIR, SAMPLE_NAME
from saliency_core.models.readout import BACKBONES, READOUT_KINDS, ReadoutRecipe
from saliency_core.models.weights import WeightSource
from saliency_core.train.readout import LOSSES, ReadoutTraining, train_readout


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency readout",
        description=(
            "Train a readout (Oyama's DC/SPC/BI or DeepGaze's) on a classifier's (or a "
            "detector's backbone's) features over "
            "a fixation dataset (images/ + fixations/<stem>.csv): seeded image-level "
            "train/val/test split, NLL loss (or pixel-wise KLD), early stopping on validation, "
            "resumable (rerun the command; Ctrl-C saves). Writes RUN/readout.pt, "
            "checkpoint_last.pt, val_log.csv, train_log.parquet, manifest.json."
        ),
    )
    parser.add_argument("--dataset", required=True, help="dataset folder, or 'sample'")
    parser.add_argument("--out", required=True, type=Path, help="run folder (resumed if it exists)")
    parser.add_argument(
        "--backbone",
        default="ResNet-50",
        choices=list(BACKBONES),
        help="a registry classifier, or a ResNet-FPN detector (its backbone; default ResNet-50)",
    )
    parser.add_argument("--weights", default="pretrained", choices=[s.value for s in WeightSource])
    parser.add_argument("--weights-file", help="backbone state dict (with --weights file)")
    parser.add_argument("--layers", help="backbone layers, comma-separated (default: per backbone)")
    parser.add_argument("--readout", default="dc", choices=list(READOUT_KINDS))
    tuning = parser.add_mutually_exclusive_group()
    tuning.add_argument("--frozen", dest="finetune", action="store_false", help="(default)")
    tuning.add_argument("--finetune", dest="finetune", action="store_true")
    parser.set_defaults(finetune=False)  # else the first flag's default (True) wins
    parser.add_argument("--input-size", type=int, default=256, help="input long side (px)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3, help="readout learning rate")
    parser.add_argument("--backbone-lr", type=float, default=1e-5, help="fine-tuned backbone")
    parser.add_argument("--patience", type=int, default=5, help="early stopping (epochs)")
    parser.add_argument("--loss", default="nll", choices=LOSSES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="only the first N images (sorted ids)")
    return parser


def settings_from(args: argparse.Namespace, data_name: str) -> ReadoutTraining:
    recipe = ReadoutRecipe(
        args.backbone,
        args.weights,
        args.weights_file,
        tuple(part.strip() for part in (args.layers or "").split(",") if part.strip()),
        args.readout,
        args.input_size,
        args.finetune,
        data_name,
        args.seed,
    )
    return ReadoutTraining(
        recipe,
        args.epochs,
        args.batch_size,
        args.lr,
        args.backbone_lr,
        args.patience,
        args.loss,
        args.limit,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        root = SAMPLE_DIR if args.dataset == "sample" else Path(args.dataset)
        if not (root / "fixations").is_dir():
            raise ValueError(f"{root} has no fixations/ folder: not a fixation dataset")
        name = SAMPLE_NAME if args.dataset == "sample" else root.name
        settings = settings_from(args, name)
        bar, update = step_bar(settings.recipe.label)
        try:
            with StopOnInterrupt() as stop:
                result = train_readout(settings, root, args.out, update, stop=stop)
        finally:
            bar.close()
        if result.stopped:
            print(STOPPED, file=sys.stderr)
            return EXIT_INTERRUPTED
        test = result.test
        print(
            f"{settings.recipe.label}: test NLL {test['nll']:.4f} nats/fixation, IG over the "
            f"centre bias {test['ig']:+.4f} bits/fixation → {result.readout}"
        )
        return 0

    return run_command(body)
