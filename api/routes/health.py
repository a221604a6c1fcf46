"""Liveness and readiness: NATS, the event stream and how far behind the read models are."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import ServicesDep
from domain.errors import UnavailableError
from infra.quarantine import Quarantine

router = APIRouter(prefix="/api", tags=["health"])


class StreamHealth(BaseModel):
    messages: int
    last_seq: int
    bytes: int


class Health(BaseModel):
    status: str
    nats_connected: bool
    stream: StreamHealth | None
    projection_seq: int
    projection_lag: int | None
    skipped_events: int
    read_model_faults: int
    quarantined_events: int
    """Messages on `ev.>` that failed to decode or authenticate: `GET /api/audit/quarantine`."""
    last_quarantined_seq: int
    rejected_tickets: int
    """QUEUE tickets terminated for not being JetDeck job tickets."""
    alarms: list[str]


@router.get(
    "/health",
    responses={503: {"model": Health, "description": "Degraded: NATS or the stream is down."}},
)
async def health(services: ServicesDep, response: Response) -> Health:
    stream: StreamHealth | None = None
    try:
        state = await services.stream_state()
        stream = StreamHealth(messages=state.messages, last_seq=state.last_seq, bytes=state.bytes)
    except UnavailableError:
        stream = None
    ok = services.connected and stream is not None
    if not ok:
        response.status_code = 503
    position = services.runner.position
    quarantine, rejected = services.runner.quarantine, services.queue.rejected
    return Health(
        status="ok" if ok else "degraded",
        nats_connected=services.connected,
        stream=stream,
        projection_seq=position,
        projection_lag=stream.last_seq - position if stream else None,
        skipped_events=services.runner.skipped,
        read_model_faults=services.runner.faults,
        quarantined_events=quarantine.count,
        last_quarantined_seq=quarantine.last_seq,
        rejected_tickets=rejected.count,
        alarms=alarms(quarantine, rejected),
    )


def alarms(quarantine: Quarantine, rejected: Quarantine) -> list[str]:
    """Forgery or foreign writers on the log: the service still answers, an operator must look."""
    found: list[str] = []
    if quarantine.count:
        found.append(
            f"{quarantine.count} events quarantined (failed to decode or authenticate), "
            f"last at seq {quarantine.last_seq}"
        )
    if rejected.count:
        found.append(
            f"{rejected.count} queue tickets terminated as foreign, last at QUEUE seq "
            f"{rejected.last_seq}"
        )
    return found
