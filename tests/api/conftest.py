"""An API app on its own nats-server, driven through httpx in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from infra.embedded_server import EmbeddedServer
from infra.services import Services
from infra.settings import Settings
from tests.api.job_logs import Holder, hold_new_job
from tests.tokens import ADMIN_TOKEN


@pytest.fixture
def settings(request: pytest.FixtureRequest, fresh_server: EmbeddedServer) -> Settings:
    """Override fields per test: `@pytest.mark.parametrize("settings", [{...}], indirect=True)`."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    defaults: dict[str, Any] = {
        "snapshot_every": 100,
        "bootstrap_admin_token": ADMIN_TOKEN,
        "expected_workers": [],  # the API alone: its tests start no worker
    }
    return Settings(nats_url=fresh_server.url, **(defaults | overrides))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def http_client(
    app: FastAPI, raise_app_exceptions: bool = True, token: str | None = ADMIN_TOKEN
) -> httpx.AsyncClient:
    """Calls as the bootstrap admin unless given another token (None: no credentials)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=transport, base_url="http://jetdeck", headers=headers)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An unhandled error in the app raises in the test, with its traceback."""
    async with http_client(app) as client:
        yield client


@pytest.fixture
async def server_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An unhandled error comes back as the 500 response a real server would send."""
    async with http_client(app, raise_app_exceptions=False) as client:
        yield client


@pytest.fixture
def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


@pytest.fixture
async def holder(client: httpx.AsyncClient) -> Holder:
    """An agent holding the lease of a new job (tests/api/job_logs.py)."""
    return await hold_new_job(client)
