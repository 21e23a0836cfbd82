"""``saliency experiment``: the study's main experiment in one command — fine-tune a detector on
each augmentation arm with several seeds, score the model before fine-tuning and every final
model on the test split (mAP, and agreement with people through the evaluate engine), and write
the arm × metric table with 95% intervals over seeds. Rerunning the same command resumes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from saliency_core.commands.common import (
    DEVICE_HELP,
    StopOnInterrupt,
    add_setting_flag,
    comma_list,
    copies,
    device_name,
    int_list,
    run_command,
)
from saliency_core.commands.launch import EXIT_INTERRUPTED
from saliency_core.models.weights import WeightSource
from saliency_core.presets import SETTINGS_PRESETS
from saliency_core.settings import Settings, SettingsError, load_settings
from saliency_core.train.recipe import TRAIN_PRESETS

TRAIN_FLAGS = {
    "epochs": int,
    "batch_size": int,
    "lr": float,
    "warmup_iters": int,
    "lr_steps": int_list,
    "input_size": int,
    "workers": int,
    "trainable_backbone_layers": int,
}
"""Training settings the command passes on (the rest: the preset's)."""
SCORING_FIELDS = ("cams", "references", "type2", "type2_weights", "working_size")
"""Evaluate settings the command takes as flags (the rest: --scoring-config or defaults)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency experiment",
        description=(
            "Fine-tune a detector on each augmentation arm × seed, score the model before "
            "fine-tuning and each final model on the test split (mAP; agreement with people by "
            "the evaluate engine) and write results.csv and table.csv (mean and 95%% Student-t "
            "interval over seeds per arm). Rerun the same command to resume."
        ),
    )
    data = parser.add_argument_group("data and output")
    data.add_argument("--dataset", type=Path, required=True, help="VOC or COCO folder")
    data.add_argument("--out", type=Path, required=True, help="experiment folder (resumed)")
    data.add_argument("--test-split", default="test", help="split scored (default test)")
    model = parser.add_argument_group("model and arms")
    model.add_argument("--detector", default="Faster R-CNN R50-FPN", help="registry name")
    model.add_argument("--weights", default="pretrained", choices=[s.value for s in WeightSource])
    model.add_argument("--weights-file", help="state dict to start from (--weights file)")
    model.add_argument(
        "--arms", type=comma_list, default=["none"], help="e.g. none,erase,transform"
    )
    model.add_argument("--seeds", type=int_list, default=[0], help="e.g. 0,1,2")
    model.add_argument(
        "--copies", type=copies, action="append", default=[], help="NAME=DIR: erase/inpaint "
        "copies (default: computed once under OUT/copies)",
    )  # fmt: skip
    recipe = parser.add_argument_group("training")
    recipe.add_argument("--preset", choices=list(TRAIN_PRESETS), default="torchvision")
    for name, kind in TRAIN_FLAGS.items():
        recipe.add_argument(f"--{name.replace('_', '-')}", type=kind, help="default: the preset's")
    recipe.add_argument(
        "--no-amp", dest="amp", action="store_false", default=None, help="no mixed precision"
    )
    recipe.add_argument("--device", type=device_name, help=DEVICE_HELP)
    scoring = parser.add_argument_group("scoring (the evaluate engine's settings)")
    scoring.add_argument("--scoring-preset", choices=list(SETTINGS_PRESETS))
    scoring.add_argument("--scoring-config", type=Path, help="evaluate settings file (.toml)")
    for name in SCORING_FIELDS:
        add_setting_flag(scoring, name, default=argparse.SUPPRESS)
    return parser


def plan_of(args: argparse.Namespace):
    """The :class:`ExperimentPlan` the flags describe."""
    from saliency_core.train.experiment_runner import ExperimentPlan

    given = vars(args)
    scoring = SETTINGS_PRESETS[args.scoring_preset] if args.scoring_preset else Settings()
    if args.scoring_config:
        scoring = load_settings(args.scoring_config)
    changes: dict[str, Any] = {n: given[n] for n in SCORING_FIELDS if n in given}
    changes |= {n: tuple(changes[n]) for n in ("cams", "references", "type2") if n in changes}
    if args.weights == WeightSource.FILE and not args.weights_file:
        raise SettingsError("--weights file needs --weights-file (the state dict to start from)")
    return ExperimentPlan(
        detector=args.detector,
        weights=WeightSource(args.weights),
        weights_file=args.weights_file,
        arms=tuple(args.arms),
        seeds=tuple(args.seeds),
        preset=args.preset,
        train={n: given[n] for n in (*TRAIN_FLAGS, "amp") if given.get(n) is not None},
        scoring=Settings.from_dict(scoring.to_dict() | changes),
        test_split=args.test_split,
        copies=dict(args.copies),
    )


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every model is scored, 1 when some are missing or on a user error, 130 when
    stopped by Ctrl-C (rerun to resume)."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        from saliency_core.train.experiment_runner import run_experiment

        plan = plan_of(args)
        with StopOnInterrupt() as stop:
            report = run_experiment(
                plan,
                args.dataset,
                args.out,
                say=lambda text: print(text, file=sys.stderr),
                stop=stop,
                device=args.device,
            )
        if not report.table.empty:
            print(report.table.to_string(index=False))
        for line in report.missing:
            print(f"missing: {line}", file=sys.stderr)
        print(f"results in {report.out}", file=sys.stderr)
        if report.stopped:
            return EXIT_INTERRUPTED
        return 1 if report.missing else 0

    return run_command(body)
