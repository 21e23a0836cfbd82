"""`saliency <command>`: the console script the README's commands install, and its dispatch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from saliency_core.commands import cli
from saliency_core.commands.launch import EXIT_INTERRUPTED


def test_the_console_script_lists_every_command():
    script = Path(sys.executable).parent / "saliency"
    assert script.exists(), "make run / make test install the project (editable) into .venv"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    for name in cli.COMMANDS:
        assert f"    {name}" in done.stdout, name


def test_a_subcommand_gets_the_rest_of_the_arguments_help_included(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["augment", "--help"])
    assert stop.value.code == 0
    assert "BOUNDING BOXES ARE UNCHANGED" in capsys.readouterr().out


def test_an_unknown_subcommand_names_the_ones_there_are(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["fit"])
    assert stop.value.code == 2
    listed = ", ".join(f"'{name}'" for name in cli.COMMANDS)  # every command, however many
    assert "'evaluate', 'augment', 'accuracy'" in listed
    assert f"invalid choice: 'fit' (choose from {listed})" in capsys.readouterr().err


def test_interrupted_while_importing_a_command_says_how_to_resume(monkeypatch, capsys):
    def interrupted(name: str):
        raise KeyboardInterrupt

    monkeypatch.setattr("importlib.import_module", interrupted)
    assert cli.main(["evaluate", "--limit", "1"]) == EXIT_INTERRUPTED
    assert "run the same command again to resume" in capsys.readouterr().err
