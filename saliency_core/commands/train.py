"""``saliency train``: fine-tune a registry detector on a detection dataset (VOC or COCO) with an
augmentation arm, into a run folder; rerunning the same command resumes, Ctrl-C saves and
exits. ``--launcher torchrun|ray`` trains data-parallel over several processes or machines."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from saliency_core.commands.common import (
    LAUNCH_OPTIONS,
    STOPPED,
    StopOnInterrupt,
    add_launcher_flags,
    copies,
    int_list,
    launch,
    run_command,
    step_bar,
)
from saliency_core.commands.launch import EXIT_INTERRUPTED
from saliency_core.models.weights import WeightSource
from saliency_core.settings import SettingsError
from saliency_core.train.recipe import (
    POLICY_NAMES,
    SCHEDULES,
    SPLIT_RULES,
    TRAIN_PRESETS,
    TrainSettings,
    preset_settings,
)

COMMAND_OPTIONS = ("dataset", "out", "preset", *LAUNCH_OPTIONS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency train",
        description=(
            "Fine-tune a detector on a VOC or COCO dataset: SGD with warm-up and a step or "
            "cosine schedule (torchvision's recipe; --preset study: the study's), validation "
            "mAP after every epoch, checkpoints, a per-step log. Rerun to resume; Ctrl-C saves."
        ),
        argument_default=argparse.SUPPRESS,
    )
    run = parser.add_argument_group("data and output")
    run.add_argument("--dataset", type=Path, required=True, help="VOC folder or COCO folder")
    run.add_argument("--out", type=Path, required=True, help="run folder (resumed when rerun)")
    run.add_argument("--preset", choices=list(TRAIN_PRESETS), help="torchvision (default), study")
    run.add_argument("--train-split", help="split to train on (default train)")
    run.add_argument("--val-split", help="split validated after each epoch (default val)")
    run.add_argument("--split-rule", choices=SPLIT_RULES, help="study: masked images are test")
    model = parser.add_argument_group("model")
    model.add_argument("--detector", help="registry name (default Faster R-CNN R50-FPN)")
    model.add_argument("--weights", choices=[s.value for s in WeightSource])
    model.add_argument("--weights-file", help="state dict to start from (--weights file)")
    model.add_argument("--trainable-backbone-layers", type=int, help="default: torchvision's")
    model.add_argument("--input-size", type=int, help="the model's input size (default its own)")
    arm = parser.add_argument_group("augmentation")
    arm.add_argument(
        "--arm", help="none (default), erase, inpaint, transform, or e.g. erase+transform"
    )
    arm.add_argument(
        "--copies", type=copies, action="append", help="NAME=DIR: erase/inpaint copies"
    )
    arm.add_argument("--policy", choices=POLICY_NAMES, help="transform arm's policy (default v3)")
    arm.add_argument("--study-boxes", action="store_true", help="the study's original-boxes bug")
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--epochs", type=int)
    optim.add_argument("--batch-size", type=int, help="images per step and process")
    optim.add_argument("--lr", type=float, help="default 0.0025 × batch size (torchvision)")
    optim.add_argument("--momentum", type=float)
    optim.add_argument("--weight-decay", type=float)
    optim.add_argument("--warmup-iters", type=int)
    optim.add_argument("--schedule", choices=SCHEDULES)
    optim.add_argument("--lr-steps", type=int_list, help="epochs after which lr × gamma")
    optim.add_argument("--gamma", type=float)
    optim.add_argument("--no-amp", dest="amp", action="store_false", help="no mixed precision")
    optim.add_argument("--seed", type=int)
    optim.add_argument("--workers", type=int, help="data-loading processes (default 2)")
    add_launcher_flags(parser.add_argument_group("devices and launchers"))
    return parser


def resolve(args: argparse.Namespace) -> tuple[TrainSettings, dict[str, Any]]:
    """Defaults < preset < flags: the settings and the command's own options."""
    given = vars(args)
    options = {key: given.pop(key) for key in COMMAND_OPTIONS if key in given}
    if "weights" in given and given["weights"] == WeightSource.FILE.value:
        given.setdefault("weights_file", None)
    return preset_settings(options.get("preset", "torchvision"), **given), options


def _train_here(settings, options, device, quiet: bool) -> int:
    from saliency_core.train.loop import train

    bar, update = step_bar("train")
    try:
        with StopOnInterrupt() as stop:
            result = train(
                settings,
                options["dataset"],
                options["out"],
                progress=update,
                stop=stop,
                device=device,
            )
    finally:
        bar.close()
    if quiet:
        return EXIT_INTERRUPTED if result.stopped else 0
    for accuracy in result.validation[-1:]:
        print(f"validation mAP {accuracy.map:.4f}, mAP@.5 {accuracy.map_50:.4f}", file=sys.stderr)
    if result.stopped:
        print(STOPPED, file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{result.epochs_done} epochs; weights: {result.final_weights}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when training finished, 130 when stopped (rerun to resume), 1 on a user error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)

    def body() -> int:
        try:
            settings, options = resolve(args)
        except TypeError as error:
            raise SettingsError(str(error)) from error
        here = partial(_train_here, settings, options)
        return launch(settings, options["dataset"], options["out"], argv, here, options)

    return run_command(body)


if __name__ == "__main__":  # torchrun -m saliency_core.commands.train …
    raise SystemExit(main())
