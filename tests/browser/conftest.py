"""A real browser against the real API: Debian's chromium driven by Playwright (pip), the API
under uvicorn on a loopback port against the test's own nats-server, and the suite's OIDC
issuer to log in through.

Playwright's own browser download cannot run everywhere, so the tests use the chromium the
machine has (`CHROMIUM`, else Debian's path). Without one they skip, saying why; under CI
(`CI=true`) they fail instead, so a missing install cannot pass unnoticed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from api.app import create_app
from infra.embedded_server import EmbeddedServer, free_port
from infra.settings import Settings
from tests.api.login.conftest import issuer, oidc_provider
from tests.tokens import ADMIN_TOKEN

__all__ = ["issuer"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests may run as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # chromium's calls home: a closed network refuses them noisily, an open one needs none
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
]
START_S = 30.0
"""Deadline for the API to start, never a measure of speed."""
LOOPBACK = frozenset({"127.0.0.1", "localhost"})
LIVE_KEEPALIVE_S = 1.0
"""Short, so that a test sees keepalives, and a logout end a stream, within a second or two."""


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        reason = f"no chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Playwright's async API: its sync one runs an event loop of its own, which would stand in
    the way of the suite's (the nats-server fixtures)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


class ServedApi:
    """The API on a loopback port, in a thread with its own event loop, as `make run` serves it;
    it can stop and start again on the same port, as after a restart. In a thread uvicorn sets no
    signal handlers, so sse-starlette cannot see it stop: the short graceful timeout ends the
    live streams a browser holds instead of waiting for them."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_S
        while not server.started:
            assert thread.is_alive(), "the API stopped while starting"
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(START_S)
        assert not self._thread.is_alive(), "the API did not stop"


@pytest.fixture
def api_server(fresh_server: EmbeddedServer, issuer: str) -> Iterator[ServedApi]:
    """Its public URL is its port, where the issuer sends the browser back."""
    port = free_port()
    settings = Settings(
        nats_url=fresh_server.url,
        bootstrap_admin_token=ADMIN_TOKEN,
        expected_workers=[],
        public_url=f"http://127.0.0.1:{port}",
        oidc={"corp": oidc_provider(issuer)},
        live_keepalive_s=LIVE_KEEPALIVE_S,
    )
    served = ServedApi(settings, port)
    served.start()
    yield served
    served.stop()


@pytest.fixture
def served(api_server: ServedApi) -> str:
    return api_server.url


@pytest.fixture
async def admin(served: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=served, headers=headers) as client:
        yield client


async def _loopback_only(route: Route) -> None:
    """The issuer's own page asks a CDN for its stylesheet: fail it at once, offline or not."""
    if urlsplit(route.request.url).hostname in LOOPBACK:
        await route.continue_()
    else:
        await route.abort()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A context of the test's own: its cookies, and its own six connections per origin."""
    opened = await browser.new_context(viewport={"width": 1200, "height": 900})
    await opened.route("**/*", _loopback_only)
    yield opened
    await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
