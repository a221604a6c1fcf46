"""The stream a page subscribes to, named in the page: its own path and query under `/live`,
with `after=S`, S being the read models' position before the page read them (noted by
`api.pages.deps.page_viewer`). The page shows at least that state, so a change after S reaches
it, and one before S is at worst sent again, which replacing by id makes harmless."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

PREFIX = "/live"
NOT_THE_PAGES = frozenset({"after", "min_seq", "as_of"})
"""The stream's own parameter, and the page's that would not make sense live."""


def note_position(request: Request, seq: int) -> None:
    request.state.live_after = seq


def page_query(request: Request) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in request.query_params.multi_items() if k not in NOT_THE_PAGES)


def live_url(request: Request) -> str | None:
    """None for a page that noted no position: one for nobody logged in, or an error."""
    after = getattr(request.state, "live_after", None)
    if after is None:
        return None
    return f"{PREFIX}{request.url.path}?{urlencode([*page_query(request), ('after', after)])}"
