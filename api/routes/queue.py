"""The job queue over HTTP: enqueue, claim, lease calls, stats, dead letters, pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, model_validator

from api.auth import PROTECTED, AgentCaller, Operating, Reading
from api.commands import Command, LeaseHolder
from api.deps import SEQ_HEADER, Reader, ServicesDep, committed
from api.schemas import Body, Cursor, GitFields, Limit, Page
from domain.job import CompletionReport, FailureReport, Job, JobStatus
from domain.queue import Label, PoolName, QueueSpec, RetryRule
from domain.values import Metadata, Name, Text
from infra.commands import Committed
from infra.queue import ClaimGrant
from projections.queue import DeadLetter, LevelStats

router = APIRouter(prefix="/api/queue", tags=["queue"], responses=PROTECTED)


NEW_JOB_FIELDS = frozenset(
    {"job_type", "git_repo", "git_ref", "git_commit_sha", "git_commit_message", "git_author"}
) | {"metadata"}


class EnqueueRequest(QueueSpec):
    """A new job (the dashboard's job fields), or `job_id` of a pending one, plus queue fields."""

    job_id: UUID | None = None
    job_type: Name | None = None
    git_repo: Name | None = None
    git_ref: Name | None = None
    git_commit_sha: str | None = None
    git_commit_message: Text = ""
    git_author: Annotated[str, Field(max_length=320)] = ""
    metadata: Metadata = {}

    @model_validator(mode="after")
    def _new_job_or_pending_one(self) -> EnqueueRequest:
        if self.job_id is None:
            self.git_fields()
            if self.job_type is None:
                raise ValueError("job_type is required unless job_id names a pending job")
            return self
        given = self.model_fields_set & NEW_JOB_FIELDS
        if given:
            raise ValueError(f"job_id names an existing job; drop {', '.join(sorted(given))}")
        if self.unique_key is not None:
            raise ValueError("unique_key applies to new jobs only")
        return self

    def git_fields(self) -> GitFields:
        return GitFields.model_validate(
            {
                "git_repo": self.git_repo,
                "git_ref": self.git_ref,
                "git_commit_sha": self.git_commit_sha,
                "git_commit_message": self.git_commit_message,
                "git_author": self.git_author,
            }
        )

    def spec(self) -> QueueSpec:
        return QueueSpec.model_validate(self.model_dump(include=set(QueueSpec.model_fields)))

    def check_horizon(self, horizon_s: int) -> None:
        """A 422 for a `run_at` beyond the horizon (a setting, so checked here, not in the
        schema): a far-off one is almost surely a mistake, and past 2262 nats-server cannot even
        hold the ticket's delay (docs/architecture.md, Queue)."""
        if self.run_at is None:
            return
        latest = datetime.now(UTC) + timedelta(seconds=horizon_s)
        if self.run_at > latest:
            msg = f"run_at may be at most {horizon_s} s ahead, until {latest.isoformat()}"
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "run_at"), "msg": msg}]
            )


