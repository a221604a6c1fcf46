"""A request/reply service on plain nats-py: a queue-group subscription whose callback starts a
task per request, so slow requests never hold fast ones back.

Plain nats-py rather than a FastStream subscriber on the hot paths: FastStream's per-message
middleware, its access log lines and its hand-off to a worker cost more than a short request
(docs/architecture.md, The native path). Only inboxes are answered: the reply goes out as
JetDeck's own NATS user, which may write where a caller may not (see workers.gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from infra.nats_auth import AGENT_INBOX
from workers.native_errors import Reply

Answer = Callable[[str, bytes], Awaitable[Reply]]
"""The answer to a request: its subject and body in, a reply with a `status` out."""
INBOXES = (f"{AGENT_INBOX}.", "_INBOX.")
"""Native agents' inboxes, and those of JetDeck's own processes (nats-py's default prefix): the
only reply subjects answered, since a reply goes out as JetDeck's own NATS user, which may write
where a caller may not."""
BUSY: Reply = {"status": 503, "error": "unavailable", "detail": "too many requests at once"}
STOPPING: Reply = {"status": 503, "error": "unavailable", "detail": "this process is stopping"}
STOP_GRACE_S = 5.0
"""What a stop gives the requests in flight before it answers them 503: a claim long-polls for
up to 30 s, and a supervisor waits 10 s for a process to stop."""
log = logging.getLogger(__name__)


class Responder:
    def __init__(
        self,
        nc: Client,
        subject: str,
        queue: str,
        answer: Answer,
        reply_prefixes: tuple[str, ...],
        max_in_flight: int,
    ) -> None:
        self.nc = nc
        self.subject = subject
        self.queue = queue
        self.answer = answer
        self.reply_prefixes = reply_prefixes
        self.max_in_flight = max_in_flight
        """Beyond this many requests at once, a request is answered 503 at once."""
        self._sub: Subscription | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject, queue=self.queue, cb=self._on_request)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """No new requests; those in flight get their answers, or after `grace_s` a 503 (the
        caller asks again, of another process)."""
        if self._sub is not None:
            with contextlib.suppress(NatsError):
                await self._sub.unsubscribe()
            self._sub = None
        if not self._running:
            return
        _, late = await asyncio.wait(self._running, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply.startswith(self.reply_prefixes):
            log.warning("request on %s with reply subject %r ignored", msg.subject, msg.reply)
            return
        if len(self._running) >= self.max_in_flight:
            await _respond(msg, BUSY)
            return
        task = asyncio.create_task(self._serve(msg))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve(self, msg: Msg) -> None:
        try:
            reply = await self.answer(msg.subject, msg.data)
        except asyncio.CancelledError:  # stopped (`stop`): the caller is told, not left waiting
            await _respond(msg, STOPPING)
            raise
        await _respond(msg, reply)


async def _respond(msg: Msg, reply: Reply) -> None:
    with contextlib.suppress(NatsError):  # the connection is going: the caller retries
        await msg.respond(orjson.dumps(reply))
