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
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.agent import PREFERENCE
from domain.commands.leases import ClaimJob
from domain.commands.results import ClaimGrant, Committed, LeaseState
from domain.errors import (
    ConcurrencyError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)
from domain.identity import PrincipalKind, system
from domain.job import LEASED, CompletionReport, FailureReport, Job, JobStatus
from domain.queue import PRIORITY_ORDER, QueueSpec, RetryPolicy, eligible
from domain.recorded import Cause, RecordedEvent
from domain.tickets import Settle, Verdict, after_change, put_back
from domain.values import GitContext
from infra import queue_signals as signals
from infra.claims import Dispatchers
from infra.commands import CommandRunner
from infra.layout import QUEUE, queue_consumer
from infra.leases import Leases
from infra.nats_errors import unavailable_on_failure
from infra.projection_runner import ProjectionRunner
from infra.quarantine import Quarantine
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.tickets import refusal, ticket_event
from infra.tokens import Claim, Signer
from infra.unit_of_work import UnitOfWork, fold, load_history

log = logging.getLogger(__name__)
LEASE_MONITOR = str(system("lease-monitor"))
_Act = Callable[[Job, Claim], None]


def now() -> datetime:
    return datetime.now(UTC)


MAX_NAK_DELAY_S = 86400.0
"""The longest delay a nak asks for. nats-server redelivers at now + delay in int64 nanoseconds
since 1970, which overflows for delays of about 236 years and beyond (it then redelivers at once,
or cannot parse the delay at all): a ticket due later comes back once a day and is put back with
what remains."""


def nak(delay_s: float) -> bytes:
    delay_ns = int(min(max(delay_s, 0.0), MAX_NAK_DELAY_S) * 1e9)
    return b"-NAK " + orjson.dumps({"delay": delay_ns})


def ack_of(verdict: Verdict) -> bytes:
    """A ticket's verdict as the JetStream ack that carries it out."""
    if verdict.settle is Settle.ACK:
        return b"+ACK"
    if verdict.settle is Settle.TERM:
        return b"+TERM " + verdict.reason.encode()
    return nak(verdict.delay_s)


def delivered(msg: Msg) -> int:
    """How many times the consumer has delivered this ticket, from its ack subject
    (`$JS.ACK.<stream>.<consumer>.<delivered>.…`); 0 when it does not say."""
    tokens = msg.reply.split(".") if msg.reply else []
    return int(tokens[4]) if len(tokens) == 9 and tokens[4].isdigit() else 0


class QueueService:
    def __init__(
        self,
        nc: Client,
        commands: CommandRunner,
        runner: ProjectionRunner,
        views: ReadModels,
        signer: Signer,
        settings: Settings,
        clock: Callable[[], datetime] = now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """`clock` and `rand` (the backoff's jitter) are injected so tests can fix them."""
        self.nc = nc
        self.js = nc.jetstream()
        self.commands = commands
        self.runner = runner
        self.views = views
        self.signer = signer
        self.settings = settings
        self.clock = clock
        self.rand = rand
        self.retry = RetryPolicy(
            base_s=settings.retry_base_s, cap_s=settings.retry_cap_s, jitter=settings.retry_jitter
        )
        self.leases = Leases(nc, commands.store.replies, settings.write_timeout_s)
        self.dispatchers = Dispatchers(nc, settings.claim_poll_s, settings.write_timeout_s)
        self._consumers: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.rejected = Quarantine()
        """Tickets terminated for not being JetDeck job tickets (QUEUE sequences)."""

    async def open(self) -> None:
        await self.dispatchers.open()

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dispatchers.close()

    async def _ensure_pool(self, pool: str) -> None:
        if pool in self._consumers:
            return
        known = self.views.queue.pools() | set(self.views.pools.pools) | self._consumers
        if pool not in known and len(known) >= self.settings.max_pools:
            raise ValidationError(
                f"pool {pool!r} would be pool number {len(known) + 1}; "
                f"JETDECK_MAX_POOLS allows {self.settings.max_pools}"
            )
        with unavailable_on_failure(f"declaring the consumers of pool {pool}"):
            for priority in PRIORITY_ORDER:
                config = queue_consumer(pool, priority, self.settings.queue_ack_wait_s)
                await self.js.add_consumer(QUEUE, config)
        self._consumers.add(pool)

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

    async def load(self, job_id: UUID) -> Committed[Job]:
        history = await load_history(self.commands.store, Job.KIND, job_id)
        if not history:
            raise NotFoundError(Job.KIND, str(job_id))
        job = fold(history)
        assert isinstance(job, Job)
        return Committed(job, history[-1].seq, replayed=True)

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

    async def _send(self, ack_subject: str | None, ack: bytes) -> None:
        if ack_subject:
            await self.nc.publish(ack_subject, ack)

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

    # --- the agent reports ----------------------------------------------------------------

    def claim_of(self, job_id: UUID, token: str) -> Claim:
        return self._verify(job_id, token)

    def _verify(self, job_id: UUID, token: str) -> Claim:
        claim = self.signer.verify(token, Claim)
        if claim.job_id != str(job_id):
            raise ForbiddenError(f"the claim token is for job {claim.job_id}, not {job_id}")
        return claim

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

    def _background(self, work: Coroutine[None, None, None]) -> None:
        async def best_effort() -> None:
            try:
                await work
            except UnavailableError as exc:
                log.warning("background queue work failed: %s", exc)

        task = asyncio.create_task(best_effort())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
