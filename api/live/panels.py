"""A page's live panels, cut from the page as rendered: every element with an id and the class
`panel` (not one inside another), so the stream sends exactly what a reload would show, and a
panel a template adds is live with no more code. Sent over SSE with `hx-swap-oob`, each replaces
the element with its id: a message received twice changes nothing the second time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from html.parser import HTMLParser

from infra.logs import LogChunk

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ends a line in SSE, which splits a message's data there."""
OOB = ' hx-swap-oob="true"'
TAG_NAME = re.compile(r"<[^\s/>]+")


class CutError(ValueError):
    """The parser's position and the source disagree: cutting there could splice the marker
    into user text, so the render fails instead and the last frame stays."""


class _Cutter(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        # HTMLParser counts lines by "\n" alone (str.splitlines also breaks at "\r", "\x85",
        # "\u2028" and more, which user text may hold), so offsets must be mapped the same way.
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", source))]
        self.panels: dict[str, str] = {}
        self._open: tuple[str, str, int, int] | None = None
        """(tag, id, offset, where its name ends) of the panel being cut."""
        self._depth = 0
        """Elements of the panel's own tag open inside it, itself included."""

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open is not None:
            self._depth += tag == self._open[0]
            return
        named = dict(attrs)
        if named.get("id") and "panel" in (named.get("class") or "").split():
            start, text = self._offset(), self.get_starttag_text() or ""
            found = TAG_NAME.match(text)
            if found is None or not self.source.startswith(text, start):
                raise CutError(f"no start tag of #{named['id']} at offset {start}")
            self._open = (tag, named["id"] or "", start, found.end())
            self._depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._open is None or tag != self._open[0]:
            return
        self._depth -= 1
        if self._depth == 0:
            name, panel_id, start, head = self._open
            at = self._offset()
            if self.source[at : at + 2 + len(name)].lower() != f"</{name}":
                raise CutError(f"no end tag of #{panel_id} at offset {at}")
            end = self.source.index(">", at) + 1
            element = self.source[start:end]
            self.panels[panel_id] = element[:head] + OOB + element[head:]
            self._open = None


def cut(page: str) -> dict[str, str]:
    """The page's panels by id, in page order, each marked to replace its namesake."""
    cutter = _Cutter(page)
    cutter.feed(page)
    cutter.close()
    return cutter.panels


def data_lines(html: str) -> bytes:
    """`html` as the `data:` lines of one SSE message."""
    return "".join(f"data: {line}\n" for line in LINE_BREAK.split(html)).encode()


def joined(panels: Mapping[str, str], only: Iterable[str] | None = None) -> str:
    keys = panels.keys() if only is None else only
    return "".join(panels[k] for k in keys)


def log_lines(chunks: Iterable[LogChunk]) -> str:
    """Chunks appended to the job page's log, each its own element: `log-<seq>`."""
    spans = "".join(
        f'<span id="log-{c.seq}" class="log-{c.stream}">{escape(c.text)}</span>' for c in chunks
    )
    return f'<pre id="job-log-lines" hx-swap-oob="beforeend">{spans}</pre>'


def log_end(status: str) -> str:
    """Replaces by id, like a panel: told twice, it still reads once."""
    return f'<p id="job-log-end" class="empty"{OOB}>The job ended: {escape(status)}.</p>'
