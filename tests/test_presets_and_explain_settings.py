"""Preset diffs ("Changed: …. Kept: …."), undo data and the Explain settings' round trips."""

from __future__ import annotations

import pytest

from saliency_core.maps.cams import ExplainedDetections
from saliency_core.presets import SETTINGS_PRESETS
from saliency_core.settings import Settings, SettingsError, from_query, load_settings, to_query
from ui.presets import PAGE_PRESETS, apply_preset, changes, describe_changes


def test_the_study_preset_says_what_it_changed_and_what_it_kept():
    before = PAGE_PRESETS["Explore"].with_changes(
        cams=("EigenCAM", "GradCAM", "HiResCAM"), top_percent=25.0, consensus=True
    )
    after = apply_preset(before, "Reproduce the study")
    assert after.consensus, "a field no preset sets keeps the user's value"
    assert describe_changes(before, after) == (
        "Changed: detectors: Faster R-CNN R50-FPN → Faster R-CNN R50-FPN, SSD300 VGG16; "
        "CAM methods: EigenCAM, GradCAM, HiResCAM → EigenCAM; "
        "working size: as loaded → 512×512 px; top-p%: 25% → 10%; "
        "top-p% ties: never more than p% → include ties (study). "
        "Kept: target layer: study default; score threshold: 0.9; study input range: off."
    )
    changed, kept = changes(after, apply_preset(after, "Explore"))
    assert [(c.field, c.old, c.new) for c in changed] == [
        ("detectors", "Faster R-CNN R50-FPN, SSD300 VGG16", "Faster R-CNN R50-FPN"),
        ("working_size", "512×512 px", "as loaded"),
        ("ties", "include ties (study)", "never more than p%"),
    ]
    assert len(kept) == 5


def test_choosing_the_same_preset_again_changes_nothing():
    study = PAGE_PRESETS["Reproduce the study"]
    assert describe_changes(study, apply_preset(study, "Reproduce the study")).startswith(
        "Changed: nothing. Kept: detectors: Faster R-CNN R50-FPN, SSD300 VGG16; "
    )


def test_the_command_and_the_page_start_from_the_same_presets():
    """One definition: `--preset study` and the page's "Reproduce the study" are one object."""
    assert SETTINGS_PRESETS["study"] is PAGE_PRESETS["Reproduce the study"]
    assert SETTINGS_PRESETS["explore"] is PAGE_PRESETS["Explore"]
    study = SETTINGS_PRESETS["study"]
    assert study.detectors == ("Faster R-CNN R50-FPN", "SSD300 VGG16")
    assert (study.working_size, study.ties, study.top_percent) == (512, "include", 10.0)


def test_explain_settings_round_trip_through_toml_json_and_the_url(tmp_path):
    one = Settings(explain_detection=2)
    assert one.explain == ExplainedDetections(detection=2)
    cls = Settings(explain_class="person")
    assert (
        cls.explain == ExplainedDetections(category="person")
        and Settings().explain == ExplainedDetections()
    )
    for settings in (one, cls):
        for suffix, text in ((".toml", settings.to_toml()), (".json", settings.to_json())):
            path = tmp_path / f"s{suffix}"
            path.write_text(text)
            assert load_settings(path) == settings
    assert to_query(one) == {"xdet": "2"} and to_query(cls) == {"xcls": "person"}
    assert from_query({"xdet": "2"}) == (one, [])
    assert from_query({"xcls": "person", "p": "25"})[0] == cls.with_changes(top_percent=25.0)
    assert "xdet" not in to_query(Settings()) and "xcls" not in to_query(Settings())
    kept, notes = from_query({"xdet": "two", "det": "FCOS R50-FPN"})
    assert kept == Settings(detectors=("FCOS R50-FPN",))
    assert notes == [
        "URL parameter xdet='two' ignored: invalid literal for int() with base 10: 'two'"
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"explain_detection": 0, "explain_class": "dog"}, "one detection .* or one class"),
        ({"explain_detection": -1}, r"explain_detection must be a whole number in 0\.\.999"),
        ({"explain_class": ""}, "give a class name"),
    ],
)
def test_impossible_explain_settings_are_refused(values: dict, message: str):
    with pytest.raises(SettingsError, match=message):
        Settings(**values)


# --- every numeric setting has one declared range, enforced by every front end ---------------

