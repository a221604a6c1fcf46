"""An agent's work: a claim, and the calls only the holder of a claim may make."""

from __future__ import annotations

from typing import Any

from domain.commands.base import CommandContext
from domain.commands.leases import (
    AppendLogs,
    ClaimJob,
    ClaimJobs,
    CompleteJob,
    FailJob,
    OnLease,
    ReleaseJob,
    RenewLease,
    StartJob,
)
from domain.commands.results import ClaimGrant, Committed, LeaseState
from domain.job import Job
from infra.logs import NewChunk, verify_writer, writer_key
from infra.services import Services


async def claim_job(
    services: Services, command: ClaimJob, context: CommandContext
) -> ClaimGrant | None:
    context.principal.require_agent(command.agent_id)
    queue = services.queue
    return await queue.claim(command.agent_id, command.pool, command.labels, command.wait_s)


async def claim_jobs(
    services: Services, command: ClaimJobs, context: CommandContext
) -> list[ClaimGrant]:
    context.principal.require_agent(command.agent_id)
    return await services.queue.claim_many(
        command.agent_id, command.pool, command.labels, command.wait_s, command.max_jobs
    )


def _held(services: Services, command: OnLease[Any], context: CommandContext) -> None:
    """Only the holder of the claim may act on it; the events name that agent as their actor."""
    claim = services.queue.claim_of(command.job_id, command.claim_token)
    context.principal.require_agent(claim.agent_id)


async def start_job(
    services: Services, command: StartJob, context: CommandContext
) -> Committed[Job]:
    _held(services, command, context)
    cause = context.cause(command.action)
    return await services.queue.start(cause, command.job_id, command.claim_token)


async def renew_lease(
    services: Services, command: RenewLease, context: CommandContext
) -> LeaseState:
    _held(services, command, context)
    return await services.queue.heartbeat(command.job_id, command.claim_token)


async def complete_job(
    services: Services, command: CompleteJob, context: CommandContext
) -> Committed[Job]:
    _held(services, command, context)
    cause = context.cause(command.action)
    return await services.queue.complete(cause, command.job_id, command.claim_token, command.report)


async def fail_job(services: Services, command: FailJob, context: CommandContext) -> Committed[Job]:
    _held(services, command, context)
    cause = context.cause(command.action)
    return await services.queue.fail(cause, command.job_id, command.claim_token, command.report)


async def release_job(
    services: Services, command: ReleaseJob, context: CommandContext
) -> Committed[Job]:
    _held(services, command, context)
    cause = context.cause(command.action)
    return await services.queue.release(cause, command.job_id, command.claim_token)


async def append_logs(
    services: Services, command: AppendLogs, context: CommandContext
) -> list[int]:
    """Only the attempt holding the lease now may write: 409 once it lost it."""
    _held(services, command, context)
    claim = await verify_writer(services.queue, command.job_id, command.claim_token)
    chunks = [NewChunk(c.stream, c.text) for c in command.chunks]
    return await services.logs.append(
        str(command.job_id), claim.attempt, chunks, command.offset, writer_key(claim)
    )
