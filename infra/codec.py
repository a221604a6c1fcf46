"""Stored form of an event: one JSON envelope, hash-chained to the aggregate's previous event.

Everything an event needs lives in the payload, not in headers: nats-py parses every header of
every message on replay, so headers cost replay speed (research: replay.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from domain.catalog import EVENT_NAMES, EVENT_TYPES
from domain.model import DomainEvent, upcast
from domain.recorded import Cause, RecordedEvent

GENESIS = "0" * 64


class UndecodableEventError(ValueError):
    """A message on the event subjects that is not a JetDeck event."""


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


def chain_hash(subject: str, payload: bytes) -> str:
    return hashlib.sha256(subject.encode() + b"\n" + payload).hexdigest()


def decode(seq: int, subject: str, payload: bytes) -> RecordedEvent:
    try:
        envelope: dict[str, Any] = orjson.loads(payload)
        name = envelope["type"]
        cls = EVENT_TYPES[name]
        event = cls.model_validate(upcast(cls, envelope["data"], envelope["v"]))
        cause = Cause(
            actor=envelope["actor"],
            command_id=envelope["command_id"],
            action=envelope["action"],
            correlation_id=envelope["correlation_id"],
        )
        return RecordedEvent(
            seq=seq,
            subject=subject,
            kind=name.split(".", 1)[0],
            type=name,
            event=event,
            cause=cause,
            hash=chain_hash(subject, payload),
            prev=envelope["prev"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UndecodableEventError(f"event {seq} on {subject}: {exc}") from exc
