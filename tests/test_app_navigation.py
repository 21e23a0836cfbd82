"""The entry point: one `st.navigation` over the pages, their URLs, and the one error guard."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import widgets

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_the_pages_keep_their_urls():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    pages = {
        Path(info["script_path"]).relative_to(Path(APP).parent).as_posix(): info["url_pathname"]
        for info in at._registered_pages.values()
    }
    assert pages == {
        "app_pages/0_Home.py": "",
        "app_pages/1_Explore.py": "Explore",
        "app_pages/2_Augment.py": "Augment",
        "app_pages/3_Dataset_report.py": "Dataset_report",
        "app_pages/5_Experiments.py": "Experiments",
    }


def test_an_unexpected_page_failure_is_one_message(monkeypatch: pytest.MonkeyPatch):
    """A page that raises is answered by app.py's guard: the page's name and the error's class,
    no traceback; the navigation still works."""

    def broken(key: str, link: dict[str, str]):
        raise RuntimeError("boom")

    monkeypatch.setattr(widgets, "image_picker", broken)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/1_Explore.py").run()
    assert not at.exception, at.exception
    [error] = at.error
    assert error.value.startswith("The Explore page failed unexpectedly (RuntimeError).")
    assert at.title[0].value == "Explore", "the page drew up to the failure"
    at.switch_page("app_pages/0_Home.py").run()
    assert not at.error and at.title[0].value == "Saliency Explorer"


def test_no_module_string_is_drawn():
    """Streamlit's "magic" is off in the app's config: a bare string in a page module (e.g. an
    attribute docstring) stays code instead of being drawn as markdown."""
    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False


def test_the_navigation_icons_are_bundled_material_icons():
    """Emoji draw as empty boxes without an emoji font (headless Chromium, many Linux laptops);
    Streamlit's Material icons ship with it."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    icons = {info["page_name"]: info["icon"] for info in at._registered_pages.values()}
    assert icons == {
        "Home": ":material/home:",
        "Explore": ":material/search:",
        "Augment": ":material/healing:",
        "Dataset report": ":material/bar_chart:",
        "Experiments": ":material/science:",
    }


def test_every_icon_the_app_draws_is_a_material_icon():
    """Alerts, page links and buttons too: an ``icon=`` or an outcome box icon is ":material/…:"."""
    root = Path(APP).parent
    sources = [root / "app.py", *root.glob("app_pages/*.py"), *root.glob("ui/*.py")]
    found = {
        f"{path.name}: {icon}"
        for path in sources
        for icon in re.findall(r'icon="([^"]*)"|\(st\.\w+, "([^"]*)"\)', path.read_text())
        for icon in icon
        if icon and not re.fullmatch(r":material/\w+:", icon)
    }
    assert not found
