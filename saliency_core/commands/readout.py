"""``saliency readout``: train a saliency readout on a classifier backbone over a fixation
dataset (Oyama & Yamanaka 2018; DeepGaze IIE's readout), into a run folder that is a type-2
model (``saliency evaluate --type2 RUN``). Rerunning the same command resumes (mid-epoch too);
Ctrl-C saves a checkpoint and exits 130. ``--launcher torchrun|ray`` trains data-parallel over
several processes or machines."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from saliency_core.commands.common import (
    STOPPED,
    StopOnInterrupt,
    add_launcher_flags,
    fixation_dataset,
    launch,
    run_command,
    step_bar,
)
from saliency_core.commands.launch import EXIT_INTERRUPTED
from saliency_core.models.readout import BACKBONES, READOUT_KINDS, ReadoutRecipe
from saliency_core.models.weights import WeightSource
from saliency_core.train.readout import LOSSES, ReadoutTraining, train_readout


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The flags ``saliency readout`` and ``saliency readout-experiment`` share: the backbone
    frozen or fine-tuned, input size, epochs, batch size, learning rate, patience, loss and the
    image limit."""
    tuning = parser.add_mutually_exclusive_group()
    tuning.add_argument("--frozen", dest="finetune", action="store_false", help="(default)")
    tuning.add_argument("--finetune", dest="finetune", action="store_true")
    parser.set_defaults(finetune=False)  # else the first flag's default (True) wins
    parser.add_argument("--input-size", type=int, default=256, help="input long side (px)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3, help="readout learning rate")
    parser.add_argument("--patience", type=int, default=5, help="early stopping (epochs)")
    parser.add_argument("--loss", default="nll", choices=LOSSES)
    parser.add_argument("--limit", type=int, help="only the first N images of each dataset")


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
    add_training_flags(parser)
    parser.add_argument("--backbone-lr", type=float, default=1e-5, help="fine-tuned backbone")
    parser.add_argument("--seed", type=int, default=0)
    add_launcher_flags(parser.add_argument_group("devices and launchers"))
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


def _train_here(settings: ReadoutTraining, root: Path, out: Path, device, quiet: bool) -> int:
    """Train in this process; ``quiet`` (ranks other than 0): only the exit code."""
    bar, update = step_bar(settings.recipe.label)
    try:
        with StopOnInterrupt() as stop:
            result = train_readout(settings, root, out, update, stop=stop, device=device)
    finally:
        bar.close()
    if quiet:
        return EXIT_INTERRUPTED if result.stopped else 0
    if result.stopped:
        print(STOPPED, file=sys.stderr)
        return EXIT_INTERRUPTED
    test = result.test
    print(
        f"{settings.recipe.label}: test NLL {test['nll']:.4f} nats/fixation, IG over the "
        f"centre bias {test['ig']:+.4f} bits/fixation → {result.readout}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when training finished, 130 when stopped (rerun to resume), 1 on a user error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)

    def body() -> int:
        name, root = fixation_dataset(args.dataset)
        settings = settings_from(args, name)
        here = partial(_train_here, settings, root, args.out)
        return launch(settings, root, args.out, argv, here, vars(args))

    return run_command(body)


if __name__ == "__main__":  # torchrun -m saliency_core.commands.readout …
    raise SystemExit(main())
