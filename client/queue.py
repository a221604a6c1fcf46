"""The job queue: enqueue, claim, the lease holder's calls, operators' calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import httpx

from client._http import Call
from client._ops import Op
from client.models import Written, body, model, written
from client.reporting import git_fields
from domain.job_reports import CompletionReport, FailureReport
from domain.queue import QueueSpec
from domain.values import GitContext
from wire.batch import BatchEnqueued, BatchEnqueueRequest
from wire.logs import LogWrite, LogWritten
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

QUEUE = "/api/queue"
CLAIM_SLACK_S = 30.0
"""A claim may hold its request for `wait_s`; its answer gets this long beyond that."""
ENQUEUED = written(model(Enqueued))
JOB_ANSWER = written(model(JobAnswer))
POOL_STATE = written(model(PoolState))
BATCH_ENQUEUED = written(model(BatchEnqueued))


def _spec(spec: QueueSpec | None) -> dict[str, Any]:
    return {} if spec is None else spec.model_dump(exclude_unset=True)


def enqueue(
    job_type: str,
    git: GitContext,
    spec: QueueSpec | None = None,
    metadata: Mapping[str, str] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[Enqueued]]:
    """A new job, queued; the answer's `existing` says a unique key found an earlier one."""
    request = EnqueueRequest(
        job_type=job_type, **git_fields(git), metadata=dict(metadata or {}), **_spec(spec)
    )
    path = f"{QUEUE}/jobs"
    return Call("POST", path, ENQUEUED, body(request), idempotency_key=idempotency_key)


def queue_existing(
    job_id: UUID | str, spec: QueueSpec | None = None, *, idempotency_key: str | None = None
) -> Call[Written[Enqueued]]:
    """A pending job reported earlier, queued for agents."""
    request = EnqueueRequest(job_id=job_id, **_spec(spec))
    path = f"{QUEUE}/jobs"
    return Call("POST", path, ENQUEUED, body(request), idempotency_key=idempotency_key)


def enqueue_batch(
    jobs: Iterable[EnqueueRequest], *, idempotency_key: str | None = None
) -> Call[Written[BatchEnqueued]]:
    """Many jobs in one request, each answered on its own in the answer's `jobs` (status 201,
    or the problem's status, `error` and `detail`): a refused job refuses only itself. A retry
    sends the same batch with the same key, so each job lands once."""
    request = BatchEnqueueRequest(jobs=list(jobs))
    path = f"{QUEUE}/jobs:batch"
    return Call("POST", path, BATCH_ENQUEUED, body(request), idempotency_key=idempotency_key)


def _claimed(response: httpx.Response) -> ClaimAnswer | None:
    if response.status_code == httpx.codes.NO_CONTENT:
        return None
    return ClaimAnswer.model_validate_json(response.content)


def claim(
    agent_id: str, pool: str = "default", labels: Iterable[str] = (), wait_s: float = 5.0
) -> Call[ClaimAnswer | None]:
    """Work for an agent (its token), or None when none came within `wait_s`."""
    request = ClaimRequest(agent_id=agent_id, pool=pool, labels=frozenset(labels), wait_s=wait_s)
    path = f"{QUEUE}/claim"
    timeout_s = wait_s + CLAIM_SLACK_S
    return Call("POST", path, _claimed, body(request), timeout_s=timeout_s, repeatable=False)


def claim_jobs(
    agent_id: str,
    max_jobs: int,
    pool: str = "default",
    labels: Iterable[str] = (),
    wait_s: float = 5.0,
) -> Call[ClaimsAnswer]:
    """Up to `max_jobs` jobs for an agent with that many free slots, in one call: waits up to
    `wait_s` for the first; `claims` is empty when none came."""
    request = ClaimsRequest(
        agent_id=agent_id, pool=pool, labels=frozenset(labels), wait_s=wait_s, max_jobs=max_jobs
    )
    path = f"{QUEUE}/claims"
    timeout_s = wait_s + CLAIM_SLACK_S
    return Call("POST", path, _claims, body(request), timeout_s=timeout_s, repeatable=False)


