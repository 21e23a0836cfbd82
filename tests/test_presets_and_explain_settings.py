"""Preset diffs ("Changed: …. Kept: …."), undo data and the Explain settings' round trips."""

from __future__ import annotations

import pytest

from saliency_core.cams import Explain
from saliency_core.presets import PRESETS, apply_preset, changes, describe_changes
from saliency_core.settings import Settings, SettingsError, from_query, load_settings, to_query


def test_the_study_preset_says_what_it_changed_and_what_it_kept():
    before = PRESETS["Explore"].with_changes(
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
    study = PRESETS["Reproduce the study"]
    assert describe_changes(study, apply_preset(study, "Reproduce the study")).startswith(
        "Changed: nothing. Kept: detectors: Faster R-CNN R50-FPN, SSD300 VGG16; "
    )


def test_explain_settings_round_trip_through_toml_json_and_the_url(tmp_path):
    one = Settings(explain_detection=2)
    assert one.explain == Explain(detection=2)
    cls = Settings(explain_class="person")
    assert cls.explain == Explain(category="person") and Settings().explain == Explain()
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
        ({"explain_detection": -1}, "explain_detection is a rank"),
        ({"explain_class": ""}, "give a class name"),
    ],
)
def test_impossible_explain_settings_are_refused(values: dict, message: str):
    with pytest.raises(SettingsError, match=message):
        Settings(**values)
