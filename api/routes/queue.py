"""The job queue over HTTP: enqueue, claim, lease calls, why a job waits, stats, dead letters,
pause."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Response, status
from fastapi.exceptions import RequestValidationError

from api import reads
from api.auth import PROTECTED, Operating, Reading
from api.commands import AgentCall, AgentContext, Context
from api.deps import SEQ_HEADER, Reader, ServicesDep, committed
from api.schemas import Cursor, Limit
from domain.commands.fleet import PausePool, ResumePool
from domain.commands.jobs import CancelJob, RetryDeadLetter
from domain.commands.leases import ReleaseJob, RenewLease, StartJob
from domain.commands.results import Committed
from domain.job import Job
from domain.queue import PoolName
from infra.dispatch import handle
from projections.queue import DeadLetter, LevelStats
from wire.batch import enqueued, late_run_at
from wire.common import Page
from wire.queue import (
    ClaimAnswer,
    ClaimRequest,
    ClaimsAnswer,
    ClaimsRequest,
    CompleteRequest,
    Enqueued,
    EnqueueRequest,
    FailRequest,
    JobAnswer,
    LeaseCall,
    LeaseHeartbeatAnswer,
    PoolState,
    ReasonBody,
)
from wire.waiting import WhyWaiting

router = APIRouter(prefix="/api/queue", tags=["queue"], responses=PROTECTED)


def answer(response: Response, result: Committed[Job]) -> JobAnswer:
    committed(response, result)
    return JobAnswer(job_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


def check_horizon(body: EnqueueRequest, horizon_s: int) -> None:
    """A 422 for a `run_at` beyond the horizon."""
    if (msg := late_run_at(body, horizon_s)) is not None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "run_at"), "msg": msg}]
        )


@router.post(
    "/jobs",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Operating],
    responses={404: {"description": "`job_id` names no job."}},
)
async def enqueue(
    body: EnqueueRequest, services: ServicesDep, context: Context, response: Response
) -> Enqueued:
    check_horizon(body, services.settings.run_at_horizon_s)
    result = await handle(services, body.as_command(), context)
    committed(response, result)
    return enqueued(result)


@router.post(
    "/claim",
    response_model=ClaimAnswer,
    responses={204: {"description": "No work came within wait_s."}},
)
async def claim(
    body: ClaimRequest, services: ServicesDep, context: AgentCall, response: Response
) -> ClaimAnswer | Response:
    """Not idempotent: each call asks for new work. A claim whose answer was lost costs its
    attempt when the lease runs out, and the job goes to the next claim."""
    grant = await handle(services, body.as_command(), context)
    if grant is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    response.headers[SEQ_HEADER] = str(grant.seq)
    return ClaimAnswer.of(grant)


@router.post("/claims")
async def claims(
    body: ClaimsRequest, services: ServicesDep, context: AgentCall, response: Response
) -> ClaimsAnswer:
    """For an agent with several free slots: up to `max_jobs` jobs in one call, waiting up to
    `wait_s` for the first and taking more only if they are there at once. Not idempotent, as
    `/claim`."""
    grants = await handle(services, body.as_command(), context)
    if grants:
        response.headers[SEQ_HEADER] = str(max(grant.seq for grant in grants))
    return ClaimsAnswer.of(grants)


@router.post("/jobs/{job_id}/start")
async def start(
    job_id: UUID, body: LeaseCall, services: ServicesDep, context: AgentContext, response: Response
) -> JobAnswer:
    command = StartJob(job_id, body.claim_token)
    return answer(response, await handle(services, command, context))


@router.post("/jobs/{job_id}/heartbeat")
async def heartbeat(
    job_id: UUID, body: LeaseCall, services: ServicesDep, context: AgentContext
) -> LeaseHeartbeatAnswer:
    state = await handle(services, RenewLease(job_id, body.claim_token), context)
    return LeaseHeartbeatAnswer(
        status=state.status, cancelled=state.cancelled, lease_expires_at=state.lease_expires_at
    )


@router.post("/jobs/{job_id}/complete")
async def complete(
    job_id: UUID,
    body: CompleteRequest,
    services: ServicesDep,
    context: AgentContext,
    response: Response,
) -> JobAnswer:
    return answer(response, await handle(services, body.as_command(job_id), context))


@router.post("/jobs/{job_id}/fail")
async def fail(
    job_id: UUID,
    body: FailRequest,
    services: ServicesDep,
    context: AgentContext,
    response: Response,
) -> JobAnswer:
    return answer(response, await handle(services, body.as_command(job_id), context))


@router.post("/jobs/{job_id}/release")
async def release(
    job_id: UUID, body: LeaseCall, services: ServicesDep, context: AgentContext, response: Response
) -> JobAnswer:
    command = ReleaseJob(job_id, body.claim_token)
    return answer(response, await handle(services, command, context))


@router.post("/jobs/{job_id}/cancel", dependencies=[Operating])
async def cancel(
    job_id: UUID,
    services: ServicesDep,
    context: Context,
    response: Response,
    body: ReasonBody | None = None,
) -> JobAnswer:
    reason = (body or ReasonBody()).reason or "cancelled"
    return answer(response, await handle(services, CancelJob(job_id, reason), context))


@router.get("/jobs/{job_id}/why", dependencies=[Reading])
async def why_waiting(job_id: UUID, services: Reader) -> WhyWaiting:
    """Why the job waits, in one sentence with its facts; a job that is not queued is told as
    not waiting. Times ahead (`run_at`, a backoff) are compared with now, a past state's
    (`as_of`) included."""
    return reads.why(services, job_id)


@router.get("/stats", dependencies=[Reading])
async def stats(services: Reader, limit: Limit = 50, cursor: Cursor = None) -> Page[LevelStats]:
    """One row per pool and priority, by pool name."""
    return Page.window(services.views.queue.stats(datetime.now(UTC)), limit, cursor)


@router.get("/dead-letters", dependencies=[Reading])
async def dead_letters(
    services: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeadLetter]:
    return reads.dead_letters(services, limit, cursor)


@router.post("/dead-letters/{job_id}/retry", dependencies=[Operating])
async def retry_dead_letter(
    job_id: UUID,
    services: ServicesDep,
    context: Context,
    response: Response,
    body: ReasonBody | None = None,
) -> JobAnswer:
    reason = (body or ReasonBody()).reason or "retried by an operator"
    return answer(response, await handle(services, RetryDeadLetter(job_id, reason), context))


@router.post("/pools/{pool}/pause", dependencies=[Operating])
async def pause(
    pool: PoolName,
    services: ServicesDep,
    context: Context,
    response: Response,
    body: ReasonBody | None = None,
) -> PoolState:
    reason = (body or ReasonBody()).reason
    result = await handle(services, PausePool(pool, reason), context)
    committed(response, result)
    return PoolState(pool=pool, paused=True, seq=result.seq)


@router.post("/pools/{pool}/resume", dependencies=[Operating])
async def resume(
    pool: PoolName, services: ServicesDep, context: Context, response: Response
) -> PoolState:
    result = await handle(services, ResumePool(pool), context)
    committed(response, result)
    return PoolState(pool=pool, paused=False, seq=result.seq)
