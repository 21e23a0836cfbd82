"""One declaration per setting: the URL keys, ranges, TOML keys and both commands' flags are
derived from the Settings fields' declarations, so a new field needs no other edit."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import types
from dataclasses import fields
from pathlib import Path

import pytest

from saliency_core import settings
from saliency_core.commands import augment, common, evaluate
from saliency_core.settings import DECLARATIONS, Range, Settings

NOT_IN_URLS = {"weights_files", "type2_weights_file"}
"""File paths are never put in a URL."""
NOT_FLAGS = {"top_percent", "consensus", "consensus_sigma", "explain_detection", "explain_class"}
"""Settings the evaluate command does not take as flags (--top-percents sets its IoU rows)."""


def test_every_field_has_exactly_one_declaration_and_the_tables_are_derived_from_them():
    names = [spec.name for spec in fields(Settings)]
    assert list(DECLARATIONS) == names
    assert {name for name, d in DECLARATIONS.items() if d.url is None} == NOT_IN_URLS
    assert {name for name, d in DECLARATIONS.items() if d.flag_name is None} == NOT_FLAGS
    urls = [d.url for d in DECLARATIONS.values() if d.url]
    assert len(urls) == len(set(urls)) == len(names) - len(NOT_IN_URLS)
    assert {name: d.url for name, d in DECLARATIONS.items() if d.url} == settings.QUERY_KEYS
    assert {name: d.range for name, d in DECLARATIONS.items() if d.range} == settings.RANGES
    assert settings.QUERY_KEYS["detectors"] == "det" and settings.QUERY_KEYS["cams"] == "cam"
    assert settings.RANGES["input_size"] == Range(32, 2048, integer=True, unit="px")
    lists = ("detectors", "cams", "type2", "references", "classifiers", "classifier_methods")
    assert lists == settings.LIST_FIELDS
    assert DECLARATIONS["sigma"].type is float and DECLARATIONS["sigma"].default is None
    assert set(Settings().to_dict()) == {
        n for n, d in DECLARATIONS.items() if d.default is not None
    }


def _help(main, argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(argv)
    return out.getvalue()


def test_both_commands_help_lists_the_flags_derived_from_the_declarations():
    text = " ".join(_help(evaluate.build_parser().parse_args, ["--help"]).split())
    for declared in DECLARATIONS.values():
        if declared.flag_name:
            assert f"--{declared.flag_name}" in text, declared.name
    assert "explain the sum of the top-k logits (default 1)" in text
    assert "MODEL[,MODEL…] of: DeepGaze IIE, Centre bias (Gaussian)" in text
    text = " ".join(_help(augment.build_parser().parse_args, ["--help"]).split())
    for flag in ("--detector NAME", "--cam METHOD", "--deepgaze-max-side DEEPGAZE_MAX_SIDE"):
        assert flag in text
    assert "DeepGaze IIE weights (default: pretrained)" in text
    assert "(study: 0.9) (default: 0.9)" in text


def test_only_the_flags_given_override_and_pairs_and_exclusive_flags_are_checked():
    parser = evaluate.build_parser()
    assert common.setting_values(vars(parser.parse_args([]))) == {}
    args = parser.parse_args(["--sigma", "2", "--weights-file", "A = b.pt", "--type2", ""])
    assert common.setting_values(vars(args)) == {
        "weights_files": [("A", "b.pt")],
        "type2": [],
        "sigma": 2.0,
    }
    with pytest.raises(settings.SettingsError, match="^--weights-file takes NAME=PATH$"):
        common.setting_values({"weights_file": ["b.pt"]})
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        parser.parse_args(["--classifier-class", "1", "--classifier-top-k", "2"])


NEW_FIELD = """    blur_passes: int = setting(
        2, url="bp", section="scoring", range=Range(1, 9, integer=True), help="blur passes"
    )
"""


@pytest.fixture
def extended(monkeypatch) -> types.ModuleType:
    """settings.py with one more declared field and no other edit, imported as a new module."""
    source = Path(settings.__file__).read_text()
    anchor = "    def __post_init__(self) -> None:"
    module = types.ModuleType("extended_settings")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source.replace(anchor, NEW_FIELD + anchor), "extended", "exec"), module.__dict__)
    return module


def test_a_new_declared_field_joins_the_url_round_trip_the_files_and_the_flags(extended):
    new = extended.Settings(blur_passes=5)
    assert extended.to_query(new) == {"bp": "5"}
    assert extended.from_query({"bp": "5"}) == (new, [])
    assert extended.from_query({"bp": "0"})[1] == [
        "URL parameter bp='0' ignored: blur_passes must be a whole number in 1..9, got 0"
    ]
    assert extended.Settings.from_dict(new.to_dict()) == new and "blur_passes = 5" in new.to_toml()
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, "DECLARATIONS", extended.DECLARATIONS)
        groups = common.add_setting_flags(parser)
        given = vars(parser.parse_args(["--blur-passes", "4"]))
        assert common.setting_values(given) == {"blur_passes": 4}
    assert any(a.dest == "blur_passes" for a in groups["scoring"]._group_actions)
