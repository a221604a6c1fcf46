"""A write whose acknowledgement never comes fails at its deadline, on a real nats-server: a
subscriber that takes the message and answers nothing stands in for a stream that hangs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.errors import UnavailableError
from infra.beat_writer import BeatWriter
from infra.embedded_server import EmbeddedServer
from infra.replies import Replies

DEADLINE_S = 0.3


@pytest.fixture
async def silent(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    """A connection with a subscriber on every heartbeat subject that never answers, and no
    stream on them."""
    client = await nats.connect(fresh_server.admin_url)
    await client.jetstream().delete_stream("HEARTBEATS")
    taken: list[str] = []

    async def take(msg: Msg) -> None:
        taken.append(msg.subject)

    await client.subscribe("hb.>", cb=take)
    await client.flush()
    yield client
    assert taken, "the silent subscriber took nothing: the test proved no deadline"
    await client.close()


async def test_an_unanswered_request_times_out_at_its_deadline(silent: Client) -> None:
    replies = Replies(silent)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await replies.request("hb.nobody", b"{}", {}, DEADLINE_S)
    assert loop.time() - started >= DEADLINE_S
    assert replies._waiting == {}  # nothing left waiting for good


async def test_an_unacknowledged_beat_is_unavailable_after_its_deadline(silent: Client) -> None:
    writer = BeatWriter(silent, ttl_s=10, timeout_s=DEADLINE_S)
    await writer.start()
    try:
        with pytest.raises(UnavailableError, match="not acknowledged"):
            await writer.write("agent-1", b"{}")
    finally:
        await writer.stop()
