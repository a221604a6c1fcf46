"""An event as read back from the log: the domain event plus where and why it was written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.model import DomainEvent


@dataclass(frozen=True, slots=True)
class Cause:
    """Who and what caused an event; recorded with every event for the audit trail."""

    actor: str
    command_id: str
    action: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    seq: int
    subject: str
    kind: str
    type: str
    event: DomainEvent
    cause: Cause
    hash: str
    prev: str

    @property
    def at(self) -> datetime:
        return self.event.timestamp

    @property
    def aggregate_id(self) -> str:
        return str(self.event.originator_id)
