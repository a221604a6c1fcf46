"""Turn the server's "this lease went silent" markers into lost attempts.

LEASES holds one message per leased job with the lease as its TTL. When a lease is not renewed
the server removes it and leaves a `MaxAge` marker, even when no process is watching at that
instant; this durable consumer reads the markers when it can, so it also catches up after a
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from domain.errors import JetDeckError
from infra.layout import LEASES
from infra.queue import MARKER, QueueService

log = logging.getLogger(__name__)
DURABLE = "lease-monitor"


class LeaseMonitor:
    def __init__(self, nc: Client, queue: QueueService) -> None:
        self.js = nc.jetstream()
        self.queue = queue
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=10_000,
        )
        self._sub = await self.js.pull_subscribe(
            "lease.>", durable=DURABLE, stream=LEASES, config=config
        )
        self._task = asyncio.create_task(self._run(self._sub))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(64, timeout=1)
            except (NatsTimeoutError, TimeoutError):
                continue
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Msg) -> None:
        if (msg.headers or {}).get(MARKER) == "MaxAge":
            job_id = msg.subject.split(".", 1)[1]
            try:
                await self.queue.expire_if_silent(job_id, "lease expired")
            except JetDeckError as exc:
                log.warning("lease of job %s: %s", job_id, exc)
        await msg.ack()
