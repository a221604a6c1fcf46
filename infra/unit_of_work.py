"""Load aggregates, let the domain decide, append what they recorded in one atomic write."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar
from uuid import UUID

from domain.catalog import EVENT_NAMES
from domain.errors import (
    IdempotencyKeyReusedError,
    NotFoundError,
    UnavailableError,
    UndecodableEventError,
)
from domain.model import Aggregate, DomainEvent
from domain.recorded import GENESIS, Cause, RecordedEvent, chain_hash
from infra.codec import content_of, decode, encode, seal
from infra.event_store import AppendConflictError, EventStore, Outgoing, StoredMessage
from infra.layout import aggregate_filter, event_subject

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)


@dataclass
class Tracked:
    """An aggregate with the position and hash of its last stored event."""

    aggregate: Aggregate
    last_seq: int = 0
    last_hash: str = GENESIS
    history: list[RecordedEvent] = field(default_factory=list)


class Pending(NamedTuple):
    """An event about to be appended, and the message that will store it."""

    aggregate_id: UUID
    message: Outgoing
    event: DomainEvent
    prev: str

    def recorded(self, seq: int, cause: Cause) -> RecordedEvent:
        """The event as a read would return it, without decoding what we just encoded."""
        subject = self.message.subject
        _, kind, aggregate_id, _ = subject.split(".", 3)
        return RecordedEvent(
            seq=seq,
            subject=subject,
            kind=kind,
            aggregate_id=aggregate_id,
            type=EVENT_NAMES[type(self.event)],
            event=self.event,
            cause=cause,
            prev=self.prev,
            payload=content_of(self.message.payload),
        )


class AlreadyDoneError(Exception):
    """The command's id is already in the aggregate's history: a retry of a command that landed."""

    def __init__(self, tracked: Tracked, first: Cause) -> None:
        super().__init__(first.action)
        self.tracked = tracked
        self.first = first
        """The cause the command's first event recorded."""


class Loaded(NamedTuple):
    history: list[RecordedEvent]
    """The good events; one that fails to decode or authenticate is quarantined (skipped: the
    read models record it), so the aggregate goes on from its last good event."""
    last_seq: int
    """The subject's real last sequence, quarantined events included: what an append expects."""


async def read_aggregate(store: EventStore, kind: str, aggregate_id: UUID) -> Loaded:
    messages = await store.load(aggregate_filter(kind, str(aggregate_id)))
    key = await store.key()
    return Loaded([r for r in map(_good(key), messages) if r is not None], _last_seq(messages))


def _last_seq(messages: list[StoredMessage]) -> int:
    return messages[-1].seq if messages else 0


def _good(key: bytes) -> Callable[[StoredMessage], RecordedEvent | None]:
    def good(m: StoredMessage) -> RecordedEvent | None:
        try:
            return decode(m.seq, m.subject, m.payload, key)
        except UndecodableEventError as exc:
            log.warning("aggregate loader quarantines %s", exc)
            return None

    return good


async def load_history(store: EventStore, kind: str, aggregate_id: UUID) -> list[RecordedEvent]:
    return (await read_aggregate(store, kind, aggregate_id)).history


def fold(history: list[RecordedEvent]) -> Aggregate:
    aggregate: Aggregate | None = None
    for recorded in history:
        aggregate = recorded.event.mutate(aggregate)  # type: ignore[attr-defined]
    assert aggregate is not None
    return aggregate


