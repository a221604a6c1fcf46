"""Tickets that are not JetDeck job tickets are terminated, counted, and never fail a claim."""

from __future__ import annotations

from uuid import uuid4

from infra.codec import content_of, seal
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.layout import QUEUE
from tests.queue_helpers import (
    enqueue,
    eventually,
    must_claim,
    queue_services,
    stream_messages,
)

GARBAGE = 50


async def test_garbage_tickets_are_terminated_and_claims_keep_working(
    fresh_server: EmbeddedServer,
) -> None:
    async with queue_services(fresh_server.url) as (services,):
        real = await enqueue(services)
        (stored,) = await services.store.load(f"ev.job.{real}.>")
        attacker = await connect(fresh_server.admin_url, "attacker")
        try:
            js = attacker.jetstream()
            for n in range(GARBAGE):  # all ahead of the real job at a higher priority
                await js.publish(f"ev.job.{uuid4()}.queued.default.critical", b"garbage %d" % n)
            # The real job's sealed event replayed under another id (the MAC covers the
            # subject), and the same content sealed with a key that is not the writer key.
            other = f"ev.job.{uuid4()}.queued.default.critical"
            await js.publish(other, stored.payload)
            await js.publish(other, seal(other, content_of(stored.payload), b"k" * 32))
        finally:
            await attacker.close()

        async def copied() -> bool:
            return await stream_messages(services, QUEUE) == GARBAGE + 3

        await eventually(copied, 5, "every ticket copied into QUEUE")
        grant = await must_claim(services.queue)
        assert grant.job.id == real
        assert services.queue.rejected.count == GARBAGE + 2
        assert await stream_messages(services, QUEUE) == 1  # only the claimed job's ticket
