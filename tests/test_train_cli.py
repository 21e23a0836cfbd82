"""`saliency train`: flags over the presets, and one-line errors (exit 1) for bad input."""

from __future__ import annotations

import pytest

from saliency_core.commands import train as command


def _settings(*flags: str):
    args = command.build_parser().parse_args(["--dataset", "d", "--out", "o", *flags])
    return command.resolve(args)


def test_flags_override_the_preset() -> None:
    settings, options = _settings("--preset", "study", "--arm", "transform", "--seed", "3")
    assert (settings.epochs, settings.lr_steps, settings.seed) == (10, (3, 6, 9), 3)
    assert options["preset"] == "study"
    torchvision, _ = _settings("--batch-size", "8")
    assert torchvision.lr == pytest.approx(0.02)
    given, _ = _settings("--lr-steps", "3,5", "--no-amp", "--copies", "erase=/x")
    assert (given.lr_steps, given.amp, given.copies) == ((3, 5), False, (("erase", "/x"),))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--weights", "file"], "error: weights 'file' needs weights_file (--weights-file"),
        (["--detector", "YOLO11 n", "--weights", "untrained"], "error: YOLO11 n cannot be"),
        (["--epochs", "0"], "error: epochs must be ≥ 1, got 0"),
    ],
)
def test_bad_input_is_one_line(flags, message, tmp_path, capsys) -> None:
    argv = ["--dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "run"), *flags]
    assert command.main(argv) == 1
    assert capsys.readouterr().err.startswith(message)


def test_a_missing_dataset_is_named(tmp_path, capsys) -> None:
    argv = ["--dataset", str(tmp_path / "nothing"), "--out", str(tmp_path / "run")]
    argv += ["--weights", "untrained", "--detector", "SSDlite320 MobileNetV3"]
    assert command.main(argv) == 1
    assert str(tmp_path / "nothing") in capsys.readouterr().err


def test_the_first_ctrl_c_asks_to_stop_and_the_second_interrupts(capsys) -> None:
    import os
    import signal

    from saliency_core.commands.common import StopOnInterrupt

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), StopOnInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set()
        assert "Stopping after this step" in capsys.readouterr().err
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
