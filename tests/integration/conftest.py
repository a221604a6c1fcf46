"""Infra against a real nats-server (its layout declared): a connection, and the event store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from infra.commands import CommandRunner
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore


@pytest.fixture
async def nc(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await connect(fresh_server.url, "jetdeck-test")
    yield client
    await client.close()


@pytest.fixture
def store(nc: Client) -> EventStore:
    return EventStore(nc)


@pytest.fixture
def commands(store: EventStore) -> CommandRunner:
    return CommandRunner(store)
