"""Rendering the dashboard's pages: Jinja2 templates in api/templates, autoescaped, since job
names, branches and commit messages come from users and git."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.live.links import live_url
from api.pages import assets
from domain.identity import Permission, Principal

TEMPLATES = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
NO_STORE = {"Cache-Control": "no-store"}
"""A page carries the session's CSRF token and live figures: never kept by a cache."""


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page, and the CSRF token their session's writes need (none with a
    bearer token, which needs none)."""

    principal: Principal
    csrf: str | None

    def may(self, permission: Permission) -> bool:
        return permission in self.principal.permissions


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    """A duration as people read it: 4.2 s, 3 min 12 s, 2 h 5 min."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


TEMPLATES.env.filters.update(when=when, seconds=seconds, percent=percent)
TEMPLATES.env.globals.update(
    asset=assets.own, htmx=assets.HTMX, htmx_sse=assets.HTMX_SSE, live_url=live_url
)


def render(
    request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """`viewer` None: a page for someone not logged in (login, an error before we know who)."""
    return TEMPLATES.TemplateResponse(
        request, name, {"viewer": viewer, **context}, status_code=status, headers=NO_STORE
    )
