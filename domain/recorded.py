"""An event as read back from the log: the domain event plus where and why it was written."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from domain.model import DomainEvent


class Cause(NamedTuple):
    """Who and what caused an event; recorded with every event for the audit trail."""

    actor: str
    command_id: str
    action: str
    correlation_id: str
    request_hash: str = ""
    """SHA-256 of the request that carried the command (empty for commands no client sent,
    and in events written before it was kept): a key reused for another request is refused."""

    def same_request(self, other: Cause) -> bool:
        """Whether a retry carries the request this cause recorded, as far as both can tell."""
        if not (self.request_hash and other.request_hash):
            return True
        return self.request_hash == other.request_hash


GENESIS = "0" * 64
"""What the first event of an aggregate names as the hash before it."""


def chain_hash(subject: str, content: bytes) -> str:
    """An event's link in its aggregate's hash chain: SHA-256 of its subject and its content
    (the stored bytes without the MAC's seal, so a re-sealed log keeps its hashes)."""
    return hashlib.sha256(subject.encode() + b"\n" + content).hexdigest()


class RecordedEvent(NamedTuple):
    """Immutable; a named tuple because replays make one per event and it builds fastest."""

    seq: int
    subject: str
    kind: str
    aggregate_id: str
    type: str
    event: DomainEvent
    cause: Cause
    prev: str
    payload: bytes
    """The content: the stored payload without its seal."""

    @property
    def at(self) -> datetime:
        return self.event.timestamp

    @property
    def hash(self) -> str:
        """Computed when asked: replays that feed read models never need it."""
        return chain_hash(self.subject, self.payload)
