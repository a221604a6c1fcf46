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
    missing_workers: list[str]
    """Expected workers not heard from lately (`JETDECK_EXPECTED_WORKERS`)."""
    alarms: list[str]


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    reasons: list[str]
    """Why not, one line each; empty when ready."""


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
        missing_workers=services.workers.missing(),
        alarms=alarms(quarantine, rejected) + dead(services.workers.missing()),
    )


@router.get("/health/live")
async def live() -> Liveness:
    """Kubernetes liveness: this process answers. Nothing outside it is asked, so a NATS outage
    does not get every API process restarted."""
    return Liveness(status="alive")


@router.get(
    "/health/ready",
    responses={503: {"model": Readiness, "description": "Not ready: the reasons say why."}},
)
async def ready(services: ServicesDep, response: Response) -> Readiness:
    """Kubernetes readiness: NATS reachable, the read models within `JETDECK_READY_MAX_LAG`
    events of the stream, and every expected worker heard from lately."""
    reasons: list[str] = []
    try:
        last = (await services.stream_state()).last_seq
        lag = last - services.runner.position
        if lag > services.settings.ready_max_lag:
            reasons.append(f"read models are {lag} events behind the stream")
    except UnavailableError as exc:
        reasons.append(f"NATS unreachable: {exc}")
    reasons += dead(services.workers.missing())
    if reasons:
        response.status_code = 503
    return Readiness(ready=not reasons, reasons=reasons)


def dead(missing: list[str]) -> list[str]:
    return [f"worker {name} not heard from" for name in missing]


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
