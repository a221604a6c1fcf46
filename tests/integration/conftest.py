"""Infra against a real nats-server (its layout declared): a connection, and the event store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from infra.commands import CommandRunner
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from infra.services import Services, open_services
from infra.settings import Settings
from workers.gateway import create_app


@pytest.fixture
async def nc(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await connect(fresh_server.url, "jetdeck-test")
    yield client
    await client.close()


@pytest.fixture
async def admin_nc(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    """A connection as the layout's admin user: it may listen on the JetStream API's subjects
    and read consumers' state, which JetDeck's own user may not."""
    client = await nats.connect(fresh_server.admin_url)
    yield client
    await client.close()


@pytest.fixture
def store(nc: Client) -> EventStore:
    return EventStore(nc)


@pytest.fixture
def commands(store: EventStore) -> CommandRunner:
    return CommandRunner(store)


@pytest.fixture
async def gateway_beside(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    """An API's services, and the gateway (native queue calls, heartbeats and service commands)
    running beside them."""
    settings = Settings(nats_url=fresh_server.url)
    found = await open_services(settings, "test")
    async with create_app(settings):
        yield found
    await found.close()
