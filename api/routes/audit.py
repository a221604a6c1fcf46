"""The audit trail of one aggregate, straight from the event log, with its hash chain checked."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api import reads
from api.auth import PROTECTED, Caller, Reading
from api.deps import ServicesDep
from infra.quarantine import KEPT
from wire.audit import AuditTrail, QuarantinedEvent, QuarantineList

router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Reading], responses=PROTECTED)


@router.get("/quarantine")
async def quarantine(services: ServicesDep) -> QuarantineList:
    """Messages on the event subjects that failed to decode or authenticate, which loaders and
    read models skip."""
    found = services.runner.quarantine
    return QuarantineList(
        count=found.count,
        last_seq=found.last_seq,
        kept=KEPT,
        events=[
            QuarantinedEvent(seq=q.seq, subject=q.subject, reason=q.reason) for q in found.entries
        ],
    )


@router.get("/{aggregate}/{aggregate_id}")
async def audit_trail(
    aggregate: str, aggregate_id: UUID, services: ServicesDep, caller: Caller
) -> AuditTrail:
    """The access aggregates (`role`, `token`, `trust`) need the admin permission."""
    trail, _ = await reads.audit_trail(services, aggregate, aggregate_id, caller)
    return trail
