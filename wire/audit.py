"""The audit trail of one aggregate, and the events held in quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class AuditEvent(BaseModel):
    seq: int
    time: datetime
    type: str
    subject: str
    actor: str
    command_id: str
    action: str
    correlation_id: str
    prev: str
    hash: str
    data: dict[str, Any]


class AuditTrail(BaseModel):
    aggregate: str
    id: UUID
    chain_valid: bool
    """Every event names the hash of the one before it, from the first on."""
    events: list[AuditEvent]


class QuarantinedEvent(BaseModel):
    seq: int
    subject: str
    reason: str


class QuarantineList(BaseModel):
    count: int
    """All quarantined since the first event; `events` holds the last ones (up to `kept`)."""
    last_seq: int
    kept: int
    events: list[QuarantinedEvent]