def _claims(response: httpx.Response) -> ClaimsAnswer:
    return ClaimsAnswer.model_validate_json(response.content)


def _lease_call(
    action: str, job_id: UUID | str, request: LeaseCall, key: str | None
) -> Call[Written[JobAnswer]]:
    path = f"{QUEUE}/jobs/{job_id}/{action}"
    return Call("POST", path, JOB_ANSWER, body(request), idempotency_key=key)


def start_claimed(
    job_id: UUID | str, claim_token: str, *, idempotency_key: str | None = None
) -> Call[Written[JobAnswer]]:
    return _lease_call("start", job_id, LeaseCall(claim_token=claim_token), idempotency_key)


def lease_heartbeat(job_id: UUID | str, claim_token: str) -> Call[LeaseHeartbeatAnswer]:
    """Renews the lease; the answer's `cancelled` tells the agent to stop."""
    request = LeaseCall(claim_token=claim_token)
    path = f"{QUEUE}/jobs/{job_id}/heartbeat"
    return Call("POST", path, model(LeaseHeartbeatAnswer), body(request))


def write_logs(
    job_id: UUID | str,
    claim_token: str,
    chunks: Iterable[Mapping[str, str]],
    offset: int | None = None,
) -> Call[LogWritten]:
    """Appends `{stream, text}` chunks to the job's log; `offset`, the index of the first among
    all this claim sent, makes a resent batch stored once."""
    request = LogWrite.model_validate(
        {"claim_token": claim_token, "chunks": [dict(c) for c in chunks], "offset": offset}
    )
    return Call("POST", f"{QUEUE}/jobs/{job_id}/logs", model(LogWritten), body(request))


def complete_claimed(
    job_id: UUID | str,
    claim_token: str,
    report: CompletionReport,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[JobAnswer]]:
    request = CompleteRequest(claim_token=claim_token, **report.model_dump(exclude_unset=True))
    return _lease_call("complete", job_id, request, idempotency_key)


def fail_claimed(
    job_id: UUID | str,
    claim_token: str,
    report: FailureReport,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[JobAnswer]]:
    request = FailRequest(claim_token=claim_token, **report.model_dump(exclude_unset=True))
    return _lease_call("fail", job_id, request, idempotency_key)


def release(
    job_id: UUID | str, claim_token: str, *, idempotency_key: str | None = None
) -> Call[Written[JobAnswer]]:
    """Gives the job back without spending its attempt."""
    return _lease_call("release", job_id, LeaseCall(claim_token=claim_token), idempotency_key)


def cancel(job_id: UUID | str, reason: str = "") -> Call[Written[JobAnswer]]:
    request = ReasonBody(reason=reason)
    return Call("POST", f"{QUEUE}/jobs/{job_id}/cancel", JOB_ANSWER, body(request))


def retry_dead_letter(job_id: UUID | str, reason: str = "") -> Call[Written[JobAnswer]]:
    path = f"{QUEUE}/dead-letters/{job_id}/retry"
    return Call("POST", path, JOB_ANSWER, body(ReasonBody(reason=reason)))


def pause_pool(pool: str, reason: str = "") -> Call[Written[PoolState]]:
    path = f"{QUEUE}/pools/{pool}/pause"
    return Call("POST", path, POOL_STATE, body(ReasonBody(reason=reason)))


def resume_pool(pool: str) -> Call[Written[PoolState]]:
    return Call("POST", f"{QUEUE}/pools/{pool}/resume", POOL_STATE)


class Queueing:
    enqueue = Op(enqueue)
    queue_existing = Op(queue_existing)
    enqueue_batch = Op(enqueue_batch)
    claim = Op(claim)
    claim_jobs = Op(claim_jobs)
    start_claimed = Op(start_claimed)
    lease_heartbeat = Op(lease_heartbeat)
    write_logs = Op(write_logs)
    complete_claimed = Op(complete_claimed)
    fail_claimed = Op(fail_claimed)
    release = Op(release)
    cancel = Op(cancel)
    retry_dead_letter = Op(retry_dead_letter)
    pause_pool = Op(pause_pool)
    resume_pool = Op(resume_pool)
