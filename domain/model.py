"""Aggregates on eventsourcing's domain model, with events as frozen, versioned pydantic models.

eventsourcing 9.5.6 ships no pydantic base classes (its examples define them), so the few lines
it needs live here. An aggregate's stream position (the JetStream sequence) is kept by infra;
eventsourcing's own `version` only counts events, which it checks on every mutation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, NoReturn, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from pydantic import BaseModel, ConfigDict

from domain.errors import InvalidTransitionError

TEvent = TypeVar("TEvent", bound="DomainEvent")


class DomainEvent(BaseModel):
    """A fact. `class_version` grows with the schema; `upcast_vN_vM` statics lift old payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime

    def subject_token(self) -> str:
        """The last part of the event's subject; the queue's events put routing data here."""
        return type(self).__name__.lower()


class Aggregate(BaseAggregate[UUID]):
    """Base of every aggregate; `KIND` names it in subjects and errors (`ev.<KIND>.<id>.…`)."""

    KIND: ClassVar[str]

    def _refuse(self, action: str) -> NoReturn:
        """Refuse a command, naming the aggregate and its current status."""
        raise InvalidTransitionError(self.KIND, str(self.id), getattr(self, "status", "?"), action)

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return uuid4()

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        pass

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str


def upcast(cls: type[DomainEvent], data: dict[str, Any], version: int) -> dict[str, Any]:
    """Lift a stored payload of `version` to the class's current version, one step at a time."""
    while version < cls.class_version:
        step = getattr(cls, f"upcast_v{version}_v{version + 1}")
        data = step(data)
        version += 1
    return data
