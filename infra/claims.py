"""Claims without rescans: per pool and process, one dispatcher pulls tickets for the claims
waiting on it, highest priority first, and hands them out in the order the claims came.

A level is asked only when it may hold a ticket: after the server said a ticket landed on it
(QUEUE republishes each stored ticket's headers on `jetdeck.tickets.<pool>.<priority>.<id>`,
so the ticket is pullable when its signal arrives), and for every level once per `recheck_s`,
because redeliveries (delayed tickets, put-backs, lost leases) send no signal. A pull asks for
as many tickets as the claims waiting want, `no_wait`: the server answers at once with up to
that many, and with a 404 status when it had fewer. One pull serves many claims, and a new
ticket wakes the dispatcher once, not every claim.

A pull also asks for room to hold up to `prefetch` tickets for the claims that come next, so a
claim in a steady stream takes one without a round trip; once half are taken the dispatcher
tops them up, off the claims' path. Held tickets of a lower level make no room for a higher
one's and go back when it fills; none is handed out while a higher level may hold a ticket.
A level's held tickets go back to the consumer (nak, in the order they came) once the first of
them was held `recheck_s`, and at once when the process stops, so another process's claims
wait at most about that long for them. Every ticket still out counts on the consumer's
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

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import BadSubscriptionError

from domain.errors import UnavailableError
from domain.queue import PRIORITY_ORDER, Priority
from infra.claim_levels import MAX_BATCH, Level, release
from infra.layout import TICKET_SIGNALS

log = logging.getLogger(__name__)
Clock = Callable[[], float]


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
        self,
        nc: Client,
        pool: str,
        recheck_s: float,
        timeout_s: float,
        clock: Clock,
        prefetch: int,
    ) -> None:
        self.levels = [Level(nc, pool, p, timeout_s) for p in PRIORITY_ORDER]
        self.by_priority = dict(zip(PRIORITY_ORDER, self.levels, strict=True))
        self.recheck_s = recheck_s
        self.clock = clock
        self.prefetch = prefetch
        """How many tickets may be held beyond what the waiting claims want."""
        self.waiters: deque[Waiter] = deque()
        self._signal = asyncio.Event()
        self._checked_at = clock()
        self._serving: asyncio.Task[None] | None = None
        self._topping = False
        """A claim was served since the last idle wait: only then does the dispatcher pull for
        the claims it expects next, never on a signal alone."""

    def signalled(self, priority: Priority) -> None:
        self.by_priority[priority].signalled()
        self._signal.set()

    @property
    def held(self) -> int:
        return sum(len(level.held) for level in self.levels)

    async def take(self, want: int, timeout_s: float) -> list[Msg]:
        """Up to `want` tickets, at least one unless `timeout_s` passed first (`[]`). With
        `timeout_s` 0 every level that may hold one is asked once."""
        waiter = Waiter(want, patient=timeout_s > 0)
        self.waiters.append(waiter)
        self._signal.set()  # a dispatcher holding tickets idle waits for a claim or a signal
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
            await self._serve_until_idle()
        except Exception as exc:  # no claim may hang on a dispatcher that died
            log.exception("the claim dispatcher failed")
            self._fail_all(UnavailableError(f"the claim dispatcher failed: {exc!r}"))
            await self._release_beyond(0)

    async def _serve_until_idle(self) -> None:
        """Serve the waiting claims; then top up the tickets held for the next ones. A level's
        held tickets go back once the first of them was held `recheck_s`."""
        while True:
            now = self.clock()
            if now - self._checked_at >= self.recheck_s:
                self._recheck()
            await self._release_stale(now - self.recheck_s)
            best = self._best_held()
            if self.waiters:
                if (level := self._maybe_above(best)) is not None:
                    await self._pull(level, sum(w.want for w in self.waiters))
                elif self.held:
                    self._hand_out()
                else:
                    self._answer_impatient()
                    await self._wait_for_signal(self.recheck_s - (now - self._checked_at))
            elif (
                self._topping
                and self.held <= self.prefetch // 2 < self.prefetch
                and (level := self._maybe_above(best + 1))
            ):
                await self._pull(level, 0)
            elif self.held:
                self._topping = False  # only claims make it pull for the next ones
                await self._release_beyond(self.prefetch)
                if self.held:
                    await self._wait_for_signal(self._first_held_at() + self.recheck_s - now)
            else:
                return  # nothing awaited since the check: no claim can have come meanwhile

    def _best_held(self) -> int:
        """The index of the highest level holding a ticket; past the last level if none does."""
        return next((n for n, level in enumerate(self.levels) if level.held), len(self.levels))

    def _maybe_above(self, end: int) -> Level | None:
        """The highest level that may hold a ticket among the first `end`."""
        return next((level for level in self.levels[:end] if level.maybe), None)

    async def _pull(self, level: Level, wanted: int) -> None:
        """Asks `level` for what the claims want and room to hold more; tickets held of lower
        levels make no room, and go back if the pull fills it."""
        rank = self.levels.index(level)
        room = self.prefetch - sum(len(lv.held) for lv in self.levels[: rank + 1])
        try:
            got = await level.pull(min(wanted + max(room, 0), MAX_BATCH))
        except UnavailableError as exc:
            self._fail_all(exc)
            self._topping = False
            return
        level.hold(got, self.clock())
        if self.waiters:
            self._hand_out()
        await self._release_beyond(self.prefetch + sum(w.want for w in self.waiters))

    def _recheck(self) -> None:
        for level in self.levels:
            level.maybe = True
        self._checked_at = self.clock()

    def _answer_impatient(self) -> None:
        for waiter in [w for w in self.waiters if not w.patient]:
            self.waiters.remove(waiter)
            waiter.given.set_result([])

    async def _wait_for_signal(self, timeout_s: float) -> None:
        """Until a signal or a claim comes, for `timeout_s` at most."""
        self._signal.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), max(timeout_s, 0.0))

    def _hand_out(self) -> None:
        """The best tickets held, to the claims in the order they came; none is handed out while
        a higher level may hold one (the caller asks it first)."""
        for level in self.levels:
            while level.held and self.waiters:
                waiter = self.waiters.popleft()
                waiter.given.set_result(level.take(waiter.want))
                self._topping = True
            if level.held or level.maybe:
                return

    def _fail_all(self, exc: UnavailableError) -> None:
        while self.waiters:
            self.waiters.popleft().given.set_exception(exc)

    async def _release_beyond(self, keep: int) -> None:
        """Held tickets past the best `keep` go back: the lowest and latest, each level's in
        the order it gave them, so the consumer hands them out again in that order."""
        going: list[Msg] = []
        for level in reversed(self.levels):
            while self.held > keep and level.held:
                going.append(level.take_newest())
        await release(going[::-1])

    async def _release_stale(self, pulled_by: float) -> None:
        """Every ticket of a level whose first was pulled by `pulled_by` goes back: the later
        ones too, so that none is handed out before one held longer."""
        for level in self.levels:
            if level.held and level.held_since() <= pulled_by:
                await release(level.take(len(level.held)))

    def _first_held_at(self) -> float:
        return min(level.held_since() for level in self.levels if level.held)

    async def close(self) -> None:
        """Held tickets go back at once, for the claims of other processes."""
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
        self._fail_all(UnavailableError("this process is stopping"))
        await self._release_beyond(0)
        for level in self.levels:
            await level.close()


class Dispatchers:
    """This process's dispatchers, one per pool, and the subscription that signals them."""

    def __init__(
        self,
        nc: Client,
        recheck_s: float,
        timeout_s: float,
        prefetch: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self.nc = nc
        self.recheck_s = recheck_s
        self.timeout_s = timeout_s
        self.prefetch = prefetch
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
            found = PoolDispatcher(
                self.nc, pool, self.recheck_s, self.timeout_s, self.clock, self.prefetch
            )
            self.pools[pool] = found
        return found

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(BadSubscriptionError):
                await self._sub.unsubscribe()
        for dispatcher in self.pools.values():
            await dispatcher.close()
