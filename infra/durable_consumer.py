"""A durable pull consumer run as a background task: fetch, handle each message, ack it.

Used by the monitors that turn TTL markers into events. Durable, so markers the server wrote
while no process was watching are handled after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from domain.errors import ConcurrencyError, UnavailableError

log = logging.getLogger(__name__)
Handler = Callable[[Msg], Awaitable[None]]
RETRY_S = 1.0


class DurableConsumer:
    def __init__(
        self, nc: Client, stream: str, durable: str, subject: str, handle: Handler
    ) -> None:
        self.js = nc.jetstream()
        self.stream = stream
        self.durable = durable
        self.subject = subject
        self.handle = handle
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=10_000,
        )
        self._sub = await self.js.pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=config
        )
        self._task = asyncio.create_task(self._run(self._sub))

    async def stop(self) -> None:
        if self._task is not None:
            # On Python 3.11 `fetch` can swallow a cancel (asyncio.wait_for loses it when its
            # inner wait ends at the same moment), and the loop would fetch forever: cancel again
            # until the task has ended.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        failures = 0
        while True:
            try:
                msgs = await sub.fetch(64, timeout=1)
            except (NatsTimeoutError, TimeoutError):
                continue
            except NatsError as exc:  # the server is away: try again, more slowly each time
                failures += 1
                log.warning("%s: fetch failed (%r)", self.durable, exc)
                await asyncio.sleep(min(RETRY_S * failures, 30))
                continue
            failures = 0
            for msg in msgs:
                await self._one(msg)

    async def _one(self, msg: Msg) -> None:
        """Passing trouble is retried later; anything else is logged and acked, since a retry
        would meet the same answer, and one bad message must not stop the monitor."""
        try:
            await self.handle(msg)
        except (UnavailableError, ConcurrencyError, NatsError, TimeoutError) as exc:
            log.warning("%s: %r on %s; will retry", self.durable, exc, msg.subject)
            await msg.nak(delay=RETRY_S)
            return
        except Exception:
            log.exception("%s: cannot handle %s; dropped", self.durable, msg.subject)
        await msg.ack()
