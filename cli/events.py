"""Stored messages read as audit records: the envelope's who and why beside the stream's where
and when. A message that is not a JetDeck event (any client may publish on `ev.>`) stays a
record with no event, so exports keep every sequence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from cli.link import CliError, Stored
from domain.errors import UndecodableEventError
from domain.recorded import RecordedEvent
from infra.codec import decode


class Record(NamedTuple):
    stored: Stored
    event: RecordedEvent | None

    def row(self) -> dict[str, Any]:
        """The audit log's columns."""
        event = self.event
        return {
            "seq": self.stored.seq,
            "time": None if event is None else event.at.isoformat(),
            "actor": None if event is None else event.cause.actor,
            "type": None if event is None else event.type,
            "subject": self.stored.subject,
            "command_id": None if event is None else event.cause.command_id,
            "correlation_id": None if event is None else event.cause.correlation_id,
        }


def record_of(stored: Stored) -> Record:
    try:
        return Record(stored, decode(stored.seq, stored.subject, stored.payload))
    except UndecodableEventError:
        return Record(stored, None)


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"not an ISO time: {text!r}") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
