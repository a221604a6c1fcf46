"""Sessions after login: cookie or bearer, CSRF on cookie writes, roles read at every request,
logout and expiry seen at once by the API process that ends the session and, through its watch on
the bucket, soon after by every other on the same NATS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from nats.js.errors import KeyNotFoundError

from api.app import create_app
from api.auth import CSRF_HEADER, SESSION_COOKIE
from domain.errors import UnauthorizedError
from infra.access import sha256
from infra.services import Services
from infra.sessions import SessionStore
from infra.settings import Settings
from tests.api.helpers import JOB, JOBS, ok
from tests.api.login.browser import SESSION, browser, logged_in

ALICE = "user:alice@example.com"
WATCH_DEADLINE_S = 5.0
"""Far longer than a watch takes, far shorter than the cache's staleness bound in these tests."""


@asynccontextmanager
async def holding(
    app: FastAPI, secret: str, cookie: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """A client presenting `secret`, as the session cookie or as a bearer token."""
    transport = httpx.ASGITransport(app=app)
    if cookie:
        client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
        client.cookies.set(SESSION_COOKIE, secret)
    else:
        headers = {"Authorization": f"Bearer {secret}"}
        client = httpx.AsyncClient(transport=transport, base_url="http://jetdeck", headers=headers)
    async with client:
        yield client


async def status_of(app: FastAPI, secret: str) -> tuple[int, int]:
    """`GET /api/auth/session` with the secret as cookie, then as bearer."""
    async with holding(app, secret, cookie=True) as by_cookie, holding(app, secret) as by_bearer:
        return (await by_cookie.get(SESSION)).status_code, (
            await by_bearer.get(SESSION)
        ).status_code


async def last_seq(services: Services) -> int:
    return (await services.stream_state()).last_seq


async def session_writes(services: Services) -> int:
    return (await services.sessions.kv.status()).stream_info.state.last_seq


@asynccontextmanager
async def another_process(settings: Settings) -> AsyncIterator[FastAPI]:
    """A second API app on the same NATS whose cached sessions never go stale on their own, so
    only its watch on the bucket can tell it of the first one's writes."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        other.state.services.sessions.fresh_s = 3600
        yield other


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WATCH_DEADLINE_S
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def test_logout_ends_the_session_for_cookie_and_bearer(app: FastAPI) -> None:
    async with browser(app) as alice:
        secret = await logged_in(alice)
        csrf = (await alice.me())["csrf_token"]
        ok(await alice.write("DELETE", SESSION, csrf=None), 403)
        assert await status_of(app, secret) == (200, 200)
        response = await alice.write("DELETE", SESSION, csrf=csrf)
        assert response.status_code == 204
        assert response.headers["set-cookie"].startswith(f'{SESSION_COOKIE}=""; expires=')
        assert alice.session_token is None
    assert await status_of(app, secret) == (401, 401)


async def test_a_new_login_is_a_new_session(app: FastAPI) -> None:
    async with browser(app) as alice:
        first = await logged_in(alice)
        second = await logged_in(alice)
    assert first != second


@pytest.mark.parametrize("settings", [{"session_idle_s": 2}], indirect=True)
async def test_a_session_in_use_lives_on_and_an_idle_one_ends(
    app: FastAPI, services: Services
) -> None:
    async with browser(app) as alice:
        secret = await logged_in(alice)
        writes_before = await session_writes(services)
        in_use_until = time.monotonic() + 3  # longer than the idle timeout
        while time.monotonic() < in_use_until:
            await alice.me()
            await asyncio.sleep(0.2)
    # renewed every quarter of the timeout (0.5 s), not at each of the ~15 requests
    assert await session_writes(services) - writes_before <= 8
    deadline = time.monotonic() + 10
    while await _stored(services, secret):
        assert time.monotonic() < deadline, "the idle session's key outlived its TTL"
        await asyncio.sleep(0.1)
    assert await status_of(app, secret) == (401, 401)


@pytest.mark.parametrize("settings", [{"session_max_s": 2}], indirect=True)
async def test_a_session_ends_at_its_maximum_lifetime_however_busy(
    app: FastAPI, services: Services
) -> None:
    """The browser drops the cookie then too (its Max-Age); the server ends the session."""
    async with browser(app) as alice:
        started = time.monotonic()
        secret = await logged_in(alice)
    async with holding(app, secret) as script:
        while (await script.get(SESSION)).status_code == 200:
            assert time.monotonic() < started + 10, "the session outlived its maximum"
            await asyncio.sleep(0.1)
    assert time.monotonic() - started >= 1.9
    assert await status_of(app, secret) == (401, 401)
    assert not await _stored(services, secret)


async def test_a_logout_on_one_api_process_reaches_another_by_its_watch(
    app: FastAPI, settings: Settings
) -> None:
    async with another_process(settings) as other, browser(app) as alice:
        secret = await logged_in(alice)
        assert await status_of(other, secret) == (200, 200)  # now in its cache
        async with holding(app, secret) as script:
            assert (await script.delete(SESSION)).status_code == 204
        assert await status_of(app, secret) == (401, 401)  # at once where it ended

        async def refused_there() -> bool:
            return await status_of(other, secret) == (401, 401)

        await until(refused_there, "the other process never saw the logout")


async def test_a_renewal_on_one_api_process_reaches_another_by_its_watch(
    app: FastAPI, settings: Settings
) -> None:
    async with another_process(settings) as other, browser(app) as alice:
        secret = await logged_in(alice)
        async with holding(other, secret) as elsewhere:
            ok(await elsewhere.get(SESSION))  # now in its cache
            refresh = f"{SESSION}/refresh"
            renewed = ok(await alice.write("POST", refresh, csrf=(await alice.me())["csrf_token"]))

            async def renewed_there() -> bool:
                return bool(ok(await elsewhere.get(SESSION))["expires_at"] == renewed["expires_at"])

            await until(renewed_there, "the other process never saw the renewal")


async def test_a_process_that_misses_a_logout_reads_the_session_again_soon(
    app: FastAPI, services: Services
) -> None:
    """A store that never watches stands for one whose watch lost the logout (disconnected, say):
    it answers from its cache, but reads again once the entry is `fresh_s` old."""
    async with browser(app) as alice:
        secret = await logged_in(alice)
    live = services.sessions
    deaf = SessionStore(live.js, live.kv, live.idle_s, live.max_s, fresh_s=1)
    session = await deaf.open(secret)
    await live.end(session)
    assert await deaf.open(secret) == session  # from its cache: it read nothing

    async def refused() -> bool:
        try:
            await deaf.open(secret)
        except UnauthorizedError:
            return True
        return False

    await until(refused, "a stale entry was served past its bound")


async def test_cookie_writes_need_the_csrf_token_and_roles_count_from_the_next_request(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    async with browser(app) as alice:
        secret = await logged_in(alice)
        csrf = (await alice.me())["csrf_token"]
        before = await last_seq(services)
        for forged in (None, "", csrf[:-1] + ("x" if csrf[-1] != "x" else "y")):
            refusal = ok(await alice.write("POST", JOBS, csrf=forged, json=JOB), 403)
            assert CSRF_HEADER in refusal["detail"]
        refusal = ok(await alice.write("POST", JOBS, csrf=csrf, json=JOB), 403)
        assert f"{ALICE} needs the report permission" in refusal["detail"]
        assert await last_seq(services) == before

        ok(await client.post(f"/api/auth/users/{ALICE}/roles", json={"role": "reporter"}))
        assert (await alice.me())["roles"] == ["reporter"]
        ok(await alice.write("POST", JOBS, csrf=None, json=JOB), 403)
        created = ok(await alice.write("POST", JOBS, csrf=csrf, json=JOB), 201)
    async with holding(app, secret) as script:  # a bearer is never sent by a browser on its own
        ok(await script.post(JOBS, json=JOB), 201)
    assert created["job_id"]


async def test_refresh_restarts_the_idle_timeout(app: FastAPI) -> None:
    async with browser(app) as alice:
        await logged_in(alice)
        me = await alice.me()
        ok(await alice.write("POST", f"{SESSION}/refresh", csrf=None), 403)
        refreshed = ok(await alice.write("POST", f"{SESSION}/refresh", csrf=me["csrf_token"]))
    assert datetime.fromisoformat(refreshed["expires_at"]) > datetime.fromisoformat(
        me["expires_at"]
    )
    assert refreshed["csrf_token"] == me["csrf_token"]


async def test_every_protected_route_offers_the_session_cookie(client: httpx.AsyncClient) -> None:
    document = ok(await client.get("/api/openapi.json"))
    scheme = document["components"]["securitySchemes"]["session"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "cookie", SESSION_COOKIE)
    create_job = document["paths"][JOBS]["post"]["security"]
    assert {"session": ["report"]} in create_job
    assert {"token": ["report"]} in create_job


async def _stored(services: Services, secret: str) -> bool:
    try:
        await services.sessions.kv.get(sha256(secret))
    except KeyNotFoundError:
        return False
    return True
