"""One priority level of a pool as the claim dispatcher (infra/claims.py) pulls it: `no_wait`
pulls on a long-lived inbox of the level's own, the tickets pulled and not handed out yet, and
how a ticket goes back to the consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import BadSubscriptionError

from domain.queue import Priority
from infra.layout import QUEUE, consumer_name
from infra.nats_errors import unavailable_on_failure

MAX_BATCH = 256
"""Tickets asked for in one pull."""
RELEASE = b"-NAK"


class Level:
    """One priority consumer of a pool, pulled through a long-lived inbox of its own: a pulled
    message arrives on its stream subject, so only the inbox tells which consumer sent it."""

    def __init__(self, nc: Client, pool: str, priority: Priority, timeout_s: float) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{QUEUE}.{consumer_name(pool, priority)}"
        self.timeout_s = timeout_s
        self.maybe = True
        """This level may hold a ticket: no pull since the last signal came back short."""
        self.signals = 0
        self.held: deque[tuple[Msg, float]] = deque()
        """Tickets pulled and not handed out yet, with when, in the order the level gave them."""
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._got: list[Msg] = []
        self._asked = 0
        self._done: asyncio.Future[None] | None = None
        self._letting_go: set[asyncio.Task[None]] = set()

    def signalled(self) -> None:
        self.signals += 1
        self.maybe = True

    def hold(self, tickets: list[Msg], at: float) -> None:
        self.held.extend((ticket, at) for ticket in tickets)

    def take(self, want: int) -> list[Msg]:
        """Up to `want` of the held tickets, the first held first."""
        return [self.held.popleft()[0] for _ in range(min(want, len(self.held)))]

    def take_newest(self) -> Msg:
        """The ticket held last: the first to go back when there are too many."""
        return self.held.pop()[0]

    def held_since(self) -> float:
        """When the first ticket still held was pulled; the level must hold one."""
        return self.held[0][1]

    async def pull(self, want: int) -> list[Msg]:
        """Up to `want` tickets, at once; fewer means the level had no more when asked."""
        if want <= 0:
            return []
        if self._sub is None:
            self._sub = await self.nc.subscribe(self._inbox, cb=self._on_message)
        signals = self.signals
        self._got, self._asked = [], want
        self._done = asyncio.get_running_loop().create_future()
        request = orjson.dumps({"batch": want, "no_wait": True})
        try:
            with unavailable_on_failure(f"pulling from {self.next_subject}"):
                await self.nc.publish(self.next_subject, request, reply=self._inbox)
                await asyncio.wait_for(self._done, self.timeout_s)
        except BaseException:  # timed out or cancelled: what came so far goes back
            self._let_go(self._got)
            raise
        finally:
            got, self._got, self._done = self._got, [], None
        if len(got) < want and self.signals == signals:
            self.maybe = False
        return got

    def _let_go(self, tickets: list[Msg]) -> None:
        """Released by a task of its own, since a cancelled pull may not wait for it."""
        if tickets:
            task = asyncio.get_running_loop().create_task(release(tickets))
            self._letting_go.add(task)
            task.add_done_callback(self._letting_go.discard)

    async def _on_message(self, msg: Msg) -> None:
        done = self._done
        status = msg.headers is not None and "Status" in msg.headers
        if done is None or done.done():  # the answer to a pull that timed out: let it go
            if not status:
                await msg.respond(RELEASE)
            return
        if not status:
            self._got.append(msg)
        if status or len(self._got) == self._asked:
            done.set_result(None)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(BadSubscriptionError):
                await self._sub.unsubscribe()
            self._sub = None


async def release(tickets: list[Msg]) -> None:
    """Back to the consumer at once, for the next claim anywhere."""
    for ticket in tickets:
        await ticket.respond(RELEASE)
