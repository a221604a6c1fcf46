"""Run a command: load, decide, append; on a lost race reload and decide again, a bounded number
of times. A command id found in the history means a retry of a command that landed: answer with
the aggregate as that command left it, and append nothing (or refuse, if the retry carries another
request than the one recorded)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from domain.commands.results import Committed
from domain.errors import ConcurrencyError, DomainError, IdempotencyKeyReusedError
from domain.model import Aggregate
from domain.recorded import Cause
from infra.event_store import AppendConflictError, EventStore
from infra.unit_of_work import AlreadyDoneError, HistoryCache, UnitOfWork

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)


class StaleCacheError(Exception):
    """A cached history cannot be trusted for this decision; read the store."""


class CommandRunner:
    def __init__(self, store: EventStore, retries: int = 8) -> None:
        self.store = store
        self.retries = retries
        self.cache = HistoryCache()

    async def create(
        self, cause: Cause, make: Callable[[UnitOfWork], Awaitable[A]]
    ) -> Committed[A]:
        """`make` builds a new aggregate (and may touch others); a retried create finds it."""

        async def decide(uow: UnitOfWork) -> A:
            aggregate = await make(uow)
            uow.add(aggregate)
            return aggregate

        return await self.run(cause, decide, on_conflict=self._created_by_us)

    async def update(
        self,
        cause: Cause,
        cls: type[A],
        aggregate_id: UUID,
        decide: Callable[[UnitOfWork, A], Awaitable[None]],
    ) -> Committed[A]:
        async def load_and_decide(uow: UnitOfWork) -> A:
            aggregate = await uow.get(cls, aggregate_id)
            await decide(uow, aggregate)
            return aggregate

        return await self.run(cause, load_and_decide, target=(cls.KIND, aggregate_id))

    async def run(
        self,
        cause: Cause,
        decide: Callable[[UnitOfWork], Awaitable[A]],
        on_conflict: Callable[[UnitOfWork, A], Awaitable[Committed[A]]] | None = None,
        target: tuple[str, UUID] | None = None,
    ) -> Committed[A]:
        """Decide and append; `decide` returns the aggregate the caller wants to answer with.

        A decision made on cached history that refuses or records nothing is made again on
        what the store says: only an append proves the cache was current.
        """
        kind, aggregate_id = target or ("aggregate", "new")
        cache: HistoryCache | None = self.cache
        for attempt in range(self.retries + 1):
            uow = UnitOfWork(self.store, cause, cache, target[1] if target else None)
            try:
                aggregate = await decide(uow)
                if uow.cached and not uow.changed:
                    raise StaleCacheError
                # The answer's seq is the batch's last; putting the target last makes a retry,
                # which finds the target's last event, answer with the same seq.
                uow.tracked[aggregate.id] = uow.tracked.pop(aggregate.id)
                seq = await uow.commit()
            except AlreadyDoneError as done:
                return self._replay(cause, done)
            except (DomainError, StaleCacheError):
                if not uow.cached:
                    raise
                self.cache.drop(uow.cached)
                cache = None
                continue
            except AppendConflictError:
                if on_conflict is not None:
                    return await on_conflict(uow, aggregate)
                log.info("append conflict on %s %s; deciding again", kind, aggregate_id)
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
                continue
            return Committed(
                aggregate, seq if seq is not None else uow.tracked[aggregate.id].last_seq
            )
        raise ConcurrencyError(kind, str(aggregate_id))

    async def _created_by_us(self, uow: UnitOfWork, aggregate: A) -> Committed[A]:
        """A create that lost: our own earlier try made it, or the id is someone else's."""
        check = UnitOfWork(self.store, uow.cause)
        try:
            await check.get(type(aggregate), aggregate.id)
        except AlreadyDoneError as done:
            return self._replay(uow.cause, done)
        raise ConcurrencyError(type(aggregate).KIND, str(aggregate.id))

    @staticmethod
    def _replay(cause: Cause, done: AlreadyDoneError) -> Committed[A]:
        """The command landed before; a key reused for another action or request is refused."""
        first = done.first
        if first.action != cause.action or not first.same_request(cause):
            raise IdempotencyKeyReusedError(cause.command_id, first.action, cause.action)
        aggregate = done.tracked.aggregate
        return Committed(aggregate, done.tracked.last_seq, replayed=True)  # type: ignore[arg-type]