class Enqueued(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int
    existing: bool = Field(description="True when a retry or a unique key found an earlier job.")


class ClaimRequest(Body):
    agent_id: Name
    pool: PoolName = "default"
    labels: Annotated[frozenset[Label], Field(max_length=64)] = frozenset()
    wait_s: Annotated[float, Field(ge=0, le=30)] = 5.0


class ClaimedJob(BaseModel):
    job_id: UUID
    job_type: str
    command: str
    timeout_s: int
    attempt: int
    pool: str
    priority: str
    labels: list[str]
    git: dict[str, str]
    metadata: dict[str, str]
    retry: RetryRule | None = Field(
        default=None,
        description="Report an exit code this rule covers with `fail` (retryable), any other "
        "with `complete`.",
    )


class ClaimAnswer(BaseModel):
    job: ClaimedJob
    claim_token: str
    lease_expires_at: datetime
    heartbeat_every_s: float
    seq: int


class LeaseCall(Body):
    claim_token: Annotated[str, Field(min_length=1, max_length=4096)]


class CompleteRequest(LeaseCall, CompletionReport):
    pass


class FailRequest(LeaseCall, FailureReport):
    pass


class ReasonBody(Body):
    reason: Text = ""


class LeaseHeartbeatAnswer(BaseModel):
    status: JobStatus
    cancelled: bool
    lease_expires_at: datetime | None


class JobAnswer(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int


def answer(response: Response, result: Committed[Job]) -> JobAnswer:
    committed(response, result)
    return JobAnswer(job_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


def claim_answer(grant: ClaimGrant) -> ClaimAnswer:
    job = grant.job
    spec = job.queue_spec
    return ClaimAnswer(
        job=ClaimedJob(
            job_id=job.id,
            job_type=job.job_type,
            command=spec.command,
            timeout_s=spec.timeout_s,
            attempt=job.attempts,
            pool=spec.pool,
            priority=spec.priority.value,
            labels=sorted(spec.labels),
            git=job.git.model_dump(),
            metadata=job.metadata,
            retry=spec.retry,
        ),
        claim_token=grant.token,
        lease_expires_at=grant.lease_expires_at,
        heartbeat_every_s=grant.heartbeat_every_s,
        seq=grant.seq,
    )


@router.post("/jobs", status_code=status.HTTP_201_CREATED, dependencies=[Operating])
async def enqueue(
    body: EnqueueRequest, services: ServicesDep, command: Command, response: Response
) -> Enqueued:
    body.check_horizon(services.settings.run_at_horizon_s)
    queue = services.queue
    if body.job_id is not None:
        result = await queue.queue_existing(command.cause("job.queue"), body.job_id, body.spec())
    else:
        assert body.job_type is not None
        result = await queue.enqueue(
            command.cause("job.enqueue"),
            command.new_id("job.enqueue"),
            body.job_type,
            body.git_fields().git(),
            body.metadata,
            body.spec(),
        )
    committed(response, result)
    job = result.aggregate
    return Enqueued(job_id=job.id, status=job.status, seq=result.seq, existing=result.replayed)


@router.post(
    "/claim",
    response_model=ClaimAnswer,
    responses={204: {"description": "No work came within wait_s."}},
)
async def claim(
    body: ClaimRequest, services: ServicesDep, agent: AgentCaller, response: Response
) -> ClaimAnswer | Response:
    """Not idempotent: each call asks for new work. A claim whose answer was lost costs its
    attempt when the lease runs out, and the job goes to the next claim."""
    agent.require_agent(body.agent_id)
    grant = await services.queue.claim(body.agent_id, body.pool, body.labels, body.wait_s)
    if grant is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    response.headers[SEQ_HEADER] = str(grant.seq)
    return claim_answer(grant)


@router.post("/jobs/{job_id}/start")
async def start(job_id: UUID, body: LeaseCall, agent: LeaseHolder, response: Response) -> JobAnswer:
    cause = agent.on_lease(job_id, body.claim_token, "job.start")
    return answer(response, await agent.services.queue.start(cause, job_id, body.claim_token))


@router.post("/jobs/{job_id}/heartbeat")
async def heartbeat(job_id: UUID, body: LeaseCall, agent: LeaseHolder) -> LeaseHeartbeatAnswer:
    agent.on_lease(job_id, body.claim_token, "job.heartbeat")
    state = await agent.services.queue.heartbeat(job_id, body.claim_token)
    return LeaseHeartbeatAnswer(
        status=state.status, cancelled=state.cancelled, lease_expires_at=state.lease_expires_at
    )


@router.post("/jobs/{job_id}/complete")
async def complete(
    job_id: UUID, body: CompleteRequest, agent: LeaseHolder, response: Response
) -> JobAnswer:
    cause = agent.on_lease(job_id, body.claim_token, "job.complete")
    return answer(
        response, await agent.services.queue.complete(cause, job_id, body.claim_token, body)
    )


@router.post("/jobs/{job_id}/fail")
async def fail(
    job_id: UUID, body: FailRequest, agent: LeaseHolder, response: Response
) -> JobAnswer:
    cause = agent.on_lease(job_id, body.claim_token, "job.fail")
    return answer(response, await agent.services.queue.fail(cause, job_id, body.claim_token, body))


@router.post("/jobs/{job_id}/release")
async def release(
    job_id: UUID, body: LeaseCall, agent: LeaseHolder, response: Response
) -> JobAnswer:
    cause = agent.on_lease(job_id, body.claim_token, "job.release")
    return answer(response, await agent.services.queue.release(cause, job_id, body.claim_token))


@router.post("/jobs/{job_id}/cancel", dependencies=[Operating])
async def cancel(
    job_id: UUID,
    services: ServicesDep,
    command: Command,
    response: Response,
    body: ReasonBody | None = None,
) -> JobAnswer:
    reason = (body or ReasonBody()).reason or "cancelled"
    return answer(
        response, await services.queue.cancel(command.cause("job.cancel"), job_id, reason)
    )


@router.get("/stats", dependencies=[Reading])
async def stats(services: Reader, limit: Limit = 50, cursor: Cursor = None) -> Page[LevelStats]:
    """One row per pool and priority, by pool name."""
    return Page.window(services.views.queue.stats(datetime.now(UTC)), limit, cursor)


@router.get("/dead-letters", dependencies=[Reading])
async def dead_letters(
    services: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeadLetter]:
    return Page.window(services.views.queue.dead_letters(), limit, cursor)


@router.post("/dead-letters/{job_id}/retry", dependencies=[Operating])
async def retry_dead_letter(
    job_id: UUID,
    services: ServicesDep,
    command: Command,
    response: Response,
    body: ReasonBody | None = None,
) -> JobAnswer:
    reason = (body or ReasonBody()).reason or "retried by an operator"
    cause = command.cause("job.retry")
    return answer(response, await services.queue.retry_dead_letter(cause, job_id, reason))


class PoolState(BaseModel):
    pool: str
    paused: bool
    seq: int


@router.post("/pools/{pool}/pause", dependencies=[Operating])
async def pause(
    pool: PoolName,
    services: ServicesDep,
    command: Command,
    response: Response,
    body: ReasonBody | None = None,
) -> PoolState:
    reason = (body or ReasonBody()).reason
    result = await services.pools.set_paused(command.cause("pool.pause"), pool, True, reason)
    committed(response, result)
    # Claims read the pause from the read models: once this answers, no claim here misses it.
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
    return PoolState(pool=pool, paused=True, seq=result.seq)


@router.post("/pools/{pool}/resume", dependencies=[Operating])
async def resume(
    pool: PoolName, services: ServicesDep, command: Command, response: Response
) -> PoolState:
    result = await services.pools.set_paused(command.cause("pool.resume"), pool, False)
    committed(response, result)
    return PoolState(pool=pool, paused=False, seq=result.seq)
