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


@pytest.fixture
def served(fresh_server: EmbeddedServer, issuer: str) -> Iterator[str]:
    """The API on a free loopback port, in a thread with its own event loop, as `make run`
    serves it; its public URL is that port, where the issuer sends the browser back."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        nats_url=fresh_server.url,
        bootstrap_admin_token=ADMIN_TOKEN,
        expected_workers=[],
        public_url=base,
        oidc={"corp": oidc_provider(issuer)},
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_S
    while not server.started:
        assert thread.is_alive(), "the API stopped while starting"
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(START_S)


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