class HistoryCache:
    """Recent aggregates' histories, so a command on a hot aggregate skips the read.

    Safe because appends name the expected sequence: an entry made stale by another process
    makes the append fail, the entry is dropped, and the command reloads and decides again.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: OrderedDict[UUID, list[RecordedEvent]] = OrderedDict()

    def get(self, aggregate_id: UUID) -> list[RecordedEvent] | None:
        found = self._entries.get(aggregate_id)
        if found is not None:
            self._entries.move_to_end(aggregate_id)
        return found

    def put(self, aggregate_id: UUID, history: list[RecordedEvent]) -> None:
        self._entries[aggregate_id] = history
        self._entries.move_to_end(aggregate_id)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, aggregate_ids: Iterable[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            self._entries.pop(aggregate_id, None)


class UnitOfWork:
    def __init__(
        self,
        store: EventStore,
        cause: Cause,
        cache: HistoryCache | None = None,
        target: UUID | None = None,
    ) -> None:
        self.store = store
        self.cause = cause
        self.target = target
        """The aggregate the command is about; only its history may prove a retry."""
        self.cache = cache or HistoryCache(0)
        self.tracked: dict[UUID, Tracked] = {}
        self.cached: set[UUID] = set()
        """Aggregates whose history came from the cache, not the store."""

    @property
    def changed(self) -> bool:
        return any(t.aggregate.pending_events for t in self.tracked.values())

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        if aggregate_id in self.tracked:
            found = self.tracked[aggregate_id].aggregate
            assert isinstance(found, cls)
            return found
        history = self.cache.get(aggregate_id)
        if history is None:
            history, last_seq = await read_aggregate(self.store, cls.KIND, aggregate_id)
        else:
            self.cached.add(aggregate_id)
            last_seq = history[-1].seq if history else 0
        if not history:
            raise NotFoundError(cls.KIND, str(aggregate_id))
        tracked = Tracked(fold(history), last_seq, history[-1].hash, history)
        self._raise_if_already_done(tracked)
        self.tracked[aggregate_id] = tracked
        assert isinstance(tracked.aggregate, cls)
        return tracked.aggregate

    def add(self, aggregate: Aggregate) -> None:
        self.tracked[aggregate.id] = Tracked(aggregate)

    def _raise_if_already_done(self, tracked: Tracked) -> None:
        """On a retry, rebuild the aggregate as it stood right after the command's last event."""
        mine = [
            i for i, r in enumerate(tracked.history) if r.cause.command_id == self.cause.command_id
        ]
        if not mine:
            return
        first = tracked.history[mine[0]].cause
        if self.target not in (None, tracked.aggregate.id):
            # The target would have held the key too, had this been a retry of this command.
            raise IdempotencyKeyReusedError(self.cause.command_id, first.action, self.cause.action)
        upto = tracked.history[: mine[-1] + 1]
        raise AlreadyDoneError(Tracked(fold(upto), upto[-1].seq, upto[-1].hash, upto), first)

    def outgoing(self, writer_key: bytes) -> list[Pending]:
        """Every recorded event as the message that stores it, hash-chained per aggregate and
        sealed with the writer key."""
        pending: list[Pending] = []
        for aggregate_id, tracked in self.tracked.items():
            kind, key = type(tracked.aggregate).KIND, str(aggregate_id)
            prev = tracked.last_hash
            for n, event in enumerate(tracked.aggregate.collect_events()):
                assert isinstance(event, DomainEvent)
                subject = event_subject(kind, key, event.subject_token())
                content = encode(event, self.cause, prev)
                first = n == 0
                message = Outgoing(
                    subject,
                    seal(subject, content, writer_key),
                    f"{self.cause.command_id}:{key}:{event.originator_version}",
                    tracked.last_seq if first else None,
                    aggregate_filter(kind, key) if first else None,
                )
                pending.append(Pending(aggregate_id, message, event, prev))
                prev = chain_hash(subject, content)
        return pending

    async def commit(self) -> int | None:
        """Append everything recorded; None when the command recorded nothing."""
        pending = self.outgoing(await self.store.key())
        if not pending:
            return None
        try:
            last = await self.store.append([p.message for p in pending])
        except (AppendConflictError, UnavailableError):
            # Stale now, or maybe stale: an unconfirmed append may have landed.
            self.cache.drop(self.tracked)
            raise
        self._remember(pending, last)
        return last

    def _remember(self, pending: list[Pending], last: int) -> None:
        """Cache the histories as they now stand; one write's sequences are contiguous."""
        grown = {aggregate_id: list(t.history) for aggregate_id, t in self.tracked.items()}
        for seq, p in enumerate(pending, start=last - len(pending) + 1):
            grown[p.aggregate_id].append(p.recorded(seq, self.cause))
        for aggregate_id, history in grown.items():
            self.cache.put(aggregate_id, history)
