"""Turn the server's "this lease went silent" markers into lost attempts.

LEASES holds one message per leased job with the lease as its TTL. When a lease is not renewed
the server removes it and leaves a `MaxAge` marker, even when no process is watching at that
instant; a durable consumer reads the markers when it can, so it also catches up after a restart.
"""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg

from infra.durable_consumer import DurableConsumer
from infra.layout import LEASES
from infra.leases import MARKER
from infra.queue import QueueService


def lease_monitor(nc: Client, queue: QueueService) -> DurableConsumer:
    async def on_lease_message(msg: Msg) -> None:
        if (msg.headers or {}).get(MARKER) == "MaxAge":
            await queue.expire_if_silent(msg.subject.split(".", 1)[1], "lease expired")

    return DurableConsumer(nc, LEASES, "lease-monitor", "lease.>", on_lease_message)
