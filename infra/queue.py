"""The job queue: enqueue, claim, lease, finish, retry, dead-letter and pause.

A job's ticket is its queued event, which the server copies into QUEUE. A claim takes tickets
from its pool's dispatcher (infra/claims.py: highest priority first, no rescans) and records
`Claimed` with the job's expected sequence, which fences out every other claimer. The lease is a
message on LEASES whose TTL is the job's lease (infra/leases.py), sent with the `Claimed` event;
heartbeats renew it, and when it runs out the server leaves a marker that the lease monitor
turns into a lost attempt. The consumer's ack_wait only backs this up when a process dies
mid-claim. What becomes of a ticket is decided by `domain.tickets`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from nats.aio.msg import Msg

from domain.agent import PREFERENCE
from domain.commands.leases import ClaimJob
from domain.commands.results import ClaimGrant, Committed
from domain.errors import (
    ConcurrencyError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)
from domain.identity import PrincipalKind
from domain.job import Job
from domain.job_status import LEASED, JobStatus
from domain.queue import QueueSpec, eligible
from domain.recorded import Cause, RecordedEvent
from domain.tickets import put_back
from domain.values import GitContext
from infra import queue_signals as signals
from infra.ack_subject import delivered
from infra.queue_core import ack_of, nak
from infra.queue_reports import JobReports
from infra.tickets import refusal, ticket_event
from infra.tokens import Claim
from infra.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class QueueService(JobReports):
    # --- enqueue --------------------------------------------------------------------------

    async def enqueue(
        self,
        cause: Cause,
        job_id: UUID,
        job_type: str,
        git: GitContext,
        metadata: dict[str, str],
        spec: QueueSpec,
    ) -> Committed[Job]:
        """A new job, created straight into the queue: one event."""
        await self._ensure_pool(spec.pool)

        async def create(new_id: UUID) -> Committed[Job]:
            async def make(_: UnitOfWork) -> Job:
                return Job.create(new_id, job_type, git, metadata, spec)

            return await self.commands.create(cause, make)

        if spec.unique_key is None:
            return await create(job_id)
        key = spec.unique_key
        for _ in range(self.settings.append_retries + 1):
            # While a job holds the key, answer with it; racers aim at the same id, so one wins.
            await self.runner.catch_up(self.settings.read_wait_s)
            created = self.views.queue.unique_by_command.get(cause.command_id)
            if created is not None:  # the request that created it, sent again: replay it
                return await create(UUID(created))
            holder, generation = self.views.queue.active_for_key(key)
            if holder is not None:
                return await self.load(UUID(holder))
            try:
                return await create(uuid5(NAMESPACE_URL, f"jetdeck:unique:{key}:{generation}"))
            except ConcurrencyError:
                continue
        raise ConcurrencyError(Job.KIND, f"unique key {key}")

    async def queue_existing(self, cause: Cause, job_id: UUID, spec: QueueSpec) -> Committed[Job]:
        await self._ensure_pool(spec.pool)

        async def decide(_: UnitOfWork, job: Job) -> None:
            job.queue(spec)

        return await self.commands.update(cause, Job, job_id, decide)

    # --- claim ----------------------------------------------------------------------------

    async def claim(
        self, agent_id: str, pool: str, labels: frozenset[str], wait_s: float
    ) -> ClaimGrant | None:
        """The next job this agent may run, waiting up to `wait_s` for one; None if none came."""
        grants = await self.claim_many(agent_id, pool, labels, wait_s, max_jobs=1)
        return grants[0] if grants else None

    async def claim_many(
        self, agent_id: str, pool: str, labels: frozenset[str], wait_s: float, max_jobs: int
    ) -> list[ClaimGrant]:
        """Up to `max_jobs` jobs this agent may run, waiting up to `wait_s` for the first; none
        if none came. More than one only when more were there at once.

        A registered agent claims from its own pool with its registered labels; one that is
        not healthy or degraded gets nothing, and a degraded one lets healthy ones go first.
        """
        agent = self.views.agents.get(agent_id)
        if agent is not None:
            if agent.pool != pool:
                raise ForbiddenError(f"agent {agent_id} belongs to pool {agent.pool}, not {pool}")
            labels = frozenset(agent.labels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if await self._may_claim(agent_id, pool, deadline - loop.time()):
                tickets = await self.dispatchers.of(pool).take(
                    max_jobs, max(deadline - loop.time(), 0.0)
                )
                if not tickets:
                    return []
                grants = await self._offer_all(tickets, agent_id, labels)
                if grants:
                    return grants
                continue  # those were put back: the tickets behind them, even past the wait
            if loop.time() >= deadline:
                return []

    async def _may_claim(self, agent_id: str, pool: str, left_s: float) -> bool:
        """Whether this agent may take work from this pool now; waits a poll interval (or what
        is left) before a degraded agent's claim, or before saying no."""
        poll = min(self.settings.claim_poll_s, max(left_s, 0.0))
        preference = self._preference(agent_id)
        if preference is None or not self._serves(pool):
            await asyncio.sleep(poll)
            return False
        if preference > 0:
            await asyncio.sleep(poll)
        await self._ensure_pool(pool)
        return True

    def _preference(self, agent_id: str) -> int | None:
        """0 for healthy (or unregistered), 1 for degraded, None for an agent that gets no work."""
        agent = self.views.agents.get(agent_id)
        if agent is None:
            return 0
        return PREFERENCE.get(agent.status)

    def _serves(self, pool: str) -> bool:
        """Unknown pools get no consumers made for them; paused ones hand out nothing."""
        known = pool in self._consumers or pool in self.views.queue.pools()
        return known and not self.views.pools.paused(pool)

    async def _offer_all(
        self, tickets: list[Msg], agent_id: str, labels: frozenset[str]
    ) -> list[ClaimGrant]:
        """Every ticket offered at once, so their writes are on the wire together; a failure
        is raised only when no ticket became a claim."""
        offers = [self._offer(ticket, agent_id, labels) for ticket in tickets]
        results = await asyncio.gather(*offers, return_exceptions=True)
        grants = [r for r in results if isinstance(r, ClaimGrant)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and not grants:
            raise failures[0]
        for failure in failures:
            log.warning("a claim of several lost one ticket: %r", failure)
        return grants

    async def _offer(self, msg: Msg, agent_id: str, labels: frozenset[str]) -> ClaimGrant | None:
        """Try to claim the job behind one delivered ticket, or put the ticket where it belongs."""
        ticket = ticket_event(msg, await self.commands.store.key())
        if isinstance(ticket, str):
            log.warning("queue terminates ticket %s: %s", msg.subject, ticket)
            await self._send(msg.reply, refusal(msg, ticket, self.rejected))
            return None
        job_id = UUID(ticket.aggregate_id)
        self._assume_current(job_id, ticket, msg)
        claim_id = f"claim:{msg.reply}"
        cause = Cause(f"{PrincipalKind.AGENT}:{agent_id}", claim_id, ClaimJob.ACTION, claim_id)
        lease: list[Callable[[], Awaitable[None]]] = []
        due: list[datetime] = []

        async def decide(_: UnitOfWork, job: Job) -> None:
            lease.clear()
            spec = job.spec
            if spec is None or job.status is not JobStatus.QUEUED or not job.due(self.clock()):
                return
            if eligible(spec.labels, labels):
                lease.append(await self.leases.send(str(job.id), agent_id, msg.reply, spec.lease_s))
                due[:] = [signals.due_since(job)]
                job.claim(agent_id, msg.reply)

        try:
            result = await self.commands.update(cause, Job, job_id, decide)
        except NotFoundError:  # a clean read said so: the ticket belongs to nothing
            await self._send(msg.reply, b"+TERM no such job")
            return None
        except ConcurrencyError:  # others keep changing it: let it come round again
            await self._send(msg.reply, nak(0))
            return None
        except UnavailableError:
            await self._send(msg.reply, nak(1.0))
            raise
        job = result.aggregate
        if job.status is JobStatus.CLAIMED and job.ack_subject == msg.reply:
            if lease:
                await self._leased(job, lease[0])
            if due:  # else a retried append found the claim made
                signals.claimed(job, due[0])
            return self._grant(result)
        await self._put_back(msg, job)
        return None

    def _assume_current(self, job_id: UUID, ticket: RecordedEvent, msg: Msg) -> None:
        """A job's first ticket, delivered for the first time, is most likely its whole history:
        the claim decides on it without reading the log. The append names the ticket's sequence,
        so if the job changed since, it conflicts and the claim reads the log after all."""
        first = ticket.event.originator_version == 1
        if first and ticket.seq and delivered(msg) == 1 and self.commands.cache.get(job_id) is None:
            self.commands.cache.put(job_id, [ticket])

    async def _leased(self, job: Job, stored: Callable[[], Awaitable[None]]) -> None:
        """The lease went out with `Claimed`; if it was not stored, the claim is released at
        once (no attempt spent: the agent never had it) rather than left with no lease that
        can run out."""
        try:
            await stored()
        except UnavailableError:
            reason = "its lease could not be written"
            await self.take_back(str(job.id), reason, lost=False, holder=job.agent_id)
            raise

    async def _put_back(self, msg: Msg, job: Job) -> None:
        alive = job.status in LEASED and await self.leases.alive(str(job.id))
        if job.status in LEASED and not alive:
            # Redelivered by the ack_wait backstop while leased, and the lease is gone.
            await self.take_back(str(job.id), "lease lost")
        await self._send(msg.reply, ack_of(put_back(job, self.clock(), alive)))

    def _grant(self, result: Committed[Job]) -> ClaimGrant:
        job = result.aggregate
        spec = job.queue_spec
        assert job.agent_id is not None
        assert job.ack_subject is not None
        claim = Claim(
            job_id=str(job.id),
            attempt=job.attempts,
            agent_id=job.agent_id,
            ack_subject=job.ack_subject,
            lease_s=spec.lease_s,
        )
        return ClaimGrant(
            job=job,
            seq=result.seq,
            token=self.signer.sign(claim),
            lease_expires_at=self.clock() + timedelta(seconds=spec.lease_s),
            heartbeat_every_s=min(spec.lease_s, self.settings.queue_ack_wait_s) / 3,
        )
