"""User-derived text inside figures. plotly.js reads a small set of HTML tags in trace names, tick labels and
hover text (``<b>``, ``<br>``, ``<a href>``...) and turns them into SVG; an account name or a post excerpt that
holds markup must show as the characters it is. ``html.escape`` makes it text: plotly decodes the entities back
into the same characters when it draws them. (Page text is escaped by Jinja2's autoescaping instead.)"""

from __future__ import annotations

import html

MAX_LABEL_CHARS = 80  # a label, not a paragraph: long names are cut so the axes stay readable


def label(value: object) -> str:
    text = "–" if value is None else str(value)
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return html.escape(text, quote=True)
