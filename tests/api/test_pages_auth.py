"""Every dashboard page x every kind of caller of the authorization matrix: the answer its table
(`PAGES`, tests/api/page_tables.py) names. A page is for a browser, so no or bad credentials
lead to the login page."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.live import routes as live
from api.pages import routes as pages
from api.pages.errors import LOGIN, PageRoute
from tests.api.conftest import http_client
from tests.api.page_tables import PAGES, STREAMS
from tests.api.test_authorization_matrix import CALLERS, expected, world

__all__ = ["world"]


def served_pages() -> set[str]:
    return {
        f"{method} {route.path}"
        for route in pages.router.routes
        if isinstance(route, PageRoute)
        for method in route.methods or ()
    }


def test_the_table_names_exactly_the_served_pages() -> None:
    assert served_pages() == set(PAGES)


async def test_every_page_answers_every_caller_as_the_table_says(app: FastAPI, world: Any) -> None:
    tokens, values = world
    wrong: list[str] = []
    for key, rule in sorted(PAGES.items()):
        path = key.split(" ")[1].format(**values)
        for caller in CALLERS:
            want = expected(rule, caller, key)
            async with http_client(app, raise_app_exceptions=False, token=tokens[caller]) as c:
                response = await c.get(path)
            got = response.status_code
            answer = f"{got} {response.headers.get('location', '')}".strip()
            if want == "refused:401" and answer != f"303 {LOGIN}":
                wrong.append(f"{key} as {caller}: {answer}, wanted the login page")
            if want == "refused:403" and got != 403:
                wrong.append(f"{key} as {caller}: {got}, wanted 403")
            if want == "let in" and (got in (303, 401, 403) or got >= 500):
                wrong.append(f"{key} as {caller}: {answer} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_the_table_names_exactly_the_served_streams() -> None:
    served = {
        f"{method} {route.path.replace('{page:path}', '{page}')}"
        for route in live.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert served == set(STREAMS)


async def test_the_live_stream_answers_every_caller_as_the_table_says(
    app: FastAPI, world: Any
) -> None:
    """A caller let in gets the 422 of a bad `after`, checked only once it may read: a good one
    would stream for good, which the in-process client would wait for."""
    tokens, _ = world
    wrong: list[str] = []
    for key, rule in sorted(STREAMS.items()):
        for caller in CALLERS:
            want = {"refused:401": 401, "refused:403": 403, "let in": 422}[
                expected(rule, caller, key)
            ]
            async with http_client(app, raise_app_exceptions=False, token=tokens[caller]) as c:
                got = (await c.get("/live/jobs?after=not-a-sequence")).status_code
            if got != want:
                wrong.append(f"{key} as {caller}: {got}, wanted {want}")
    assert not wrong, "\n".join(wrong)
