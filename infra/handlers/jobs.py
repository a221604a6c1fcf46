"""Jobs reported from outside the queue, enqueued, cancelled and retried."""

from __future__ import annotations

from domain.commands.base import CommandContext
from domain.commands.jobs import (
    CancelJob,
    CreateJob,
    EnqueueJob,
    QueueJob,
    ReportJobEnd,
    ReportJobStart,
    RetryDeadLetter,
)
from domain.commands.results import Committed
from domain.job import Job
from infra.services import Services
from infra.unit_of_work import UnitOfWork


async def create_job(
    services: Services, command: CreateJob, context: CommandContext
) -> Committed[Job]:
    async def make(_: UnitOfWork) -> Job:
        job_id = context.new_id(command.action)
        return Job.create(job_id, command.job_type, command.git, command.metadata)

    return await services.commands.create(context.cause(command.action), make)


async def report_job_start(
    services: Services, command: ReportJobStart, context: CommandContext
) -> Committed[Job]:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.require_outside_queue("start")
        job.start(command.agent_id)

    cause = context.cause(command.action)
    return await services.commands.update(cause, Job, command.job_id, decide)


async def report_job_end(
    services: Services, command: ReportJobEnd, context: CommandContext
) -> Committed[Job]:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.require_outside_queue("complete")
        job.complete(
            command.status,
            command.exit_code,
            command.summary,
            command.log_url,
            command.artifact_urls,
        )

    cause = context.cause(command.action)
    return await services.commands.update(cause, Job, command.job_id, decide)


async def enqueue_job(
    services: Services, command: EnqueueJob, context: CommandContext
) -> Committed[Job]:
    return await services.queue.enqueue(
        context.cause(command.action),
        context.new_id(command.action),
        command.job_type,
        command.git,
        command.metadata,
        command.spec,
    )


async def queue_job(
    services: Services, command: QueueJob, context: CommandContext
) -> Committed[Job]:
    cause = context.cause(command.action)
    return await services.queue.queue_existing(cause, command.job_id, command.spec)


async def cancel_job(
    services: Services, command: CancelJob, context: CommandContext
) -> Committed[Job]:
    cause = context.cause(command.action)
    return await services.queue.cancel(cause, command.job_id, command.reason)


async def retry_dead_letter(
    services: Services, command: RetryDeadLetter, context: CommandContext
) -> Committed[Job]:
    cause = context.cause(command.action)
    return await services.queue.retry_dead_letter(cause, command.job_id, command.reason)
