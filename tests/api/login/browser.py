"""A browser for the login tests: JetDeck's cookies in one jar, visits to the providers."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.client import HTTPResponse
from http.cookiejar import Cookie, CookieJar
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from fastapi import FastAPI

from api.auth import CSRF_HEADER, SESSION_COOKIE
from infra.settings import is_loopback
from tests.api.login.fake_github import FakeGithub

PUBLIC_URL = "http://127.0.0.1:8000"
"""JetDeck's default public URL: the callback URL providers send the browser back to."""
SESSION = "/api/auth/session"
OTHER_CLIENT = "another-app"


def with_query(url: str, **changes: str | None) -> str:
    """`url` with query parameters replaced, or removed when None."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        query.pop(key, None)
    return urlunsplit(parts._replace(query=urlencode(query)))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class LoopbackJar(CookieJar):
    """Takes Secure cookies from http on loopback back there, as Chromium (89+) and Firefox (75+)
    do for a potentially trustworthy origin. httpx sends them over https alone, and copies the
    jar per request without its policy, so they are kept as if set without the flag."""

    def make_cookies(self, response: HTTPResponse, request: urllib.request.Request) -> list[Cookie]:
        cookies = list(super().make_cookies(response, request))
        if is_loopback(urlsplit(request.get_full_url()).hostname or ""):
            for cookie in cookies:
                cookie.secure = False
        return cookies


class Browser:
    def __init__(self, app: FastAPI, github: FakeGithub | None, base_url: str) -> None:
        self.jetdeck = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=base_url,
            cookies=LoopbackJar(),
        )
        self.github = github

    async def start(self, provider: str) -> str:
        """The provider's authorization URL JetDeck redirects to."""
        response = await self.jetdeck.get(f"/api/auth/login/{provider}")
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def approve(self, authorize_url: str, who: str) -> str:
        """The person approves at the provider; the URL it sends the browser back to."""
        if self.github is not None and "/login/oauth/authorize" in authorize_url:
            transport = httpx.ASGITransport(app=self.github.app())
            async with httpx.AsyncClient(transport=transport) as provider:
                response = await provider.get(with_query(authorize_url, login=who))
        else:
            async with httpx.AsyncClient() as provider:
                response = await provider.post(authorize_url, data={"sub": who})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def finish(self, callback_url: str) -> httpx.Response:
        return await self.jetdeck.get(callback_url)

    async def login(self, provider: str, who: str) -> httpx.Response:
        return await self.finish(await self.approve(await self.start(provider), who))

    @property
    def session_token(self) -> str | None:
        return self.jetdeck.cookies.get(SESSION_COOKIE)

    async def me(self) -> Any:
        response = await self.jetdeck.get(SESSION)
        assert response.status_code == 200, response.text
        return response.json()

    async def write(
        self, method: str, path: str, csrf: str | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {} if csrf is None else {CSRF_HEADER: csrf}
        return await self.jetdeck.request(method, path, headers=headers, **kwargs)


@asynccontextmanager
async def browser(
    app: FastAPI, github: FakeGithub | None = None, base_url: str = PUBLIC_URL
) -> AsyncIterator[Browser]:
    opened = Browser(app, github, base_url)
    async with opened.jetdeck:
        yield opened


async def logged_in(opened: Browser, provider: str = "corp", who: str = "u-alice") -> str:
    """Log in; the session's secret."""
    response = await opened.login(provider, who)
    assert response.status_code == 303, response.text
    assert opened.session_token is not None
    return opened.session_token
