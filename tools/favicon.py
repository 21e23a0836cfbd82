"""Draws ``assets/favicon.png``: the Material Symbols "search" glyph (Explore's page icon) from
the font Streamlit ships, in the theme's primary colour.

A ``:material/…:`` page icon would make the browser fetch the glyph from fonts.gstatic.com
(Streamlit's frontend builds the favicon's address there), which an offline talk cannot reach;
a picture file is served by the app itself. Run: ``.venv/bin/python tools/favicon.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
SEARCH = chr(0xE8B6)
"""The "search" glyph's code point in Material Symbols."""
COLOUR = "#d6336c"
"""``.streamlit/config.toml``'s ``theme.primaryColor``."""
SIZE = 64


def main() -> None:
    fonts = Path(streamlit.__file__).parent / "static" / "static" / "media"
    font = ImageFont.truetype(str(next(fonts.glob("MaterialSymbols-Rounded*.woff2"))), 56)
    icon = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(icon).text((SIZE / 2, SIZE / 2), SEARCH, font=font, fill=COLOUR, anchor="mm")
    icon.save(ROOT / "assets" / "favicon.png", optimize=True)


if __name__ == "__main__":
    main()