OUT_OF_RANGE = [
    ("clssize", "99999999", "classifier_input_size must be a whole number in 32..1024 px"),
    ("insize", "99999", "input_size must be a whole number in 32..2048 px"),
    ("clsk", "100000", "classifier_top_k must be a whole number in 1..1000"),
    ("xdet", "99999999", "explain_detection must be a whole number in 0..999"),
    ("clsc", "-1", "classifier_class must be a whole number in 0..99999"),
    ("t2side", "8", "type2_max_side must be a whole number in 32..4096 px"),
    ("size", "4", "working_size must be a whole number in 8..4096 px"),
    ("sigma", "nan", "sigma must be in [0, 1000] px"),
    ("sigma", "1e308", "sigma must be in [0, 1000] px"),
    ("sigma", "-inf", "sigma must be in [0, 1000] px"),
    ("cons_sigma", "inf", "consensus_sigma must be in [0, 1000] px"),
    ("score", "nan", "score_threshold must be in [0, 1]"),
    ("p", "0", "top_percent must be in (0, 100]"),
]


@pytest.mark.parametrize(("key", "text", "rule"), OUT_OF_RANGE)
def test_out_of_range_and_non_finite_url_values_are_ignored_with_a_message(key, text, rule):
    base = Settings(sigma=5.0, classifiers=("ResNet-50",))
    settings, notes = from_query({key: text, "det": "FCOS R50-FPN"}, base)
    assert settings == base.with_changes(detectors=("FCOS R50-FPN",)), "the rest is restored"
    got = {"1e308": "1e+308"}.get(text, "0.0" if key == "p" else text)  # as Python prints it
    assert notes == [f"URL parameter {key}={text!r} ignored: {rule}, got {got}"]


def test_the_range_bounds_themselves_are_accepted():
    from saliency_core.settings import RANGES

    for name, allowed in RANGES.items():
        for value in (allowed.high, *(() if allowed.open_low else (allowed.low,))):
            changes = {name: value} if name != "classifier_class" else {name: int(value)}
            assert getattr(Settings(**changes), name) == value


def test_settings_files_refuse_out_of_range_non_finite_and_fractional_values(tmp_path):
    cases = {
        "sigma = nan\n": "sigma must be in [0, 1000] px, got nan",
        "classifier_input_size = 12000\n": (
            "classifier_input_size must be a whole number in 32..1024 px, got 12000"
        ),
        "working_size = 512.5\n": "working_size must be a whole number in 8..4096 px, got 512.5",
        "input_size = true\n": "input_size must be a whole number in 32..2048 px, got True",
    }
    for text, message in cases.items():
        path = tmp_path / "s.toml"
        path.write_text(text)
        with pytest.raises(SettingsError) as refused:
            load_settings(path)
        assert str(refused.value) == message
    path = tmp_path / "s.json"
    path.write_text('{"classifier_top_k": 100000}')
    with pytest.raises(SettingsError, match=r"^classifier_top_k must be a whole number in 1\.\."):
        load_settings(path)


def test_command_line_flags_refuse_out_of_range_values(tmp_path, capsys):
    from saliency_core.commands import augment, evaluate

    out = str(tmp_path / "out")
    code = evaluate.main(["--dataset", "sample", "--out", out, "--classifier-input-size", "12000"])
    assert code == 1 and not (tmp_path / "out").exists()
    assert capsys.readouterr().err == (
        "error: classifier_input_size must be a whole number in 32..1024 px, got 12000\n"
    )
    assert evaluate.main(["--dataset", "sample", "--out", out, "--sigma", "nan"]) == 1
    assert capsys.readouterr().err == "error: sigma must be in [0, 1000] px, got nan\n"
    (tmp_path / "data" / "images").mkdir(parents=True)
    arguments = ["--dataset", str(tmp_path / "data"), "--out", out, "--reference", "mask"]
    arguments += ["--detector", "FCOS R50-FPN", "--weights", "untrained", "--cam", "EigenCAM"]
    with pytest.raises(SystemExit) as refused:
        augment.main([*arguments, "--input-size", "99999"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith("input_size must be a whole number in 32..2048 px, got 99999")


def test_widgets_take_their_bounds_from_the_declared_ranges():
    """The classifier's free-entry widgets (class index, k) are bounded by RANGES."""
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        import streamlit as st

        from ui import classifier_view

        st.session_state.setdefault("k_classifiers", ["ResNet-50"])
        st.session_state.setdefault("k_cls_target", st.session_state.get("target"))
        classifier_view.choose("k", st.sidebar)

    from saliency_core.settings import RANGES
    from ui.classifier_view import TARGETS

    at = AppTest.from_function(page)
    at.session_state["target"] = TARGETS[1]
    at.run()
    index = at.sidebar.number_input(key="k_cls_class")
    allowed = RANGES["classifier_class"]
    assert (index.min, index.max) == (allowed.low, allowed.high) == (0, 99_999)
    at = AppTest.from_function(page)
    at.session_state["target"] = TARGETS[2]
    at.run()
    k = at.sidebar.slider(key="k_cls_k")
    assert (k.min, k.max) == (2, 10) and RANGES["classifier_top_k"].holds(int(k.max))
