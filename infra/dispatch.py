"""The one table: each command class and its handler. `handle` runs a command through it, for
the HTTP routes and the NATS gateway alike.

To add a command: its class in `domain/commands/` (a frozen dataclass naming its `ACTION` and the
answer it promises), its handler in `infra/handlers/`, and one row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from domain.commands import access, batch, deployments, fleet, jobs, leases
from domain.commands.base import Command, CommandContext
from infra.handlers import access as access_handlers
from infra.handlers import batch as batch_handlers
from infra.handlers import deployments as deployment_handlers
from infra.handlers import fleet as fleet_handlers
from infra.handlers import jobs as job_handlers
from infra.handlers import leases as lease_handlers
from infra.logging_setup import command_scope
from infra.services import Services

R = TypeVar("R")
Handler = Callable[[Services, Any, CommandContext], Awaitable[Any]]


async def handle(services: Services, command: Command[R], context: CommandContext) -> R:
    """Run `command`, sent in `context`; its handler's answer, or one of our errors. Lines
    logged meanwhile name the command."""
    with command_scope(context):
        result: R = await HANDLERS[type(command)](services, command, context)
    return result


HANDLERS: dict[type[Command[Any]], Handler] = {
    jobs.CreateJob: job_handlers.create_job,
    jobs.ReportJobStart: job_handlers.report_job_start,
    jobs.ReportJobEnd: job_handlers.report_job_end,
    jobs.EnqueueJob: job_handlers.enqueue_job,
    jobs.QueueJob: job_handlers.queue_job,
    jobs.CancelJob: job_handlers.cancel_job,
    jobs.RetryDeadLetter: job_handlers.retry_dead_letter,
    batch.EnqueueBatch: partial(batch_handlers.enqueue_batch, run=handle),
    leases.ClaimJob: lease_handlers.claim_job,
    leases.ClaimJobs: lease_handlers.claim_jobs,
    leases.StartJob: lease_handlers.start_job,
    leases.RenewLease: lease_handlers.renew_lease,
    leases.CompleteJob: lease_handlers.complete_job,
    leases.FailJob: lease_handlers.fail_job,
    leases.ReleaseJob: lease_handlers.release_job,
    leases.AppendLogs: lease_handlers.append_logs,
    fleet.RegisterAgent: fleet_handlers.register_agent,
    fleet.HeartbeatAgent: fleet_handlers.heartbeat_agent,
    fleet.DeregisterAgent: fleet_handlers.deregister_agent,
    fleet.DrainAgent: fleet_handlers.drain_agent,
    fleet.ResumeAgent: fleet_handlers.resume_agent,
    fleet.CreatePool: fleet_handlers.create_pool,
    fleet.PausePool: fleet_handlers.pause_pool,
    fleet.ResumePool: fleet_handlers.resume_pool,
    deployments.CreateDeployment: deployment_handlers.create_deployment,
    deployments.AdvanceDeployment: deployment_handlers.report_stage,
    deployments.PromoteDeployment: deployment_handlers.report_stage,
    deployments.RollBackDeployment: deployment_handlers.roll_back,
    access.IssueToken: access_handlers.issue_token,
    access.RevokeToken: access_handlers.revoke_token,
    access.GrantRole: access_handlers.grant_role,
    access.RevokeRole: access_handlers.revoke_role,
    access.CreateTrustPolicy: access_handlers.create_trust_policy,
    access.ChangeTrustPolicy: access_handlers.change_trust_policy,
    access.DeleteTrustPolicy: access_handlers.delete_trust_policy,
}
