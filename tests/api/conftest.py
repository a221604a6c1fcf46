"""An API app on its own nats-server, driven through httpx in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from infra.embedded_server import EmbeddedServer
from infra.services import Services
from infra.settings import Settings


@pytest.fixture
async def app(fresh_server: EmbeddedServer) -> AsyncIterator[FastAPI]:
    app = create_app(Settings(nats_url=fresh_server.url, snapshot_every=100))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jetdeck") as client:
        yield client


@pytest.fixture
def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found
