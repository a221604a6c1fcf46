"""Stored form of an event: one JSON envelope, hash-chained to the aggregate's previous event.

Everything an event needs lives in the payload, not in headers: nats-py parses every header of
every message on replay, so headers cost replay speed (research: replay.md).
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.catalog import EVENT_NAMES, EVENT_TYPES
from domain.errors import UndecodableEventError
from domain.model import DomainEvent, upcast
from domain.recorded import Cause, RecordedEvent


def encode(event: DomainEvent, cause: Cause, prev: str) -> bytes:
    return orjson.dumps(
        {
            "type": EVENT_NAMES[type(event)],
            "v": type(event).class_version,
            "actor": cause.actor,
            "command_id": cause.command_id,
            "action": cause.action,
            "correlation_id": cause.correlation_id,
            "prev": prev,
            "data": event.model_dump(mode="json"),
        }
    )


def decode(seq: int, subject: str, payload: bytes) -> RecordedEvent:
    try:
        envelope: dict[str, Any] = orjson.loads(payload)
        name = envelope["type"]
        cls = EVENT_TYPES[name]
        event = cls.model_validate(upcast(cls, envelope["data"], envelope["v"]))
        cause = Cause(
            envelope["actor"],
            envelope["command_id"],
            envelope["action"],
            envelope["correlation_id"],
        )
        _, kind, aggregate_id, _ = subject.split(".", 3)
        if not name.startswith(kind + "."):
            raise ValueError(f"a {name} event on a {kind} subject")
        # Positional: replays build one per event, and keywords cost a third more here.
        return RecordedEvent(
            seq, subject, kind, aggregate_id, name, event, cause, envelope["prev"], payload
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UndecodableEventError(f"event {seq} on {subject}: {exc}") from exc
