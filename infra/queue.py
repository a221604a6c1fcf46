"""The job queue: enqueue, claim, lease, finish, retry, dead-letter and pause.

A job's ticket is its queued event, which the server copies into QUEUE. A claim pulls tickets
highest priority first and records `Claimed` with the job's expected sequence, which fences out
every other claimer. The lease is a message on LEASES whose TTL is the job's lease; heartbeats
renew it, and when it runs out the server leaves a marker that the lease monitor turns into a
lost attempt. The consumer's ack_wait only backs this up when a process dies mid-claim.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError as JsNotFoundError

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
from domain.job import (
    FINISHED,
    LEASED,
    CompletionReport,
    FailureReport,
    Job,
    JobStatus,
)
from domain.queue import PRIORITY_ORDER, QueueSpec, RetryPolicy, eligible
from domain.recorded import Cause
from domain.values import GitContext
from infra import queue_signals as signals
from infra.commands import CommandRunner
from infra.layout import LEASES, QUEUE, QUEUED_EVENTS, consumer_name, queue_consumer
from infra.nats_errors import unavailable_on_failure
from infra.projection_runner import ProjectionRunner
from infra.puller import pull_one
from infra.quarantine import Quarantine
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.tickets import reject_if_foreign
from infra.tokens import Claim, Signer
from infra.unit_of_work import UnitOfWork, fold, load_history

log = logging.getLogger(__name__)
SETTLE_S = (0.002, 0.01, 0.03)
"""After a wake-up, look again at these intervals: the wake-up is the queued event on EVENTS, and
its copy in QUEUE lands a millisecond later when idle, tens of milliseconds under load."""
MARKER = "Nats-Marker-Reason"
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


class QueueService:
    def __init__(
        self,
        nc: Client,
        commands: CommandRunner,
        runner: ProjectionRunner,
        views: ReadModels,
        signer: Signer,
        settings: Settings,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.commands = commands
        self.runner = runner
        self.views = views
        self.signer = signer
        self.settings = settings
        self.retry = RetryPolicy(
            base_s=settings.retry_base_s, cap_s=settings.retry_cap_s, jitter=settings.retry_jitter
        )
        self._consumers: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrivals: dict[str, asyncio.Event] = {}
        self._wake_sub: Subscription | None = None
        self.rejected = Quarantine()
        """Tickets terminated for not being JetDeck job tickets (QUEUE sequences)."""

    async def open(self) -> None:
        self._wake_sub = await self.nc.subscribe(QUEUED_EVENTS, cb=self._on_queued)

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._wake_sub is not None:
            await self._wake_sub.unsubscribe()

    async def _on_queued(self, msg: Msg) -> None:
        """Wake every claim waiting on the pool; later waits get a fresh event."""
        pool = msg.subject.split(".")[4]
        woken = self._arrivals.pop(pool, None)
        if woken is not None:
            woken.set()

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

    def _arrival(self, pool: str) -> asyncio.Event:
        """The event the next job queued to `pool` sets; taken before a scan, so a job queued
        while the scan runs still wakes the wait after it."""
        return self._arrivals.setdefault(pool, asyncio.Event())

    @staticmethod
    async def _wait_for(arrival: asyncio.Event, timeout_s: float) -> bool:
        """True when a job was queued meanwhile, False when the wait ran out."""
        try:
            await asyncio.wait_for(arrival.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

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
        """The next job this agent may run, waiting up to `wait_s` for one; None if none came.

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
        pauses: tuple[float, ...] = (0.0,)
        while True:
            arrival = self._arrival(pool)
            for pause in pauses:
                await asyncio.sleep(pause)
                grant = await self._try_claim(agent_id, pool, labels)
                if grant is not None:
                    return grant
            left = deadline - loop.time()
            if left <= 0:
                return None
            woken = await self._wait_for(arrival, min(left, self.settings.claim_poll_s))
            pauses = SETTLE_S if woken else (0.0,)

    async def _try_claim(
        self, agent_id: str, pool: str, labels: frozenset[str]
    ) -> ClaimGrant | None:
        preference = self._preference(agent_id)
        if preference is None or not self._serves(pool):
            return None
        if preference > 0:
            await asyncio.sleep(self.settings.claim_poll_s)
        await self._ensure_pool(pool)
        return await self._scan(agent_id, pool, labels)

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

    async def _scan(self, agent_id: str, pool: str, labels: frozenset[str]) -> ClaimGrant | None:
        for priority in PRIORITY_ORDER:
            while (msg := await pull_one(self.nc, consumer_name(pool, priority))) is not None:
                grant = await self._offer(msg, agent_id, labels)
                if grant is not None:
                    return grant
        return None

    async def _offer(self, msg: Msg, agent_id: str, labels: frozenset[str]) -> ClaimGrant | None:
        """Try to claim the job behind one delivered ticket, or put the ticket where it belongs."""
        term = reject_if_foreign(msg, await self.commands.store.key(), self.rejected)
        if term is not None:
            log.warning("queue terminates ticket %s: %s", msg.subject, term.decode())
            await self._settle(msg.reply, term)
            return None
        job_id = UUID(msg.subject.rsplit(".", 1)[-1])
        claim_id = f"claim:{msg.reply}"
        cause = Cause(f"{PrincipalKind.AGENT}:{agent_id}", claim_id, ClaimJob.ACTION, claim_id)
        due: list[datetime] = []

        async def decide(_: UnitOfWork, job: Job) -> None:
            spec = job.spec
            if spec is None or job.status is not JobStatus.QUEUED or not job.due(now()):
                return
            if eligible(spec.labels, labels):
                await self._write_lease(job, agent_id, msg.reply, spec.lease_s)
                due[:] = [signals.due_since(job)]
                job.claim(agent_id, msg.reply)

        try:
            result = await self.commands.update(cause, Job, job_id, decide)
        except NotFoundError:  # a clean read said so: the ticket belongs to nothing
            await self._settle(msg.reply, b"+TERM no such job")
            return None
        except ConcurrencyError:  # others keep changing it: let it come round again
            await self._settle(msg.reply, nak(0))
            return None
        except UnavailableError:
            await self._settle(msg.reply, nak(1.0))
            raise
        job = result.aggregate
        if job.status is JobStatus.CLAIMED and job.ack_subject == msg.reply:
            if due:  # else a retried append found the claim made
                signals.claimed(job, due[0])
            return self._grant(result)
        await self._put_back(msg, job)
        return None

    async def _put_back(self, msg: Msg, job: Job) -> None:
        if job.status in FINISHED or job.status is JobStatus.PENDING:
            await self._settle(msg.reply, b"+ACK")
        elif job.status is JobStatus.DEAD_LETTERED:
            await self._settle(msg.reply, b"+TERM dead lettered")
        elif job.status in LEASED:
            # Redelivered by the ack_wait backstop while leased: the lease decides who is right.
            alive = await self._lease_alive(str(job.id))
            if not alive:
                await self.take_back(str(job.id), "lease lost")
            await self._settle(msg.reply, nak(job.queue_spec.lease_s if alive else 0))
        elif not job.due(now()) and job.not_before is not None:
            await self._settle(msg.reply, nak((job.not_before - now()).total_seconds()))
        else:  # queued and due, but this agent lacks a label: let others see it
            await self._settle(msg.reply, nak(1.0))

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
            lease_expires_at=now() + timedelta(seconds=spec.lease_s),
            heartbeat_every_s=min(spec.lease_s, self.settings.queue_ack_wait_s) / 3,
        )

    # --- the lease ------------------------------------------------------------------------

    async def _write_lease(self, job: Job, agent_id: str, ack_subject: str, lease_s: int) -> None:
        """Written before `Claimed`, so every claimed job has a lease that can run out."""
        body = orjson.dumps({"agent_id": agent_id, "ack_subject": ack_subject})
        with unavailable_on_failure(f"writing the lease of job {job.id}"):
            await self.js.publish(f"lease.{job.id}", body, headers={"Nats-TTL": f"{lease_s}s"})

    async def _lease_alive(self, job_id: str) -> bool:
        with unavailable_on_failure(f"reading the lease of job {job_id}"):
            try:
                last = await self.js.get_last_msg(LEASES, f"lease.{job_id}")
            except JsNotFoundError:
                return False
        return MARKER not in (last.headers or {})

    async def _end_lease(self, job_id: str) -> None:
        with unavailable_on_failure(f"ending the lease of job {job_id}"):
            await self.js.purge_stream(LEASES, subject=f"lease.{job_id}")

    async def _settle(self, ack_subject: str | None, verdict: bytes) -> None:
        if ack_subject:
            await self.nc.publish(ack_subject, verdict)

    async def heartbeat(self, job_id: UUID, token: str) -> LeaseState:
        """Extend the lease; the answer says when the job was cancelled meanwhile."""
        claim = self._verify(job_id, token)
        job = (await self.load(UUID(claim.job_id))).aggregate
        if job.status is JobStatus.CANCELLED:
            return LeaseState(job.status, cancelled=True, lease_expires_at=None)
        job.require_lease(claim.agent_id, claim.attempt, claim.ack_subject)
        await self._settle(claim.ack_subject, b"+WPI")
        await self._write_lease(job, claim.agent_id, claim.ack_subject, claim.lease_s)
        expires = now() + timedelta(seconds=claim.lease_s)
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
        if job.status in LEASED:
            return
        if job.status is JobStatus.QUEUED:
            # The old lease goes before the ticket does: the next claim writes a new one.
            await self._end_lease(str(job.id))
            wait = (job.not_before - now()).total_seconds() if job.not_before else 0.0
            await self._settle(ack_subject, nak(wait))
            return
        if job.status is JobStatus.DEAD_LETTERED:
            signals.dead_lettered(job)
        verdict = b"+TERM dead lettered" if job.status is JobStatus.DEAD_LETTERED else b"+ACK"
        await self._settle(ack_subject, verdict)
        # No lease follows a finished job, so the answer need not wait for this; if it is lost,
        # the lease's marker finds the job finished and does nothing.
        self._background(self._end_lease(str(job.id)))

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
            retry_at = now() + timedelta(seconds=self.retry.delay_s(job.attempts, random.random()))
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
        if not await self._lease_alive(job_id):
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
        command_id = f"take-back:{job_id}:{now().isoformat()}"
        cause = Cause(actor, command_id, "job.take_back", job_id)
        tickets: list[str] = []

        async def decide(_: UnitOfWork, job: Job) -> None:
            tickets.clear()
            held = job.status in LEASED and holder in (None, job.agent_id)
            if not held or job.ack_subject is None:
                return
            tickets.append(job.ack_subject)
            if lost:
                job.lose_attempt(reason, now())
            else:
                job.release()

        result = await self.commands.update(cause, Job, UUID(job_id), decide)
        if tickets:
            if lost:
                signals.lease_lost(result.aggregate, reason)
            await self._after_report(result.aggregate, tickets[0])
        return result.seq
