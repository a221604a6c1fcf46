"""The audit trail of one aggregate, straight from the event log, with its hash chain checked."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.auth import PROTECTED, Caller, Reading
from api.deps import ServicesDep
from domain.access import RoleSet, ServiceToken
from domain.catalog import AGGREGATES
from domain.errors import NotFoundError
from domain.identity import Permission
from domain.trust import TrustPolicy
from infra.audit import verify_chain
from infra.quarantine import KEPT
from infra.unit_of_work import load_history
from wire.audit import AuditEvent, AuditTrail, QuarantinedEvent, QuarantineList

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


ADMIN_KINDS = frozenset({RoleSet.KIND, ServiceToken.KIND, TrustPolicy.KIND})
"""Who holds which role, which tokens exist and what a trust policy admits: admins' business."""
HIDDEN = {"sha256"}
"""Even a hash of a secret stays out of answers."""


@router.get("/{aggregate}/{aggregate_id}")
async def audit_trail(
    aggregate: str, aggregate_id: UUID, services: ServicesDep, caller: Caller
) -> AuditTrail:
    """The access aggregates (`role`, `token`, `trust`) need the admin permission."""
    if aggregate not in AGGREGATES:
        raise NotFoundError("aggregate kind", aggregate)
    if aggregate in ADMIN_KINDS:
        caller.require(Permission.ADMIN)
    history = await load_history(services.store, aggregate, aggregate_id)
    if not history:
        raise NotFoundError(aggregate, str(aggregate_id))
    events = [
        AuditEvent(
            seq=r.seq,
            time=r.at,
            type=r.type,
            subject=r.subject,
            actor=r.cause.actor,
            command_id=r.cause.command_id,
            action=r.cause.action,
            correlation_id=r.cause.correlation_id,
            prev=r.prev,
            hash=r.hash,
            data=r.event.model_dump(mode="json", exclude=HIDDEN),
        )
        for r in history
    ]
    return AuditTrail(
        aggregate=aggregate, id=aggregate_id, chain_valid=verify_chain(history), events=events
    )
