"""What the holder of a claim reports (start, heartbeat, complete, fail, release) and what
operators and the lease monitor do to a job (cancel, retry a dead letter, take it back); each
change tells JetStream what becomes of the job's ticket (`domain.tickets.after_change`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from domain.commands.results import Committed, LeaseState
from domain.identity import system
from domain.job import Job
from domain.job_reports import CompletionReport, FailureReport
from domain.job_status import LEASED, JobStatus
from domain.recorded import Cause
from domain.tickets import after_change
from infra import queue_signals as signals
from infra.queue_core import QueueCore, ack_of
from infra.tokens import Claim
from infra.unit_of_work import UnitOfWork

LEASE_MONITOR = str(system("lease-monitor"))
_Act = Callable[[Job, Claim], None]


class JobReports(QueueCore):
    async def heartbeat(self, job_id: UUID, token: str) -> LeaseState:
        """Extend the lease; the answer says when the job was cancelled meanwhile."""
        claim = self._verify(job_id, token)
        job = (await self.load(UUID(claim.job_id))).aggregate
        if job.status is JobStatus.CANCELLED:
            return LeaseState(job.status, cancelled=True, lease_expires_at=None)
        job.require_lease(claim.agent_id, claim.attempt, claim.ack_subject)
        await self._send(claim.ack_subject, b"+WPI")
        await self.leases.write(str(job.id), claim.agent_id, claim.ack_subject, claim.lease_s)
        expires = self.clock() + timedelta(seconds=claim.lease_s)
        return LeaseState(job.status, cancelled=False, lease_expires_at=expires)

    async def _as_holder(
        self, cause: Cause, job_id: UUID, token: str, act: _Act, ends_attempt: bool = False
    ) -> Committed[Job]:
        claim = self._verify(job_id, token)
        since: list[datetime | None] = []

        async def decide(uow: UnitOfWork, job: Job) -> None:
            job.require_lease(claim.agent_id, claim.attempt, claim.ack_subject)
            since[:] = [signals.claimed_at(uow.tracked[job.id].history)]
            act(job, claim)

        result = await self.commands.update(cause, Job, UUID(claim.job_id), decide)
        if not result.replayed:  # a retry's ticket may be someone else's claim by now
            if ends_attempt:
                signals.attempt_ended(result.aggregate, since[0])
            await self._after_report(result.aggregate, claim.ack_subject)
        return result

    async def _after_report(self, job: Job, ack_subject: str) -> None:
        """Tell JetStream what the event log now says about this ticket."""
        verdict = after_change(job, self.clock())
        if verdict is None:
            return
        if job.status is JobStatus.QUEUED:
            # The old lease goes before the ticket does: the next claim writes a new one.
            await self.leases.end(str(job.id))
            await self._send(ack_subject, ack_of(verdict))
            return
        if job.status is JobStatus.DEAD_LETTERED:
            signals.dead_lettered(job)
        await self._send(ack_subject, ack_of(verdict))
        # No lease follows a finished job, so the answer need not wait for this; if it is lost,
        # the lease's marker finds the job finished and does nothing.
        self._background(self.leases.end(str(job.id)))

    async def start(self, cause: Cause, job_id: UUID, token: str) -> Committed[Job]:
        return await self._as_holder(
            cause, job_id, token, lambda job, claim: job.start(claim.agent_id)
        )

    async def complete(
        self,
        cause: Cause,
        job_id: UUID,
        token: str,
        report: CompletionReport,
    ) -> Committed[Job]:
        def act(job: Job, _: Claim) -> None:
            job.complete(
                report.outcome(),
                report.exit_code,
                report.summary,
                report.log_url,
                report.artifact_urls,
            )

        return await self._as_holder(cause, job_id, token, act, ends_attempt=True)

    async def fail(
        self,
        cause: Cause,
        job_id: UUID,
        token: str,
        report: FailureReport,
    ) -> Committed[Job]:
        def act(job: Job, _: Claim) -> None:
            retry_at = self.clock() + timedelta(
                seconds=self.retry.delay_s(job.attempts, self.rand())
            )
            job.fail(
                report.error, report.failure_class, report.retryable, report.exit_code, retry_at
            )

        return await self._as_holder(cause, job_id, token, act, ends_attempt=True)

    async def release(self, cause: Cause, job_id: UUID, token: str) -> Committed[Job]:
        return await self._as_holder(cause, job_id, token, lambda job, _: job.release())

    # --- operators ------------------------------------------------------------------------

    async def cancel(self, cause: Cause, job_id: UUID, reason: str) -> Committed[Job]:
        async def decide(_: UnitOfWork, job: Job) -> None:
            job.cancel(reason)

        result = await self.commands.update(cause, Job, job_id, decide)
        ticket = result.aggregate.ack_subject
        if ticket is not None:
            await self._after_report(result.aggregate, ticket)
        return result

    async def retry_dead_letter(self, cause: Cause, job_id: UUID, reason: str) -> Committed[Job]:
        async def decide(_: UnitOfWork, job: Job) -> None:
            job.requeue(reason)

        return await self.commands.update(cause, Job, job_id, decide)

    async def expire_if_silent(self, job_id: str, reason: str) -> None:
        """A marker says the lease lapsed; a lease renewed since then wins."""
        if not await self.leases.alive(job_id):
            await self.take_back(job_id, reason)

    async def take_back_all(self, actor: str, agent_id: str, reason: str, *, lost: bool) -> int:
        """Every job the agent holds goes back to the queue: as a lost attempt, or released.
        Returns the sequence of the last event written (0 when it held nothing)."""
        current, _ = self.views.agents.jobs_of(agent_id)
        seqs = [
            await self.take_back(job_id, reason, lost=lost, holder=agent_id, actor=actor)
            for job_id in current
        ]
        return max(seqs, default=0)

    async def take_back(
        self,
        job_id: str,
        reason: str,
        *,
        lost: bool = True,
        holder: str | None = None,
        actor: str = LEASE_MONITOR,
    ) -> int:
        """The lease ran out or the agent went away: the job goes back to the queue."""
        command_id = f"take-back:{job_id}:{self.clock().isoformat()}"
        cause = Cause(actor, command_id, "job.take_back", job_id)
        tickets: list[str] = []

        async def decide(_: UnitOfWork, job: Job) -> None:
            tickets.clear()
            held = job.status in LEASED and holder in (None, job.agent_id)
            if not held or job.ack_subject is None:
                return
            tickets.append(job.ack_subject)
            if lost:
                job.lose_attempt(reason, self.clock())
            else:
                job.release()

        result = await self.commands.update(cause, Job, UUID(job_id), decide)
        if tickets:
            if lost:
                signals.lease_lost(result.aggregate, reason)
            await self._after_report(result.aggregate, tickets[0])
        return result.seq
