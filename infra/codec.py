"""Stored form of an event: one JSON envelope, hash-chained to the aggregate's previous event
and sealed with a MAC.

Everything an event needs lives in the payload, not in headers: nats-py parses every header of
every message on replay, so headers cost replay speed (research: replay.md).

Stored payload = the content (the envelope's JSON object) with its closing brace replaced by the
fixed-length seal `,"mac":"<64 hex>"}`. The MAC is HMAC-SHA256(writer key, subject "\n"
content) and the chain hash is SHA-256(subject "\n" content): the hash leaves the MAC out, so a
log re-sealed under another writer key keeps every event hash and checkpoint root.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from domain.catalog import EVENT_NAMES, EVENT_TYPES
from domain.errors import ForgedEventError, UndecodableEventError
from domain.model import DomainEvent, upcast
from domain.recorded import Cause, RecordedEvent
from infra.macs import hmac_sha256

SEAL_HEAD = b',"mac":"'
SEAL_LENGTH = len(SEAL_HEAD) + 64 + 2
"""`,"mac":"` + 64 hex digits + `"}`: what sealing adds in place of the closing brace."""


def mac(subject: str, content: bytes, key: bytes) -> str:
    return hmac_sha256(key, subject.encode() + b"\n" + content).hex()


def sealed(payload: bytes) -> bool:
    return payload[-SEAL_LENGTH : 8 - SEAL_LENGTH] == SEAL_HEAD and payload[-2:] == b'"}'


def seal(subject: str, content: bytes, key: bytes) -> bytes:
    """The stored payload: the content with the MAC as its last member."""
    if content[-1:] != b"}":
        raise ValueError("only a JSON object can be sealed")
    return content[:-1] + SEAL_HEAD + mac(subject, content, key).encode() + b'"}'


def content_of(payload: bytes) -> bytes:
    """What the chain hash and the MAC cover: the payload without its seal, if it has one."""
    return payload[:-SEAL_LENGTH] + b"}" if sealed(payload) else payload


def authentic(subject: str, payload: bytes, key: bytes) -> bool:
    """The payload is sealed, and its MAC is the writer key's over this subject and content."""
    return sealed(payload) and _mac_holds(subject, payload, payload[:-SEAL_LENGTH] + b"}", key)


def _mac_holds(subject: str, payload: bytes, content: bytes, key: bytes) -> bool:
    """For a sealed payload and its content; the hex digests are compared as bytes, so the
    stored one is neither decoded nor copied to a str."""
    expected = hmac_sha256(key, subject.encode() + b"\n" + content).hex()
    return hmac.compare_digest(expected.encode(), payload[-66:-2])


def encode(event: DomainEvent, cause: Cause, prev: str) -> bytes:
    """The content, not yet sealed (`seal` adds the MAC once the subject is known). A cause with
    no request hash leaves the member out, so older events re-encode byte for byte."""
    envelope = {
        "type": EVENT_NAMES[type(event)],
        "v": type(event).class_version,
        "actor": cause.actor,
        "command_id": cause.command_id,
        "action": cause.action,
        "correlation_id": cause.correlation_id,
        "prev": prev,
        "data": event.model_dump(mode="json"),
    }
    if cause.request_hash:
        envelope["request_hash"] = cause.request_hash
    return orjson.dumps(envelope)


class _Reader(NamedTuple):
    cls: type[DomainEvent]
    validate: Callable[[Any], DomainEvent]
    """The class's pydantic validator itself: `model_validate` wraps the same call, a third
    dearer on replay."""
    version: int
    kind: str


def _reader(name: str) -> _Reader:
    """KeyError for a name the catalog does not hold."""
    cls = EVENT_TYPES[name]
    return _Reader(
        cls, cls.__pydantic_validator__.validate_python, cls.class_version, name.split(".")[0]
    )


_READERS = {name: _reader(name) for name in EVENT_TYPES}
"""What decoding an event of each name needs, looked up once per event rather than piece by
piece on the class (a replay decodes every event). A name the catalog gained since is read from
it each time."""


_make = tuple.__new__


def decode(seq: int, subject: str, payload: bytes, key: bytes | None = None) -> RecordedEvent:
    """The event as recorded; with `key`, only if its MAC holds (ForgedEventError otherwise).

    Without a key nothing is authenticated: for tests and tools that hold no writer key."""
    # Unsealed once here: replays decode every event, and the MAC and the record share it.
    is_sealed = sealed(payload)
    content = payload[:-SEAL_LENGTH] + b"}" if is_sealed else payload
    if key is not None and not (is_sealed and _mac_holds(subject, payload, content, key)):
        raise ForgedEventError(f"event {seq} on {subject}: its MAC does not hold")
    try:
        envelope: dict[str, Any] = orjson.loads(payload)
        name = envelope["type"]
        cls, validate, version, of_kind = _READERS.get(name) or _reader(name)
        data, stored_version = envelope["data"], envelope["v"]
        event: DomainEvent = validate(
            data if stored_version == version else upcast(cls, data, stored_version)
        )
        # Both tuples made by `tuple.__new__` itself: a named tuple's own `__new__` is a Python
        # function, and replays build two per event (a tenth of a decode).
        cause = _make(
            Cause,
            (
                envelope["actor"],
                envelope["command_id"],
                envelope["action"],
                envelope["correlation_id"],
                envelope.get("request_hash", ""),
            ),
        )
        _, kind, aggregate_id, _ = subject.split(".", 3)
        if kind != of_kind:
            raise ValueError(f"a {name} event on a {kind} subject")
        return _make(
            RecordedEvent,
            (seq, subject, kind, aggregate_id, name, event, cause, envelope["prev"], content),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UndecodableEventError(f"event {seq} on {subject}: {exc}") from exc
