"""A write whose acknowledgement never comes fails at its deadline, on a real nats-server: a
subscriber that takes the message and answers nothing stands in for a stream that hangs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.errors import UnavailableError
from infra.beat_writer import BeatWriter
from infra.embedded_server import EmbeddedServer
from infra.replies import Replies
from tests.queue_helpers import eventually

DEADLINE_S = 0.3
LINGER_S = 0.25
"""Long beside the deadline, so a write that gave its ack a whole deadline after lingering
would be plain to see, however busy the machine."""


@dataclass
class Silent:
    client: Client
    taken: list[str] = field(default_factory=list)
    """The subjects of the messages the silent subscriber took."""

    async def took(self, subject: str) -> None:
        async def taken() -> bool:
            return self.taken == [subject]

        await eventually(taken, 5, f"the silent subscriber took {subject} alone")


@pytest.fixture
async def silent(fresh_server: EmbeddedServer) -> AsyncIterator[Silent]:
    """A connection with a subscriber on every heartbeat subject that never answers, and no
    stream on them."""
    found = Silent(await nats.connect(fresh_server.admin_url))
    await found.client.jetstream().delete_stream("HEARTBEATS")

    async def take(msg: Msg) -> None:
        found.taken.append(msg.subject)

    await found.client.subscribe("hb.>", cb=take)
    await found.client.flush()
    try:
        yield found
    finally:
        await found.client.close()


async def test_an_unanswered_request_times_out_at_its_deadline(silent: Silent) -> None:
    replies = Replies(silent.client)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await replies.request("hb.nobody", b"{}", {}, DEADLINE_S)
    assert loop.time() - started >= DEADLINE_S
    assert replies._waiting == {}  # nothing left waiting for good
    await silent.took("hb.nobody")  # it was sent, and not answered


async def test_an_unacknowledged_beat_waits_for_its_ack_only_what_its_deadline_leaves(
    silent: Silent,
) -> None:
    """The beat lingers `LINGER_S` before it is published; its ack may then take only the rest
    of the deadline, not a whole one more: the write fails one deadline after it began."""
    writer = BeatWriter(silent.client, ttl_s=10, timeout_s=DEADLINE_S, linger_s=LINGER_S)
    await writer.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(UnavailableError, match="not acknowledged"):
            await writer.write("agent-1", b"{}")
    finally:
        await writer.stop()
    assert DEADLINE_S <= loop.time() - started < DEADLINE_S + LINGER_S
    assert writer.replies._waiting == {}  # nothing left waiting for good
    await silent.took("hb.agent-1")  # it was published, and not answered


async def test_a_beat_not_published_by_its_deadline_is_unavailable(silent: Silent) -> None:
    writer = BeatWriter(silent.client, ttl_s=10, timeout_s=DEADLINE_S, linger_s=10 * DEADLINE_S)
    await writer.start()
    try:
        with pytest.raises(UnavailableError, match="not acknowledged"):
            await writer.write("agent-1", b"{}")
        assert writer._queue.empty()  # taken by the writer, which still lingers over it
    finally:
        await writer.stop()
    assert silent.taken == []
