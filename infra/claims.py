"""Claims without rescans: per pool and process, one dispatcher pulls tickets for the claims
waiting on it, highest priority first, and hands them out in the order the claims came.

A level is asked only when it may hold a ticket: after the server said a ticket landed on it
(QUEUE republishes each stored ticket's headers on `jetdeck.tickets.<pool>.<priority>.<id>`,
so the ticket is pullable when its signal arrives), and for every level once per `recheck_s`,
because redeliveries (delayed tickets, put-backs, lost leases) send no signal. A pull asks for
as many tickets as the claims waiting want, `no_wait`: the server answers at once with up to
that many, and with a 404 status when it had fewer. One pull serves many claims, and a new
ticket wakes the dispatcher once, not every claim.

Tickets are held only between their pull and their hand-out: one that arrives when its claim
has gone (timed out, or its caller left) is released at once (nak), so none sits in this
process while another could claim it. Every ticket still out counts on the consumer's
`ack_wait`, the backstop for a process that dies holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import BadSubscriptionError

from domain.errors import UnavailableError
from domain.queue import PRIORITY_ORDER, Priority
from infra.layout import QUEUE, TICKET_SIGNALS, consumer_name
from infra.nats_errors import unavailable_on_failure

log = logging.getLogger(__name__)
MAX_BATCH = 256
"""Tickets asked for in one pull."""
RELEASE = b"-NAK"
Clock = Callable[[], float]


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
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._got: list[Msg] = []
        self._asked = 0
        self._done: asyncio.Future[None] | None = None

    def signalled(self) -> None:
        self.signals += 1
        self.maybe = True

    async def pull(self, want: int) -> list[Msg]:
        """Up to `want` tickets, at once; fewer means the level had no more when asked."""
        if self._sub is None:
            self._sub = await self.nc.subscribe(self._inbox, cb=self._on_message)
        signals = self.signals
        self._got, self._asked = [], want
        self._done = asyncio.get_running_loop().create_future()
        request = orjson.dumps({"batch": want, "no_wait": True})
        with unavailable_on_failure(f"pulling from {self.next_subject}"):
            await self.nc.publish(self.next_subject, request, reply=self._inbox)
            await asyncio.wait_for(self._done, self.timeout_s)
        got, self._done = self._got, None
        if len(got) < want and self.signals == signals:
            self.maybe = False
        return got

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


@dataclass(eq=False)
class Waiter:
    want: int
    patient: bool
    """False for a claim that asks once and does not wait (`wait_s` 0)."""
    given: asyncio.Future[list[Msg]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PoolDispatcher:
    def __init__(
        self, nc: Client, pool: str, recheck_s: float, timeout_s: float, clock: Clock
    ) -> None:
        self.levels = [Level(nc, pool, p, timeout_s) for p in PRIORITY_ORDER]
        self.by_priority = dict(zip(PRIORITY_ORDER, self.levels, strict=True))
        self.recheck_s = recheck_s
        self.clock = clock
        self.waiters: deque[Waiter] = deque()
        self._signal = asyncio.Event()
        self._checked_at = clock()
        self._serving: asyncio.Task[None] | None = None

    def signalled(self, priority: Priority) -> None:
        self.by_priority[priority].signalled()
        self._signal.set()

    async def take(self, want: int, timeout_s: float) -> list[Msg]:
        """Up to `want` tickets, at least one unless `timeout_s` passed first (`[]`). With
        `timeout_s` 0 every level that may hold one is asked once."""
        waiter = Waiter(want, patient=timeout_s > 0)
        self.waiters.append(waiter)
        self._serve()
        got: list[Msg] | None = None
        try:
            async with asyncio.timeout(timeout_s if waiter.patient else None):
                got = await asyncio.shield(waiter.given)
        except TimeoutError:
            pass
        finally:
            if got is None:
                await self._forget(waiter)
        return got or []

    async def _forget(self, waiter: Waiter) -> None:
        """A claim that gives up takes nothing with it: what it was given meanwhile goes back."""
        with contextlib.suppress(ValueError):
            self.waiters.remove(waiter)
        given = waiter.given
        if not given.done():
            given.cancel()
        elif not given.cancelled() and given.exception() is None:
            await release(given.result())

    def _serve(self) -> None:
        if self._serving is None or self._serving.done():
            self._serving = asyncio.create_task(self._serve_waiters())

    async def _serve_waiters(self) -> None:
        try:
            await self._serve_until_none_wait()
        except Exception as exc:  # no claim may hang on a dispatcher that died
            log.exception("the claim dispatcher failed")
            self._fail_all(UnavailableError(f"the claim dispatcher failed: {exc!r}"))

    async def _serve_until_none_wait(self) -> None:
        while self.waiters:
            if self.clock() - self._checked_at >= self.recheck_s:
                self._recheck()
            level = next((lv for lv in self.levels if lv.maybe), None)
            if level is None:
                self._answer_impatient()
                await self._wait_for_signal()
                continue
            try:
                tickets = await level.pull(min(sum(w.want for w in self.waiters), MAX_BATCH))
            except UnavailableError as exc:
                self._fail_all(exc)
                return
            await self._hand_out(tickets)

    def _recheck(self) -> None:
        for level in self.levels:
            level.maybe = True
        self._checked_at = self.clock()

    def _answer_impatient(self) -> None:
        for waiter in [w for w in self.waiters if not w.patient]:
            self.waiters.remove(waiter)
            waiter.given.set_result([])

    async def _wait_for_signal(self) -> None:
        self._signal.clear()
        left = self.recheck_s - (self.clock() - self._checked_at)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), max(left, 0.0))

    async def _hand_out(self, tickets: list[Msg]) -> None:
        while tickets and self.waiters:
            waiter = self.waiters.popleft()
            mine, tickets = tickets[: waiter.want], tickets[waiter.want :]
            waiter.given.set_result(mine)
        await release(tickets)

    def _fail_all(self, exc: UnavailableError) -> None:
        while self.waiters:
            self.waiters.popleft().given.set_exception(exc)

    async def close(self) -> None:
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
        for level in self.levels:
            await level.close()


async def release(tickets: list[Msg]) -> None:
    """Back to the consumer at once, for the next claim anywhere."""
    for ticket in tickets:
        await ticket.respond(RELEASE)


class Dispatchers:
    """This process's dispatchers, one per pool, and the subscription that signals them."""

    def __init__(
        self, nc: Client, recheck_s: float, timeout_s: float, clock: Clock = time.monotonic
    ) -> None:
        self.nc = nc
        self.recheck_s = recheck_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.pools: dict[str, PoolDispatcher] = {}
        self._sub: Subscription | None = None

    async def open(self) -> None:
        self._sub = await self.nc.subscribe(TICKET_SIGNALS, cb=self._on_signal)

    async def _on_signal(self, msg: Msg) -> None:
        """`jetdeck.tickets.<pool>.<priority>.<id>`; anything else is ignored."""
        parts = msg.subject.split(".")
        dispatcher = self.pools.get(parts[2]) if len(parts) == 5 else None
        if dispatcher is not None:
            with contextlib.suppress(ValueError):
                dispatcher.signalled(Priority(parts[3]))

    def of(self, pool: str) -> PoolDispatcher:
        found = self.pools.get(pool)
        if found is None:
            found = PoolDispatcher(self.nc, pool, self.recheck_s, self.timeout_s, self.clock)
            self.pools[pool] = found
        return found

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(BadSubscriptionError):
                await self._sub.unsubscribe()
        for dispatcher in self.pools.values():
            await dispatcher.close()
