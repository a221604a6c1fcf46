"""Load aggregates, let the domain decide, append what they recorded in one atomic write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from domain.errors import NotFoundError
from domain.model import Aggregate
from domain.recorded import Cause, RecordedEvent
from infra.codec import GENESIS, chain_hash, decode, encode
from infra.event_store import EventStore, Outgoing
from infra.layout import aggregate_filter, event_subject

A = TypeVar("A", bound=Aggregate)


@dataclass
class Tracked:
    """An aggregate with the position and hash of its last stored event."""

    aggregate: Aggregate
    last_seq: int = 0
    last_hash: str = GENESIS
    history: list[RecordedEvent] = field(default_factory=list)


class AlreadyDoneError(Exception):
    """The command's id is already in the aggregate's history: a retry of a command that landed."""

    def __init__(self, tracked: Tracked, first_action: str) -> None:
        super().__init__(first_action)
        self.tracked = tracked
        self.first_action = first_action


async def load_history(store: EventStore, kind: str, aggregate_id: UUID) -> list[RecordedEvent]:
    messages = await store.load(aggregate_filter(kind, str(aggregate_id)))
    return [decode(m.seq, m.subject, m.payload) for m in messages]


def fold(history: list[RecordedEvent]) -> Aggregate:
    aggregate: Aggregate | None = None
    for recorded in history:
        aggregate = recorded.event.mutate(aggregate)  # type: ignore[attr-defined]
    assert aggregate is not None
    return aggregate


class UnitOfWork:
    def __init__(self, store: EventStore, cause: Cause) -> None:
        self.store = store
        self.cause = cause
        self.tracked: dict[UUID, Tracked] = {}

    async def get(self, cls: type[A], aggregate_id: UUID) -> A:
        if aggregate_id in self.tracked:
            found = self.tracked[aggregate_id].aggregate
            assert isinstance(found, cls)
            return found
        history = await load_history(self.store, cls.KIND, aggregate_id)
        if not history:
            raise NotFoundError(cls.KIND, str(aggregate_id))
        tracked = Tracked(fold(history), history[-1].seq, history[-1].hash, history)
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
        upto = tracked.history[: mine[-1] + 1]
        first_action = tracked.history[mine[0]].cause.action
        raise AlreadyDoneError(Tracked(fold(upto), upto[-1].seq, upto[-1].hash, upto), first_action)

    def outgoing(self) -> list[Outgoing]:
        messages: list[Outgoing] = []
        for tracked in self.tracked.values():
            kind = type(tracked.aggregate).KIND
            aggregate_id = str(tracked.aggregate.id)
            prev = tracked.last_hash
            for n, event in enumerate(tracked.aggregate.collect_events()):
                subject = event_subject(kind, aggregate_id, event.subject_token())  # type: ignore[attr-defined]
                payload = encode(event, self.cause, prev)  # type: ignore[arg-type]
                first = n == 0
                messages.append(
                    Outgoing(
                        subject=subject,
                        payload=payload,
                        msg_id=f"{self.cause.command_id}:{aggregate_id}:{event.originator_version}",
                        expect_seq=tracked.last_seq if first else None,
                        expect_filter=aggregate_filter(kind, aggregate_id) if first else None,
                    )
                )
                prev = chain_hash(subject, payload)
        return messages

    async def commit(self) -> int | None:
        """Append everything recorded; None when the command recorded nothing."""
        messages = self.outgoing()
        if not messages:
            return None
        return await self.store.append(messages)
