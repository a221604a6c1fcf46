"""Cutting a page's panels: exactly each panel's own HTML, marked to replace its namesake, even
when user text holds what `str.splitlines` takes for a line break but the HTML parser does not
(a cut at the wrong place would splice the marker into escaped, unquoted user text)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from jinja2 import Environment

from api.live.panels import OOB, cut

PANEL = Environment(autoescape=True).from_string(
    '<section id="{{ id }}" class="panel wide" data-name="{{ text }}">\n'
    "  <h2>{{ text }}</h2>\n"
    '  <section class="inner"><p title="{{ text }}">{{ text }}</p></section>\n'
    "  <pre>{{ text }}\n{{ text }}</pre>\n"
    "</section>"
)
BREAKS = ["\u2028", "\r", "\x85", "\r\n", "\u2029", "\v", "\f", "\x1c", "\x1d", "\x1e"]
"""Every break `str.splitlines` knows but "\\n"."""
INJECTION = 'x onmouseover=alert(1) " autofocus onfocus=alert(2) <b>x</b> hx-get=/api/x '


class Elements(HTMLParser):
    """An HTML fragment as its sequence of tags, attributes and text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: list[tuple[str, object]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.seen.append(("/" + tag, None))

    def handle_data(self, data: str) -> None:
        self.seen.append(("text", data))


def page(texts: list[str]) -> tuple[str, dict[str, str]]:
    """A page of one panel per text, between other elements; and each panel as rendered."""
    panels = {f"p{n}": PANEL.render(id=f"p{n}", text=text) for n, text in enumerate(texts)}
    body = "\n<p>between</p>\n".join(panels.values())
    return f"<!doctype html>\n<html><body>\n<header>x</header>\n{body}\n</body></html>\n", panels


def marked(panel: str, tag: str = "section") -> str:
    return panel.replace(f"<{tag}", f"<{tag}{OOB}", 1)


@pytest.mark.parametrize("brk", BREAKS)
def test_the_cut_panels_are_exactly_the_panels_whatever_breaks_user_text_holds(brk: str) -> None:
    texts = [f"a{brk}b{brk * 3}", INJECTION + brk * 5, f"{brk}{INJECTION}{brk}", "plain"]
    source, panels = page(texts)
    assert cut(source) == {key: marked(panel) for key, panel in panels.items()}


def test_a_cut_panel_parses_as_the_same_elements_with_only_the_marker_added() -> None:
    texts = [INJECTION + "\u2028\r\x85" * 4, "\r\n" + INJECTION, "\x85" * 9 + INJECTION]
    source, panels = page(texts)
    for key, fragment in cut(source).items():
        got, want = Elements(fragment).seen, Elements(panels[key]).seen
        root_tag, root_attrs = got[0]
        assert root_tag == "section"
        assert isinstance(root_attrs, list)
        assert root_attrs[0] == ("hx-swap-oob", "true")
        assert [(root_tag, root_attrs[1:]), *got[1:]] == want
        names = {name for _, attrs in got if isinstance(attrs, list) for name, _ in attrs}
        assert names == {"id", "class", "data-name", "title", "hx-swap-oob"}


def test_a_panel_inside_a_panel_goes_with_its_outer_one() -> None:
    outer = '<div id="out" class="panel"><div><div id="in" class="panel">i</div></div></div>'
    source = f'<main>{outer}<p id="x" class="panelish">y</p></main>'
    assert cut(source) == {"out": marked(outer, "div")}
